//! The machine's records for the call-home statistics over a scripted run: every tunnel row's
//! counters have their exact expected values.

use schemas::tunnel::{CwmpState, Report};

use super::*;
use crate::stats::{Counters, Message, MessageType, Stats};

/// Copies the machine's records into `stats`, as the driver does.
fn count(t: &mut Tunnel, stats: &Stats<Message>) {
    while let Some(record) = t.poll_record() {
        match record {
            Record::Attempt(row) => stats.attempt(row),
            Record::Delivered(row, delivery) => stats.delivered(row, delivery),
            Record::Dropped(row) => stats.dropped(row, 1),
        }
    }
}

fn report() -> DeviceMessage {
    DeviceMessage::Report(Report {
        cloud: settings("cloud.example", 443),
        cwmp: CwmpState {
            acs_url: "https://acs.example/".into(),
            acs_url_source: "cli".into(),
            last_inform: None,
            provisioning_code: String::new(),
        },
    })
}

fn answer(t: &mut Tunnel, message: &CloudMessage, now: Instant) {
    t.handle_frame(Link::Main, &frame(message), now);
}

fn row(stats: &Stats<Message>, message: Message) -> (u64, u64, u64, u64) {
    let snapshot = stats.snapshot(|_| 0);
    let c = snapshot.row(message.name()).unwrap();
    (c.success, c.faults, c.failed, c.dropped)
}

#[test]
fn scripted_run_gives_every_tunnel_row_its_exact_counters() {
    let stats = Stats::<Message>::new();
    let t0 = Instant::now();
    let mut t = tunnel(vec![module("confmgr", "confmgr")], t0);

    // 1. The domain does not resolve: the first CAS step could not be sent.
    assert!(matches!(actions(&mut t)[..], [Action::Resolve { .. }]));
    t.handle_resolved(Err(ResolveError("NXDOMAIN".into())), t0);
    // 2. The CAS refuses the credentials (401, no TGT): step 1 answered, step 2 a fault.
    let t1 = t.poll_timeout().unwrap();
    t.handle_timeout(t1);
    connect(&mut t, t1);
    let cas = CasInfo {
        cas_url: "https://cas.example/v1/tickets".into(),
        cas_https: true,
        ignore_cas: true,
    };
    only_http(&mut t);
    t.handle_http(
        HttpStep::CasUrl,
        Ok(response(200, cas.encode().unwrap())),
        t1,
    );
    only_http(&mut t);
    t.handle_http(HttpStep::CasTgt, Ok(response(401, "")), t1);
    count(&mut t, &stats);
    assert_eq!(row(&stats, Message::TunnelAuth), (2, 1, 1, 0));

    // 3. Established: steps 1-4, step 5 and the main link's optType 1, then the sub-connection
    // list; the sub-link's WebSocket does not open (its registration fails).
    let t2 = t.poll_timeout().unwrap();
    t.handle_timeout(t2);
    let after = establish(&mut t, t2);
    assert_eq!(after, [(Link::Main, DeviceMessage::SubConnectionRequest)]);
    let services = vec![Service {
        cloud_mod_name: "confmgr".into(),
        url: "wss://cloud.example/confmgr".into(),
    }];
    let list = CloudMessage::SubConnectionAnswer {
        ret_code: RetCode::OK,
        services,
    };
    answer(&mut t, &list, t2);
    assert!(actions(&mut t).iter().any(|a| matches!(
        a,
        Action::OpenWebSocket {
            link: Link::Service(0),
            ..
        }
    )));
    let refused = Err(ConnectError::Handshake(403));
    t.handle_connected(Link::Service(0), refused, t2);

    // 4. Two keepalives answered; one report answered with a refusal.
    let keepalive_answer = CloudMessage::KeepaliveAnswer {
        ret_code: RetCode::OK,
    };
    for period in 1..=2 {
        let at = t2 + secs(KEEPALIVE * period);
        t.handle_timeout(at);
        sent(&mut t, at);
        answer(&mut t, &keepalive_answer, at);
    }
    let last_answer = t2 + secs(2 * KEEPALIVE);
    t.send(Link::Main, report(), last_answer).unwrap();
    sent(&mut t, last_answer);
    let refusal = CloudMessage::ReportAnswer {
        ret_code: RetCode::FAILED,
    };
    answer(&mut t, &refusal, last_answer);

    // 5. Keepalive answers stop. The next keepalive's write never completes, so a report and
    // the keepalive after it wait behind it until the keepalive expires and the link drops.
    let at = last_answer + secs(KEEPALIVE);
    t.handle_timeout(at);
    let mut writing = None;
    while let Some(action) = t.poll_action() {
        if let Action::Send { text, .. } = action {
            writing.get_or_insert_with(|| DeviceFrame::decode(&text).unwrap().message);
        }
    }
    assert_eq!(writing, Some(DeviceMessage::Keepalive));
    t.send(Link::Main, report(), at).unwrap();
    t.handle_timeout(at + secs(KEEPALIVE));
    assert_eq!(t.queued(Message::TunnelReport), 1);
    assert_eq!(t.queued(Message::TunnelKeepalive), 1);
    t.handle_timeout(last_answer + secs(3 * KEEPALIVE));
    assert!(events(&mut t).contains(&Event::Down(DownReason::KeepaliveExpired)));
    assert_eq!(t.queued(Message::TunnelReport), 0);
    // 6. An unbinding request while the link is down is refused: given up, not sent.
    assert!(
        t.unbind("CODE-1".into(), last_answer + secs(3 * KEEPALIVE))
            .is_err()
    );
    count(&mut t, &stats);

    // (success, faults, failed, dropped)
    assert_eq!(row(&stats, Message::TunnelAuth), (6, 1, 1, 0));
    assert_eq!(row(&stats, Message::TunnelRegister), (2, 0, 1, 0));
    assert_eq!(row(&stats, Message::TunnelSubConnection), (1, 0, 0, 0));
    assert_eq!(row(&stats, Message::TunnelKeepalive), (2, 0, 1, 1));
    assert_eq!(row(&stats, Message::TunnelReport), (1, 1, 0, 1));
    assert_eq!(row(&stats, Message::TunnelUnbind), (0, 0, 0, 1));
    let snapshot = stats.snapshot(|_| 0);
    let never_sent = snapshot.row("TunnelUnbind").unwrap().last_sent;
    assert_eq!(never_sent, None);
    assert!(snapshot.row("TunnelKeepalive").unwrap().last_sent.is_some());
    // The CWMP rows are untouched.
    assert_eq!(snapshot.row("Inform"), Some(&Counters::default()));
}

#[test]
fn a_step_cut_short_by_a_reset_counts_failed_and_its_retry_is_a_new_attempt() {
    let stats = Stats::<Message>::new();
    let t0 = Instant::now();
    let mut t = tunnel(vec![], t0);
    connect(&mut t, t0);
    only_http(&mut t);
    t.reset(t0);
    count(&mut t, &stats);
    assert_eq!(row(&stats, Message::TunnelAuth), (0, 0, 1, 0));
}
