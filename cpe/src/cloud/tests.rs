//! The tunnel machine driven with answers built from `schemas::tunnel` types and explicit
//! `Instant`s.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use schemas::tunnel::{
    AuthAnswer, CasInfo, CloudMessage, CloudSettings, ConnectionState, DeviceFrame, DeviceMessage,
    DeviceState, DownReason, FailureReason, LinkKey, ProcessState, RegisterAnswer, RegisterRequest,
    ReportFailure, ReportFailureReason, RetCode, Service, form_decode,
};

use super::*;

mod stats;

const SERIAL: &str = "210235A1BSC123000050";
const SESSION: &str = "s3ss10n";
const KEEPALIVE: u64 = 30;
const PING: u64 = 20;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn settings(domain: &str, port: u16) -> CloudSettings {
    CloudSettings::new(domain, port, KEEPALIVE as u16, PING as u16).unwrap()
}

fn module(dev: &str, cloud: &str) -> ServiceModule {
    ServiceModule {
        dev_mod_name: dev.into(),
        cloud_mod_name: cloud.into(),
    }
}

fn config(services: Vec<ServiceModule>, buffer_limit: usize) -> TunnelConfig {
    TunnelConfig {
        settings: settings("cloud.example", 443),
        serial: SERIAL.into(),
        secret: "s e/cret".into(),
        services,
        buffer_limit,
        backoff: Backoff::default(),
    }
}

/// A tunnel whose jitter draws are `0.5` forever.
fn tunnel(services: Vec<ServiceModule>, now: Instant) -> Tunnel {
    Tunnel::new(config(services, 64 * 1024), || 0.5, now)
}

fn actions(t: &mut Tunnel) -> Vec<Action> {
    std::iter::from_fn(|| t.poll_action()).collect()
}

fn events(t: &mut Tunnel) -> Vec<Event> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// Every frame the machine writes, decoded, each acknowledged as written.
fn sent(t: &mut Tunnel, now: Instant) -> Vec<(Link, DeviceMessage)> {
    let mut out = Vec::new();
    while let Some(action) = t.poll_action() {
        if let Action::Send { link, text } = action {
            let frame = DeviceFrame::decode(&text).unwrap();
            t.handle_sent(link, Ok(()), now);
            out.push((link, frame.message));
        }
    }
    out
}

fn response(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
    HttpResponse {
        status,
        location: None,
        body: body.into(),
    }
}

fn only_http(t: &mut Tunnel) -> (HttpStep, HttpMethod, String, String) {
    match actions(t).as_slice() {
        [
            Action::Http {
                step,
                method,
                url,
                body,
                ..
            },
        ] => (*step, *method, url.clone(), body.clone()),
        other => panic!("expected one HTTP request, got {other:?}"),
    }
}

fn frame(message: &CloudMessage) -> Vec<u8> {
    message.encode().unwrap().into_bytes()
}

fn status(t: &Tunnel, now: Instant) -> CloudStatus {
    t.status(now, SystemTime::now())
}

/// Resolves and connects; the CAS URL request is pending.
fn connect(t: &mut Tunnel, now: Instant) {
    assert_eq!(
        actions(t),
        [Action::Resolve {
            domain: "cloud.example".into()
        }]
    );
    t.handle_resolved(Ok(vec!["192.0.2.7".parse().unwrap()]), now);
    assert_eq!(
        actions(t),
        [Action::Connect {
            addrs: vec!["192.0.2.7:443".parse().unwrap()],
            domain: "cloud.example".into()
        }]
    );
    t.handle_connect(Ok("192.0.2.7:443".parse().unwrap()), now);
}

/// Steps 1-3 answered; the cloud-auth request is pending.
fn cas(t: &mut Tunnel, now: Instant) {
    connect(t, now);
    assert_eq!(
        only_http(t),
        (
            HttpStep::CasUrl,
            HttpMethod::Get,
            "https://cloud.example/v3/base/userauth".into(),
            String::new()
        )
    );
    let cas = CasInfo {
        cas_url: "https://cas.example/v1/tickets".into(),
        cas_https: true,
        ignore_cas: true,
    };
    t.handle_http(
        HttpStep::CasUrl,
        Ok(response(200, cas.encode().unwrap())),
        now,
    );
    let (step, method, url, body) = only_http(t);
    assert_eq!(
        (step, method, url.as_str()),
        (
            HttpStep::CasTgt,
            HttpMethod::Post,
            "https://cas.example/v1/tickets"
        )
    );
    assert_eq!(
        form_decode(body.as_bytes()).unwrap(),
        [
            ("username".into(), SERIAL.into()),
            ("password".into(), "s e/cret".into())
        ]
    );
    let tgt = HttpResponse {
        location: Some("https://cas.example/v1/tickets/TGT-1".into()),
        ..response(201, "")
    };
    t.handle_http(HttpStep::CasTgt, Ok(tgt), now);
    let (step, _, url, body) = only_http(t);
    assert_eq!(
        (step, url.as_str()),
        (HttpStep::CasSt, "https://cas.example/v1/tickets/TGT-1")
    );
    assert_eq!(
        form_decode(body.as_bytes()).unwrap(),
        [(
            "service".into(),
            "https://cloud.example/v3/base/userauth".into()
        )]
    );
    t.handle_http(HttpStep::CasSt, Ok(response(200, "ST-1\n")), now);
}

/// Steps 1-5 answered; the main WebSocket is being opened.
fn register(t: &mut Tunnel, now: Instant) {
    cas(t, now);
    let (step, method, url, _) = only_http(t);
    assert_eq!(
        (step, method, url.as_str()),
        (
            HttpStep::CloudAuth,
            HttpMethod::Get,
            "https://cloud.example/v3/base/userauth?ticket=ST-1"
        )
    );
    let auth = AuthAnswer::Session {
        session_id: SESSION.into(),
    };
    t.handle_http(
        HttpStep::CloudAuth,
        Ok(response(200, auth.encode().unwrap())),
        now,
    );
    let (step, _, url, body) = only_http(t);
    assert_eq!(
        (step, url.as_str()),
        (HttpStep::Register, "https://cloud.example/v3/base/register")
    );
    assert_eq!(
        RegisterRequest::decode(&body).unwrap(),
        RegisterRequest {
            dev_sn: SERIAL.into(),
            token_id: SESSION.into(),
            dev_model: None,
            sw_version: None
        }
    );
    let answer = RegisterAnswer::Accepted {
        ws_url: "wss://cloud.example/ws".into(),
    };
    t.handle_http(
        HttpStep::Register,
        Ok(response(200, answer.encode().unwrap())),
        now,
    );
    assert_eq!(
        actions(t),
        [Action::OpenWebSocket {
            link: Link::Main,
            url: "wss://cloud.example/ws".into(),
            cookie: format!("JSESSIONID={SESSION}"),
        }]
    );
}

/// The whole flow to an established main link; returns what was sent after registration.
fn establish(t: &mut Tunnel, now: Instant) -> Vec<(Link, DeviceMessage)> {
    register(t, now);
    t.handle_connected(Link::Main, Ok(()), now);
    assert_eq!(sent(t, now), [(Link::Main, DeviceMessage::Register)]);
    t.handle_frame(
        Link::Main,
        &frame(&CloudMessage::RegisterAnswer {
            ret_code: RetCode::OK,
        }),
        now,
    );
    sent(t, now)
}

/// A tunnel without services, established at the returned instant, its events drained.
fn established() -> (Tunnel, Instant) {
    let t0 = Instant::now();
    let mut t = tunnel(vec![], t0);
    establish(&mut t, t0);
    events(&mut t);
    (t, t0)
}

#[test]
fn happy_flow_reaches_established_and_request_success() {
    let t0 = Instant::now();
    let mut t = tunnel(vec![], t0);
    assert_eq!(status(&t, t0).device_state, DeviceState::Connecting);
    register(&mut t, t0);
    assert_eq!(status(&t, t0).device_state, DeviceState::RegisterSuccess);
    assert_eq!(status(&t, t0).connection_state, ConnectionState::Request);

    t.handle_connected(Link::Main, Ok(()), t0);
    let action = t.poll_action().unwrap();
    let Action::Send {
        link: Link::Main,
        text,
    } = action
    else {
        panic!("expected the registration frame, got {action:?}");
    };
    assert_eq!(
        DeviceFrame::decode(&text).unwrap(),
        DeviceFrame {
            link: LinkKey::main(SERIAL, SESSION),
            message: DeviceMessage::Register
        }
    );
    t.handle_sent(Link::Main, Ok(()), t0);
    let later = t0 + secs(5);
    t.handle_frame(
        Link::Main,
        &frame(&CloudMessage::RegisterAnswer {
            ret_code: RetCode::OK,
        }),
        later,
    );

    assert_eq!(events(&mut t), [Event::Established]);
    let s = status(&t, later + secs(121));
    assert_eq!(s.connection_state, ConnectionState::Established);
    assert_eq!(s.device_state, DeviceState::RequestSuccess);
    assert_eq!(s.process_state, ProcessState::MessageReceived);
    assert_eq!(s.failure_reason, FailureReason::NotAvailable);
    assert_eq!(s.server_address, Some("192.0.2.7".parse().unwrap()));
    assert_eq!(s.duration, Some(secs(121)));
    assert_eq!(
        s.last_down.map(|(r, _)| r),
        Some(DownReason::DeviceOrProcessRebooted)
    );
}

/// Fails the attempt at the point `fail` chooses and checks the status it leaves.
fn assert_failure(
    fail: impl FnOnce(&mut Tunnel, Instant),
    reason: FailureReason,
    device: DeviceState,
    process: ProcessState,
) {
    assert_failure_after(Duration::ZERO, fail, reason, device, process);
}

/// [`assert_failure`] for a failure `after` the start.
fn assert_failure_after(
    after: Duration,
    fail: impl FnOnce(&mut Tunnel, Instant),
    reason: FailureReason,
    device: DeviceState,
    process: ProcessState,
) {
    let t0 = Instant::now();
    let mut t = tunnel(vec![], t0);
    fail(&mut t, t0);
    assert_eq!(events(&mut t), [Event::Failed(reason)]);
    let s = status(&t, t0);
    assert_eq!(
        (
            s.connection_state,
            s.device_state,
            s.process_state,
            s.failure_reason
        ),
        (ConnectionState::Unconnected, device, process, reason)
    );
    assert_eq!(
        t.poll_timeout(),
        Some(t0 + after + Backoff::default().delay(0, 0.5))
    );
}

#[test]
fn unknown_serial_fails_processing_cloud_auth_response() {
    assert_failure(
        |t, now| {
            cas(t, now);
            only_http(t);
            let refused = AuthAnswer::Refused {
                ret_code: RetCode::UNKNOWN_DEVICE,
                reason: "unknown device".into(),
            };
            t.handle_http(
                HttpStep::CloudAuth,
                Ok(response(200, refused.encode().unwrap())),
                now,
            );
        },
        FailureReason::ProcessingCloudAuthResponseFailed,
        DeviceState::RequestCloudAuth,
        ProcessState::MessageReceived,
    );
}

#[test]
fn unresolvable_domain_fails_dns_parse() {
    assert_failure(
        |t, now| t.handle_resolved(Err(ResolveError("NXDOMAIN".into())), now),
        FailureReason::DnsParseFailed,
        DeviceState::Connecting,
        ProcessState::DnsNotParsed,
    );
}

#[test]
fn refused_tcp_port_fails_socket_connection() {
    assert_failure(
        |t, now| {
            t.handle_resolved(Ok(vec!["192.0.2.7".parse().unwrap()]), now);
            t.handle_connect(Err(ConnectError::Refused("refused".into())), now);
        },
        FailureReason::SocketConnectionFailed,
        DeviceState::Connecting,
        ProcessState::DnsParsed,
    );
}

#[test]
fn one_connect_races_every_resolved_address_and_the_winner_is_the_server_address() {
    let now = Instant::now();
    let mut t = tunnel(Vec::new(), now);
    assert_eq!(actions(&mut t).len(), 1, "resolve");
    let resolved: Vec<std::net::IpAddr> = (1..=10u8)
        .map(|i| std::net::IpAddr::from([192, 0, 2, i]))
        .chain(["::1".parse().unwrap()])
        .collect();
    t.handle_resolved(Ok(resolved.clone()), now);
    let [Action::Connect { addrs, .. }] = &actions(&mut t)[..] else {
        panic!("one Connect");
    };
    let expected: Vec<_> = resolved[..MAX_ADDRESSES]
        .iter()
        .map(|ip| std::net::SocketAddr::new(*ip, 443))
        .collect();
    assert_eq!(addrs, &expected, "in order, capped");
    assert_eq!(status(&t, now).server_address, Some(resolved[0]));
    t.handle_connect(Ok(expected[3]), now);
    assert_eq!(status(&t, now).server_address, Some(resolved[3]));
    assert!(matches!(only_http(&mut t).0, HttpStep::CasUrl));
}

#[test]
fn tls_error_fails_ssl_creation() {
    assert_failure(
        |t, now| {
            t.handle_resolved(Ok(vec!["192.0.2.7".parse().unwrap()]), now);
            t.handle_connect(Err(ConnectError::Tls("unknown issuer".into())), now);
        },
        FailureReason::SslCreationFailed,
        DeviceState::Connecting,
        ProcessState::DnsParsed,
    );
}

#[test]
fn malformed_register_answer_fails_processing_register() {
    assert_failure(
        |t, now| {
            cas(t, now);
            only_http(t);
            let auth = AuthAnswer::Session {
                session_id: SESSION.into(),
            };
            t.handle_http(
                HttpStep::CloudAuth,
                Ok(response(200, auth.encode().unwrap())),
                now,
            );
            only_http(t);
            // retCode 0 without wsUrl.
            t.handle_http(
                HttpStep::Register,
                Ok(response(200, r#"{"retCode":0}"#)),
                now,
            );
        },
        FailureReason::ProcessingRegisterFailed,
        DeviceState::Register,
        ProcessState::MessageReceived,
    );
}

#[test]
fn unanswered_step_fails_at_its_deadline_with_message_not_received() {
    assert_failure_after(
        STEP_TIMEOUT,
        |t, now| {
            connect(t, now);
            only_http(t);
            t.handle_timeout(now + STEP_TIMEOUT - Duration::from_millis(1));
            assert!(t.poll_event().is_none());
            t.handle_timeout(now + STEP_TIMEOUT);
        },
        FailureReason::ProcessingCasUrlFailed,
        DeviceState::RequestCasUrl,
        ProcessState::MessageNotReceived,
    );
}

#[test]
fn keepalive_expires_after_exactly_three_periods_and_reconnect_is_scheduled() {
    let (mut t, t0) = established();
    for period in 1..=2 {
        let at = t0 + secs(KEEPALIVE * period);
        assert_eq!(t.poll_timeout().map(|w| w <= at), Some(true));
        t.handle_timeout(at);
        let frames = sent(&mut t, at);
        assert!(
            frames.contains(&(Link::Main, DeviceMessage::Keepalive)),
            "{frames:?}"
        );
        assert_eq!(
            status(&t, at).connection_state,
            ConnectionState::Established
        );
    }
    let just_before = t0 + secs(3 * KEEPALIVE) - Duration::from_millis(1);
    t.handle_timeout(just_before);
    assert!(events(&mut t).is_empty());
    assert_eq!(
        status(&t, just_before).connection_state,
        ConnectionState::Established
    );

    let expiry = t0 + secs(3 * KEEPALIVE);
    t.handle_timeout(expiry);
    assert_eq!(events(&mut t), [Event::Down(DownReason::KeepaliveExpired)]);
    assert_eq!(actions(&mut t), [Action::Close { link: Link::Main }]);
    let s = status(&t, expiry);
    assert_eq!(s.connection_state, ConnectionState::Unconnected);
    assert_eq!(
        s.last_down.map(|(r, _)| r),
        Some(DownReason::KeepaliveExpired)
    );

    let retry = expiry + Backoff::default().delay(0, 0.5);
    assert_eq!(t.poll_timeout(), Some(retry));
    t.handle_timeout(retry);
    assert_eq!(
        actions(&mut t),
        [Action::Resolve {
            domain: "cloud.example".into()
        }]
    );
}

#[test]
fn keepalive_answer_restarts_the_three_period_count() {
    let (mut t, t0) = established();
    let answered = t0 + secs(2 * KEEPALIVE);
    t.handle_timeout(answered);
    t.handle_frame(
        Link::Main,
        &frame(&CloudMessage::KeepaliveAnswer {
            ret_code: RetCode::OK,
        }),
        answered,
    );
    t.handle_timeout(t0 + secs(3 * KEEPALIVE));
    assert!(events(&mut t).is_empty());
    t.handle_timeout(answered + secs(3 * KEEPALIVE));
    assert_eq!(events(&mut t), [Event::Down(DownReason::KeepaliveExpired)]);
}

#[test]
fn pings_every_period_and_never_wait_for_an_answer() {
    let t0 = Instant::now();
    let mut t = tunnel(vec![], t0);
    establish(&mut t, t0);
    let keepalive_answer = frame(&CloudMessage::KeepaliveAnswer {
        ret_code: RetCode::OK,
    });
    let mut pings = Vec::new();
    // Wake whenever asked, for 10 keepalive periods; keepalives are answered, pings never.
    let end = t0 + secs(10 * KEEPALIVE);
    while let Some(wake) = t.poll_timeout().filter(|w| *w <= end) {
        t.handle_timeout(wake);
        for (link, message) in sent(&mut t, wake) {
            match message {
                DeviceMessage::Ping => pings.push((link, wake - t0)),
                DeviceMessage::Keepalive => t.handle_frame(Link::Main, &keepalive_answer, wake),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let expected: Vec<_> = (1..=10 * KEEPALIVE / PING)
        .map(|n| (Link::Main, secs(n * PING)))
        .collect();
    assert_eq!(pings, expected);
    assert_eq!(events(&mut t), [Event::Established]);
}

/// Closes the established main link as `close` says; the tunnel goes down for `reason`.
fn assert_down_by_close(close: Close, reason: DownReason) {
    let (mut t, t0) = established();
    t.handle_closed(Link::Main, close, t0 + secs(1));
    assert_eq!(events(&mut t), [Event::Down(reason)]);
    let s = status(&t, t0 + secs(1));
    assert_eq!(s.last_down.map(|(r, _)| r), Some(reason));
}

#[test]
fn close_frame_from_cloud_is_received_websocket_close_packet() {
    assert_down_by_close(
        Close::Frame,
        DownReason::ReceivedWebsocketClosePacketFromCloud,
    );
}

#[test]
fn tcp_reset_from_cloud_is_cloud_reset_connection() {
    assert_down_by_close(Close::Reset, DownReason::CloudResetConnection);
}

#[test]
fn oversize_message_refused_by_the_websocket_layer_is_memory_reached_threshold() {
    assert_down_by_close(Close::TooLarge, DownReason::MemoryReachedThreshold);
}

#[test]
fn domain_or_port_change_drops_with_configuration_changed_and_reconnects_there() {
    let (mut t, t0) = established();
    t.reconfigure(settings("other.example", 8443), t0 + secs(1));
    assert_eq!(
        events(&mut t),
        [Event::Down(DownReason::ConfigurationChanged)]
    );
    assert_eq!(
        actions(&mut t),
        [
            Action::Close { link: Link::Main },
            Action::Resolve {
                domain: "other.example".into()
            }
        ]
    );
    t.handle_resolved(Ok(vec!["198.51.100.1".parse().unwrap()]), t0 + secs(1));
    assert_eq!(
        actions(&mut t),
        [Action::Connect {
            addrs: vec!["198.51.100.1:8443".parse().unwrap()],
            domain: "other.example".into()
        }]
    );
    t.handle_connect(Ok("198.51.100.1:8443".parse().unwrap()), t0 + secs(1));
    assert_eq!(
        only_http(&mut t).2,
        "https://other.example:8443/v3/base/userauth"
    );
}

#[test]
fn keepalive_only_change_keeps_the_tunnel_and_uses_the_new_period() {
    let (mut t, t0) = established();
    let next = CloudSettings::new("cloud.example", 443, 10, PING as u16).unwrap();
    t.reconfigure(next, t0);
    assert!(events(&mut t).is_empty());
    assert!(actions(&mut t).is_empty());
    assert_eq!(t.poll_timeout(), Some(t0 + secs(10)));
    t.handle_timeout(t0 + secs(10));
    assert_eq!(
        sent(&mut t, t0 + secs(10)),
        [(Link::Main, DeviceMessage::Keepalive)]
    );
    assert_eq!(
        status(&t, t0).connection_state,
        ConnectionState::Established
    );
}

/// Establishes with three service modules, all sub-links registered.
fn three_services(t0: Instant) -> Tunnel {
    let mut t = tunnel(
        vec![
            module("confmgr", "confmgr"),
            module("stamgr", "stamgr"),
            module("logmgr", "logmgr"),
        ],
        t0,
    );
    assert_eq!(
        establish(&mut t, t0),
        [(Link::Main, DeviceMessage::SubConnectionRequest)]
    );
    let services = ["confmgr", "stamgr", "logmgr"]
        .map(|name| Service {
            cloud_mod_name: name.into(),
            url: format!("wss://cloud.example/{name}"),
        })
        .to_vec();
    let answer = CloudMessage::SubConnectionAnswer {
        ret_code: RetCode::OK,
        services,
    };
    t.handle_frame(Link::Main, &frame(&answer), t0);
    let opened: Vec<_> = actions(&mut t)
        .into_iter()
        .map(|a| match a {
            Action::OpenWebSocket { link, url, cookie } => {
                assert_eq!(cookie, format!("JSESSIONID={SESSION}"));
                (link, url)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(opened.len(), 3);
    assert_eq!(
        opened[1],
        (Link::Service(1), "wss://cloud.example/stamgr".into())
    );
    for index in 0..3 {
        t.handle_connected(Link::Service(index), Ok(()), t0);
    }
    let registrations = sent(&mut t, t0);
    assert_eq!(registrations.len(), 3);
    for index in 0..3 {
        t.handle_frame(
            Link::Service(index),
            &frame(&CloudMessage::RegisterAnswer {
                ret_code: RetCode::OK,
            }),
            t0,
        );
    }
    assert_eq!(
        events(&mut t),
        [
            Event::Established,
            Event::ServiceUp(0),
            Event::ServiceUp(1),
            Event::ServiceUp(2)
        ]
    );
    t
}

#[test]
fn sub_link_registration_carries_its_module_key() {
    let t0 = Instant::now();
    let mut t = three_services(t0);
    t.send(
        Link::Service(2),
        DeviceMessage::ConnectionRequestAnswer {
            seq_number: 1,
            ret_code: RetCode::OK,
        },
        t0,
    )
    .unwrap();
    let Some(Action::Send { text, .. }) = t.poll_action() else {
        panic!("expected a frame");
    };
    assert_eq!(
        DeviceFrame::decode(&text).unwrap().link,
        LinkKey::main(SERIAL, SESSION).sub("logmgr", "logmgr")
    );
}

#[test]
fn one_sub_link_closing_leaves_the_others_and_the_main_link_alone_and_reopens_alone() {
    let t0 = Instant::now();
    let mut t = three_services(t0);
    let closed = t0 + secs(1);
    t.handle_closed(Link::Service(1), Close::Frame, closed);
    assert_eq!(
        events(&mut t),
        [Event::ServiceDown(
            1,
            DownReason::ReceivedWebsocketClosePacketFromCloud
        )]
    );
    assert_eq!(
        actions(&mut t),
        [Action::Close {
            link: Link::Service(1)
        }]
    );
    assert_eq!(
        status(&t, closed).connection_state,
        ConnectionState::Established
    );
    for link in [Link::Main, Link::Service(0), Link::Service(2)] {
        let answer = DeviceMessage::ConnectionRequestAnswer {
            seq_number: 7,
            ret_code: RetCode::OK,
        };
        t.send(link, answer, closed).unwrap();
    }
    assert_eq!(sent(&mut t, closed).len(), 3);
    let refused = t.send(Link::Service(1), DeviceMessage::Ping, closed);
    assert_eq!(
        refused,
        Err(ReportFailureReason::TunnelSocketIsInvalid.into())
    );

    let reopen = closed + Backoff::default().delay(0, 0.5);
    assert_eq!(t.poll_timeout(), Some(reopen));
    t.handle_timeout(reopen);
    assert_eq!(
        actions(&mut t),
        [Action::OpenWebSocket {
            link: Link::Service(1),
            url: "wss://cloud.example/stamgr".into(),
            cookie: format!("JSESSIONID={SESSION}"),
        }]
    );
    assert!(events(&mut t).is_empty());
}

#[test]
fn main_link_down_takes_the_sub_links_with_it() {
    let t0 = Instant::now();
    let mut t = three_services(t0);
    t.handle_closed(Link::Main, Close::Reset, t0);
    assert_eq!(
        events(&mut t),
        [
            Event::Down(DownReason::CloudResetConnection),
            Event::ServiceDown(0, DownReason::MainConnectionWentDown),
            Event::ServiceDown(1, DownReason::MainConnectionWentDown),
            Event::ServiceDown(2, DownReason::MainConnectionWentDown),
        ]
    );
    assert_eq!(actions(&mut t).len(), 4);
}

#[test]
fn full_send_buffer_drops_and_counts() {
    let t0 = Instant::now();
    let mut t = Tunnel::new(config(vec![], 400), || 0.5, t0);
    establish(&mut t, t0);
    let answer = || DeviceMessage::ConnectionRequestAnswer {
        seq_number: 1,
        ret_code: RetCode::OK,
    };
    // One frame goes out and is never acknowledged; the next ones wait in the buffer.
    t.send(Link::Main, answer(), t0).unwrap();
    assert!(matches!(t.poll_action(), Some(Action::Send { .. })));
    let results: Vec<_> = (0..5).map(|_| t.send(Link::Main, answer(), t0)).collect();
    let full = Err(ReportFailure::from(ReportFailureReason::SendBufferIsFull));
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "{results:?}"
    );
    assert_eq!(results[2..], [full.clone(), full.clone(), full]);
    let s = status(&t, t0);
    assert_eq!(
        (s.dropped_after_limit, s.total_dropped, s.buffer_full_count),
        (3, 3, 1)
    );
    assert_eq!(
        s.last_report_incomplete.map(|(r, _)| r),
        Some(ReportFailureReason::SendBufferIsFull.into())
    );
}

#[test]
fn tls_send_failure_is_the_last_report_failure_with_its_detail() {
    let t0 = Instant::now();
    let mut t = tunnel(vec![], t0);
    establish(&mut t, t0);
    t.handle_timeout(t0 + secs(PING));
    assert!(matches!(t.poll_action(), Some(Action::Send { .. })));
    t.handle_sent(Link::Main, Err(SendError::Tls("bad record mac".into())), t0);
    let s = status(&t, t0);
    assert_eq!(
        s.last_report_failure.map(|(r, _)| r.to_string()),
        Some("SSL sending failure (bad record mac)".into())
    );
    assert_eq!(s.connection_state, ConnectionState::Established);
}

#[test]
fn malformed_frames_are_counted_per_counted_as() {
    let t0 = Instant::now();
    let mut t = three_services(t0);
    // Not JSON: dropped, tunnel up, "Failed to convert string to json".
    t.handle_frame(Link::Main, b"{not json", t0);
    assert!(events(&mut t).is_empty());
    assert_eq!(
        status(&t, t0).last_report_failure.map(|(r, _)| r),
        Some(ReportFailureReason::FailedToConvertStringToJson.into())
    );
    // Schema break on a sub-link: that sub-link alone goes down.
    t.handle_frame(Link::Service(0), br#"{"optType":999}"#, t0);
    assert_eq!(
        events(&mut t),
        [Event::ServiceDown(0, DownReason::PacketProcessingFailed)]
    );
    assert_eq!(
        status(&t, t0).connection_state,
        ConnectionState::Established
    );
    // Over the size limit on the main link: the tunnel goes down.
    let huge = vec![b' '; schemas::tunnel::MAX_FRAME + 1];
    t.handle_frame(Link::Main, &huge, t0);
    assert_eq!(
        events(&mut t)[0],
        Event::Down(DownReason::MemoryReachedThreshold)
    );
}

#[test]
fn backoff_grows_doubling_with_the_injected_jitter_up_to_the_cap() {
    let draws = Arc::new(Mutex::new(VecDeque::from([
        0.0, 1.0, 0.5, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    ])));
    let source = Arc::clone(&draws);
    let t0 = Instant::now();
    let mut t = Tunnel::new(
        config(vec![], 1024),
        move || source.lock().unwrap().pop_front().unwrap_or(0.0),
        t0,
    );
    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..9 {
        actions(&mut t);
        t.handle_resolved(Err(ResolveError("SERVFAIL".into())), now);
        let wake = t.poll_timeout().unwrap();
        delays.push((wake - now).as_millis());
        now = wake;
        t.handle_timeout(now);
    }
    // 5 s doubling, capped at 300 s; half fixed, half scaled by the draw.
    assert_eq!(
        delays,
        [
            2_500, 10_000, 15_000, 20_000, 80_000, 160_000, 300_000, 300_000, 300_000
        ]
    );
    assert!(draws.lock().unwrap().is_empty());
}

#[test]
fn reset_drops_with_cloud_reset_connection_and_starts_over_now() {
    let (mut t, t0) = established();
    t.reset(t0 + secs(3));
    assert_eq!(
        events(&mut t),
        [Event::Down(DownReason::CloudResetConnection)]
    );
    assert_eq!(
        actions(&mut t),
        [
            Action::Close { link: Link::Main },
            Action::Resolve {
                domain: "cloud.example".into()
            }
        ]
    );
}

#[test]
fn configuration_and_connection_request_reach_the_agent_and_unbind_idles() {
    let (mut t, t0) = established();
    let config = CloudMessage::decode(
        br#"{"optType":3,"seqNumber":4,"uuid":"u-1","parameters":[{"name":"Device.X.Y","value":"1","type":"unsignedInt"}]}"#,
    )
    .unwrap();
    t.handle_frame(Link::Main, &frame(&config), t0);
    t.handle_frame(
        Link::Main,
        &frame(&CloudMessage::ConnectionRequest { seq_number: 9 }),
        t0,
    );
    let CloudMessage::Configuration(configuration) = config else {
        unreachable!()
    };
    assert_eq!(
        events(&mut t),
        [
            Event::Configuration(Link::Main, configuration),
            Event::ConnectionRequest { seq_number: 9 }
        ]
    );
    t.unbind("ABC123".into(), t0).unwrap();
    assert_eq!(
        sent(&mut t, t0),
        [(
            Link::Main,
            DeviceMessage::Unbind {
                code: "ABC123".into()
            }
        )]
    );
    t.handle_frame(
        Link::Main,
        &frame(&CloudMessage::UnbindAnswer {
            ret_code: RetCode::OK,
        }),
        t0,
    );
    assert_eq!(events(&mut t), [Event::Unbound]);
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(status(&t, t0).device_state, DeviceState::Idle);
}

#[test]
fn request_that_cannot_be_sent_fails_sending_with_message_not_sent() {
    assert_failure(
        |t, now| {
            connect(t, now);
            only_http(t);
            let error = SendError::Io("broken pipe".into());
            t.handle_http(HttpStep::CasUrl, Err(error), now);
        },
        FailureReason::SendingCasUrlFailed,
        DeviceState::RequestCasUrl,
        ProcessState::MessageNotSent,
    );
}
