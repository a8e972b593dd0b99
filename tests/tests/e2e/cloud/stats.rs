//! The tunnel's rows of the call-home statistics (`cpe stats`, `/metrics`) after a scripted
//! run against the real cloud server: a refused authentication, answered keepalives, a
//! report, keepalive answers stopped until expiry, and a report offered while the link is
//! down. Every tunnel counter is checked.

use std::time::Duration;

use acs_sim::cloud::Faults;
use cpe::cloud::{Event, Link, SendRefused};
use cpe::stats::{Counters, Message, MessageType, Stats};
use schemas::tunnel::{CloudSettings, CwmpState, DeviceMessage, DownReason, FailureReason, Report};

use super::{Device, KEEPALIVE, Pki, SERIAL, Server, config, run_paused, run_paused_until};

fn report() -> DeviceMessage {
    DeviceMessage::Report(Report {
        cloud: CloudSettings::new("127.0.0.1", 443, KEEPALIVE, KEEPALIVE).expect("settings"),
        cwmp: CwmpState {
            acs_url: "https://acs.example/".to_owned(),
            acs_url_source: "cli".to_owned(),
            last_inform: None,
            provisioning_code: String::new(),
        },
    })
}

/// `(success, faults, failed, inqueue, dropped)` of `message`.
fn row(stats: &Stats<Message>, message: Message) -> (u64, u64, u64, u64, u64) {
    let snapshot = stats.snapshot(|_| 0);
    let c: &Counters = snapshot.row(message.name()).expect("a tunnel row");
    (c.success, c.faults, c.failed, c.inqueue, c.dropped)
}

#[tokio::test]
async fn scripted_tunnel_run_gives_every_tunnel_counter_its_expected_value() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    let refuse = Faults {
        refuse_auth: true,
        ..Faults::default()
    };
    assert!(server.cloud.set_faults(SERIAL, refuse));
    let mut config = config(&pki, "127.0.0.1", server.port(), &[]);
    let stats = Stats::<Message>::new();
    config.stats = stats.clone();
    let mut device = Device::spawn(config);

    // Authentication refused at step 4 (a fault: answered, refused); the retry gets through.
    device
        .expect_event(Event::Failed(
            FailureReason::ProcessingCloudAuthResponseFailed,
        ))
        .await;
    assert!(server.cloud.set_faults(SERIAL, Faults::default()));
    device.expect_event(Event::Established).await;
    device
        .client
        .send(Link::Main, report())
        .await
        .expect("report queued");
    tokio::time::pause();

    // Three keepalives answered (and the report's answer), then the answers stop: the two
    // keepalives of the silent stretch go unanswered and the third period drops the link.
    let keepalive = Duration::from_secs(KEEPALIVE.into());
    let seen = run_paused(&mut device, 3 * keepalive + Duration::from_secs(1)).await;
    assert!(seen.is_empty(), "{seen:?}");
    let silent = Faults {
        stop_keepalive_answers: true,
        ..Faults::default()
    };
    assert!(server.cloud.set_faults(SERIAL, silent));
    let expired = Event::Down(DownReason::KeepaliveExpired);
    let seen = run_paused_until(&mut device, 4 * keepalive, |e| *e == expired).await;
    assert!(seen.iter().any(|(_, e)| *e == expired), "{seen:?}");

    // The link is down (the clock stands still in the back-off): a report is given up.
    let refused = device.client.send(Link::Main, report()).await;
    assert!(
        matches!(refused, Err(SendRefused::Refused(_))),
        "{refused:?}"
    );
    assert!(server.cloud.set_faults(SERIAL, Faults::default()));
    let up = run_paused_until(&mut device, keepalive / 2, |e| *e == Event::Established).await;
    assert!(up.iter().any(|(_, e)| *e == Event::Established), "{up:?}");

    // (success, faults, failed, inqueue, dropped). Three attempts of steps 1-4, the first
    // refused at step 4; two registrations of steps 5 and optType 1 each.
    assert_eq!(row(&stats, Message::TunnelAuth), (12, 1, 0, 0, 0));
    assert_eq!(row(&stats, Message::TunnelRegister), (4, 0, 0, 0, 0));
    assert_eq!(row(&stats, Message::TunnelKeepalive), (3, 0, 2, 0, 0));
    assert_eq!(row(&stats, Message::TunnelReport), (1, 0, 0, 0, 1));
    assert_eq!(row(&stats, Message::TunnelSubConnection), (0, 0, 0, 0, 0));
    assert_eq!(row(&stats, Message::TunnelUnbind), (0, 0, 0, 0, 0));
    let snapshot = stats.snapshot(|_| 0);
    for sent in [
        "TunnelAuth",
        "TunnelRegister",
        "TunnelKeepalive",
        "TunnelReport",
    ] {
        assert!(snapshot.row(sent).unwrap().last_sent.is_some(), "{sent}");
    }
    assert_eq!(snapshot.row("TunnelUnbind").unwrap().last_sent, None);
    assert_eq!(snapshot.row("Inform"), Some(&Counters::default()));
    // The same figures on `/metrics`.
    let mut page = cpe::stats::prometheus::Exposition::new();
    snapshot.write_prometheus("cwmp", &mut page);
    let page = page.finish();
    assert!(
        page.contains(r#"cwmp_messages_total{type="TunnelKeepalive",result="failed"} 2"#),
        "{page}"
    );
}
