//! Keepalive (optType 2, answered; three unanswered periods drop the tunnel) and ping
//! (optType 101, never answered), in paused tokio time.

use std::time::Duration;

use acs_sim::cloud::{CloudEventKind, Faults};
use cpe::cloud::Event;
use schemas::tunnel::{CloudSettings, ConnectionState, DownReason};
use tokio::time::Instant;

use super::{Device, Pki, SERIAL, STEP, Server, config, established, run_paused};

fn secs(seconds: u16) -> Duration {
    Duration::from_secs(seconds.into())
}

/// When the server saw each event of `kind` in `events`.
fn times(events: &[acs_sim::cloud::CloudEvent], kind: &CloudEventKind) -> Vec<Instant> {
    events
        .iter()
        .filter(|event| event.kind == *kind)
        .map(|event| event.at)
        .collect()
}

#[tokio::test]
async fn keepalive_loss_reregisters_after_exactly_three_periods_with_keepalive_expired() {
    let (_pki, server, mut device) = established(&[]).await;
    let keepalive = secs(super::KEEPALIVE);
    let mut watch = server.watch();
    tokio::time::pause();

    // Answered keepalives keep the tunnel up past three periods. (Each period may end up to
    // a step late, as the clock moves in steps.)
    let seen = run_paused(&mut device, 4 * keepalive + secs(1)).await;
    assert!(seen.is_empty(), "{seen:?}");
    let answered = times(&watch.drain(), &CloudEventKind::Keepalive);
    assert_eq!(answered.len(), 4, "{answered:?}");
    let last_answer = answered[3];

    let faults = Faults {
        stop_keepalive_answers: true,
        ..Faults::default()
    };
    assert!(server.cloud.set_faults(SERIAL, faults));
    let seen = run_paused(&mut device, 3 * keepalive + 2 * STEP + secs(2)).await;
    let events = watch.drain();

    let expired = Event::Down(DownReason::KeepaliveExpired);
    let Some(&(down_at, _)) = seen.iter().find(|(_, event)| *event == expired) else {
        panic!("no {expired:?}: {seen:?}");
    };
    let silence = down_at - last_answer;
    // Three periods after the last answer, to the resolution of the paused clock's steps:
    // not at two, not at four.
    assert!(
        silence >= 3 * keepalive && silence <= 3 * keepalive + STEP,
        "down {silence:?} after the last answer"
    );
    // The two keepalives of the silent stretch went unanswered; the third period ended it.
    let unanswered = times(&events, &CloudEventKind::Keepalive);
    assert_eq!(
        unanswered.iter().filter(|at| **at < down_at).count(),
        2,
        "{unanswered:?}"
    );
    assert!(times(&events, &CloudEventKind::Disconnected).contains(&down_at));
    // It registers again after the back-off, well before a fourth period.
    let registered = times(&events, &CloudEventKind::Registered);
    assert!(
        registered
            .iter()
            .any(|at| *at > down_at && *at < last_answer + 4 * keepalive),
        "registrations at {registered:?}, down at {down_at:?}"
    );
    assert!(
        seen.iter()
            .any(|(at, e)| *e == Event::Established && *at > down_at)
    );

    let status = device.status().await;
    assert_eq!(status.connection_state, ConnectionState::Established);
    assert_eq!(
        status.last_down.map(|(reason, _)| reason),
        Some(DownReason::KeepaliveExpired)
    );
}

#[tokio::test]
async fn pings_go_out_every_ping_period_and_need_no_answer() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    let mut config = config(&pki, "127.0.0.1", server.port(), &[]);
    let (keepalive, ping) = (30, 10);
    config.tunnel.settings =
        CloudSettings::new("127.0.0.1", server.port(), keepalive, ping).expect("settings");
    let mut device = Device::spawn(config);
    device.expect_event(Event::Established).await;
    let mut watch = server.watch();
    tokio::time::pause();

    let seen = run_paused(&mut device, 6 * secs(ping) + secs(1)).await;
    assert!(seen.is_empty(), "{seen:?}");
    let events = watch.drain();
    let pings = times(&events, &CloudEventKind::Ping);
    assert_eq!(pings.len(), 6, "{pings:?}");
    for pair in pings.windows(2) {
        let interval = pair[1] - pair[0];
        assert!(
            interval >= secs(ping) && interval <= secs(ping) + STEP,
            "ping interval {interval:?}"
        );
    }
    // The cloud never answers a ping, and the tunnel did not wait for one: only the
    // keepalives (one per 30 s) were answered, and the tunnel stayed up throughout.
    assert_eq!(times(&events, &CloudEventKind::Keepalive).len(), 2);
    let view = server.cloud.device(SERIAL).expect("device");
    assert!(view.online);
    assert_eq!(view.registrations, 1);
    assert!(view.pings >= 6, "{view:?}");
}
