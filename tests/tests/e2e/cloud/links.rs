//! The established tunnel: how its main link goes down (close frame, reset, `cpe cloud
//! reset`, new settings) and comes back, the sub-links of three services, unbinding, and
//! stopping the driver.

use std::collections::BTreeSet;

use acs_sim::cloud::{CloudEventKind, DEFAULT_SERVICES};
use cpe::cloud::{Event, SendRefused, Stopped};
use schemas::tunnel::{CloudSettings, ConnectionState, DeviceState, DownReason, FailureReason};

use super::{
    Device, KEEPALIVE, PING, Pki, SECRET, SERIAL, Server, Watch, config, established,
    main_link_answers,
};

/// The tunnel went down for `reason` and came back: the driver says so in that order, the
/// cloud saw a second registration, the status keeps `reason` as the last down reason, and
/// the new main link carries frames.
async fn comes_back(server: &Server, watch: &mut Watch, device: &mut Device, reason: DownReason) {
    let events = device.until(|e| *e == Event::Established).await;
    assert_eq!(events, [Event::Down(reason), Event::Established]);
    watch
        .expect("Disconnected", |k| *k == CloudEventKind::Disconnected)
        .await;
    watch
        .expect("Registered", |k| *k == CloudEventKind::Registered)
        .await;
    let status = device.status().await;
    assert_eq!(status.connection_state, ConnectionState::Established);
    assert_eq!(status.last_down.map(|(r, _)| r), Some(reason));
    assert_eq!(
        server.cloud.device(SERIAL).expect("device").registrations,
        2
    );
    main_link_answers(server, device).await;
}

#[tokio::test]
async fn close_frame_from_cloud_is_received_websocket_close_packet_and_the_tunnel_comes_back() {
    let (_pki, server, mut device) = established(&[]).await;
    let mut watch = server.watch();
    assert!(server.cloud.close(SERIAL).await);
    let reason = DownReason::ReceivedWebsocketClosePacketFromCloud;
    comes_back(&server, &mut watch, &mut device, reason).await;
}

#[tokio::test]
async fn tcp_reset_from_cloud_is_cloud_reset_connection_and_the_tunnel_comes_back() {
    let (_pki, server, mut device) = established(&[]).await;
    let mut watch = server.watch();
    assert!(server.cloud.reset(SERIAL).await);
    let reason = DownReason::CloudResetConnection;
    comes_back(&server, &mut watch, &mut device, reason).await;
}

#[tokio::test]
async fn cloud_reset_command_reestablishes_the_tunnel() {
    let (_pki, server, mut device) = established(&[]).await;
    let mut watch = server.watch();
    device.client.reset();
    let reason = DownReason::CloudResetConnection;
    comes_back(&server, &mut watch, &mut device, reason).await;
}

#[tokio::test]
async fn three_services_hold_their_own_sub_links_and_one_killed_leaves_the_others_up() {
    let (_pki, server, mut device) = established(&DEFAULT_SERVICES).await;
    let mut up = BTreeSet::new();
    while up.len() < 3 {
        match device.expect(|e| matches!(e, Event::ServiceUp(_))).await {
            Event::ServiceUp(index) => up.insert(index),
            other => unreachable!("{other:?}"),
        };
    }
    assert_eq!(up, BTreeSet::from([0, 1, 2]));
    let view = server.cloud.device(SERIAL).expect("device");
    assert_eq!(view.links[0], "base");
    let subs: BTreeSet<_> = view.links[1..].iter().map(String::as_str).collect();
    assert_eq!(subs, BTreeSet::from(DEFAULT_SERVICES));

    // Reset the sub-link of the second service (stamgr) alone.
    let mut watch = server.watch();
    assert!(server.cloud.close_service(SERIAL, "stamgr").await);
    let events = device.until(|e| *e == Event::ServiceUp(1)).await;
    assert_eq!(
        events,
        [
            Event::ServiceDown(1, DownReason::CloudResetConnection),
            Event::ServiceUp(1),
        ],
        "only that sub-link went down, and it came back after its back-off"
    );
    watch
        .expect("LinkUp stamgr", |k| {
            *k == CloudEventKind::LinkUp {
                cloud_mod_name: "stamgr".to_owned(),
            }
        })
        .await;
    let cloud_saw: Vec<_> = watch
        .drain()
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                CloudEventKind::LinkDown { .. } | CloudEventKind::Disconnected
            )
        })
        .collect();
    assert!(cloud_saw.is_empty(), "{cloud_saw:?}");

    let status = device.status().await;
    assert_eq!(status.connection_state, ConnectionState::Established);
    assert_eq!(
        status.last_down.map(|(r, _)| r),
        Some(DownReason::DeviceOrProcessRebooted)
    );
    main_link_answers(&server, &mut device).await;
    let view = server.cloud.device(SERIAL).expect("device");
    assert_eq!(view.links.len(), 4, "{view:?}");
    assert_eq!(view.registrations, 1);
}

#[tokio::test]
async fn port_then_domain_change_reconnects_with_configuration_changed_to_the_new_place() {
    let pki = Pki::new();
    let first = Server::start(&pki).await;
    let second = Server::start(&pki).await;
    let mut device = Device::spawn(config(&pki, "127.0.0.1", first.port(), &[]));
    device.expect_event(Event::Established).await;
    let mut first_watch = first.watch();
    let mut second_watch = second.watch();
    let changed = [
        Event::Down(DownReason::ConfigurationChanged),
        Event::Established,
    ];

    // Another port: the second server.
    let settings = CloudSettings::new("127.0.0.1", second.port(), KEEPALIVE, PING).unwrap();
    device.client.reconfigure(settings);
    assert_eq!(device.until(|e| *e == Event::Established).await, changed);
    first_watch
        .expect("Disconnected", |k| *k == CloudEventKind::Disconnected)
        .await;
    second_watch
        .expect("Registered", |k| *k == CloudEventKind::Registered)
        .await;
    let status = device.status().await;
    assert_eq!(status.port, second.port());
    assert_eq!(
        status.last_down.map(|(r, _)| r),
        Some(DownReason::ConfigurationChanged)
    );

    // Another domain for the same server.
    let settings = CloudSettings::new("localhost", second.port(), KEEPALIVE, PING).unwrap();
    device.client.reconfigure(settings);
    assert_eq!(device.until(|e| *e == Event::Established).await, changed);
    second_watch
        .expect("Registered", |k| *k == CloudEventKind::Registered)
        .await;
    let status = device.status().await;
    assert_eq!(status.domain, "localhost");
    assert_eq!(second.cloud.device(SERIAL).unwrap().registrations, 2);
    assert!(!first.cloud.device(SERIAL).unwrap().online);

    // A new keepalive period alone applies to the running tunnel: no new registration.
    let settings = CloudSettings::new("localhost", second.port(), 20, PING).unwrap();
    device.client.reconfigure(settings);
    main_link_answers(&second, &mut device).await;
    let status = device.status().await;
    assert_eq!(status.connection_state, ConnectionState::Established);
    assert_eq!(second.cloud.device(SERIAL).unwrap().registrations, 2);
}

#[tokio::test]
async fn unbind_round_trip_unbinds_refuses_auth_until_added_again() {
    let (_pki, server, mut device) = established(&[]).await;
    server
        .cloud
        .set_unbinding_code(SERIAL, "code-1234")
        .expect("unbinding code");
    let mut watch = server.watch();

    // A wrong code is refused by the cloud: the tunnel stays up.
    device.client.unbind("wrong-code".to_owned()).await.unwrap();
    main_link_answers(&server, &mut device).await;
    assert!(server.cloud.device(SERIAL).unwrap().bound);

    device.client.unbind("code-1234".to_owned()).await.unwrap();
    assert_eq!(
        device.until(|e| *e == Event::Unbound).await,
        [Event::Unbound]
    );
    watch
        .expect("Unbound", |k| *k == CloudEventKind::Unbound)
        .await;
    let status = device.status().await;
    assert_eq!(status.connection_state, ConnectionState::Unconnected);
    assert_eq!(status.device_state, DeviceState::Idle);
    assert!(!server.cloud.device(SERIAL).unwrap().bound);
    // The unbound tunnel stays idle and takes no messages.
    assert!(matches!(
        device.client.unbind("code-1234".to_owned()).await,
        Err(SendRefused::Refused(_))
    ));

    // Reset: the cloud refuses the unbound device.
    device.client.reset();
    let failed = Event::Failed(FailureReason::ProcessingCloudAuthResponseFailed);
    device.expect_event(failed).await;
    // Added again (bound): a later attempt comes up.
    server.cloud.add_device(SERIAL, SECRET).expect("bind again");
    device.expect_event(Event::Established).await;
    main_link_answers(&server, &mut device).await;
}

#[tokio::test]
async fn stop_closes_the_links_and_ends_the_driver() {
    let (_pki, server, device) = established(&[]).await;
    let mut watch = server.watch();
    device.client.stop();
    watch
        .expect("Disconnected", |k| *k == CloudEventKind::Disconnected)
        .await;
    assert_eq!(device.client.status().await, Err(Stopped));
    assert!(matches!(
        device.client.unbind("code".to_owned()).await,
        Err(SendRefused::Stopped(Stopped))
    ));
    assert!(!server.cloud.device(SERIAL).unwrap().online);
}
