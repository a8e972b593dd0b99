//! Establishment: the whole flow (steps 1-7) to Established / "Request success", and each
//! failure with the Device state it stopped at and its Failure reason.

use std::net::{IpAddr, Ipv4Addr};

use acs_sim::cloud::{CloudEventKind, Faults};
use cpe::cloud::{DriverConfig, Event};
use schemas::tunnel::{ConnectionState, DeviceState, FailureReason, ProcessState};

use super::{Device, Pki, SERIAL, Server, config};

#[tokio::test]
async fn full_flow_over_localhost_reaches_established_request_success_with_the_registered_serial() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    let mut watch = server.watch();
    let mut device = Device::spawn(config(&pki, "localhost", server.port(), &[]));

    device.expect_event(Event::Established).await;
    watch
        .expect("Authenticated", |k| *k == CloudEventKind::Authenticated)
        .await;
    let registered = watch
        .expect("Registered", |k| *k == CloudEventKind::Registered)
        .await;
    assert_eq!(registered.serial, SERIAL);

    let status = device.status().await;
    assert_eq!(status.connection_state, ConnectionState::Established);
    assert_eq!(status.device_state, DeviceState::RequestSuccess);
    assert_eq!(status.process_state, ProcessState::MessageReceived);
    assert_eq!(status.failure_reason, FailureReason::NotAvailable);
    assert_eq!(status.domain, "localhost");
    assert_eq!(status.port, server.port());
    assert_eq!(status.server_address, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(status.connected_at.is_some() && status.duration.is_some());

    let view = server.cloud.device(SERIAL).expect("registered device");
    assert!(view.online, "{view:?}");
    assert_eq!(view.links, ["base"]);
    assert_eq!(view.registrations, 1);
}

/// Spawns `config` and checks that its first attempt fails with `reason` at `state`, and
/// that the tunnel is not established.
async fn assert_fails(config: DriverConfig, reason: FailureReason, state: DeviceState) {
    let mut device = Device::spawn(config);
    let event = device
        .expect(|e| matches!(e, Event::Failed(_) | Event::Established))
        .await;
    assert_eq!(event, Event::Failed(reason));
    // The back-off before the next attempt is far longer than this query takes.
    let status = device.status().await;
    assert_eq!(status.failure_reason, reason);
    assert_eq!(status.device_state, state);
    assert_eq!(status.connection_state, ConnectionState::Unconnected);
    device.client.stop();
}

#[tokio::test]
async fn unknown_serial_fails_processing_cloud_auth_response() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    assert!(server.cloud.remove_device(SERIAL));
    let mut watch = server.watch();
    assert_fails(
        config(&pki, "127.0.0.1", server.port(), &[]),
        FailureReason::ProcessingCloudAuthResponseFailed,
        DeviceState::RequestCloudAuth,
    )
    .await;
    watch
        .expect("AuthRefused", |k| *k == CloudEventKind::AuthRefused)
        .await;
}

#[tokio::test]
async fn wrong_secret_fails_processing_cas_tgt() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    server
        .cloud
        .add_device(SERIAL, "another-secret")
        .expect("new secret");
    assert_fails(
        config(&pki, "127.0.0.1", server.port(), &[]),
        FailureReason::ProcessingCasTgtFailed,
        DeviceState::RequestCasTgt,
    )
    .await;
}

#[tokio::test]
async fn unresolvable_domain_fails_dns_parse() {
    let pki = Pki::new();
    let mut device = Device::spawn(config(&pki, "nonexistent.invalid", 443, &[]));
    let event = device.expect(|e| matches!(e, Event::Failed(_))).await;
    assert_eq!(event, Event::Failed(FailureReason::DnsParseFailed));
    let status = device.status().await;
    assert_eq!(status.device_state, DeviceState::Connecting);
    assert_eq!(status.process_state, ProcessState::DnsNotParsed);
    assert_eq!(status.server_address, None);
}

#[tokio::test]
async fn refused_tcp_port_fails_socket_connection() {
    let pki = Pki::new();
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    assert_fails(
        config(&pki, "127.0.0.1", port, &[]),
        FailureReason::SocketConnectionFailed,
        DeviceState::Connecting,
    )
    .await;
}

#[tokio::test]
async fn certificate_from_an_untrusted_ca_fails_ssl_creation() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    // The device trusts another CA, which did not sign the server's certificate.
    let stranger = Pki::new();
    assert_fails(
        config(&stranger, "127.0.0.1", server.port(), &[]),
        FailureReason::SslCreationFailed,
        DeviceState::Connecting,
    )
    .await;
}

#[tokio::test]
async fn malformed_register_answer_fails_processing_register() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    let faults = Faults {
        malformed_register_answer: true,
        ..Faults::default()
    };
    assert!(server.cloud.set_faults(SERIAL, faults));
    assert_fails(
        config(&pki, "127.0.0.1", server.port(), &[]),
        FailureReason::ProcessingRegisterFailed,
        DeviceState::Register,
    )
    .await;
}
