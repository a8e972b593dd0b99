use std::time::{Duration, SystemTime};

use super::prometheus::Exposition;
use super::*;

fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn parse(page: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(page.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

#[test]
fn each_delivery_counts_in_its_columns_and_faults_are_also_successes() {
    let stats = Stats::<Message>::with_clock(fixed_clock);
    stats.attempt(Message::Inform);
    stats.delivered(Message::Inform, Delivery::Answered);
    stats.delivered(Message::Inform, Delivery::Fault);
    stats.delivered(Message::Inform, Delivery::Failed);
    stats.delivered(Message::TransferComplete, Delivery::Answered);
    stats.fault(Message::TransferComplete);
    stats.dropped(Message::Upload, 3);
    let snapshot = stats.snapshot(|m| u64::from(m == Message::Download) * 2);
    let inform = snapshot.row("Inform").unwrap();
    assert_eq!(
        *inform,
        Counters {
            success: 2,
            failed: 1,
            faults: 1,
            inqueue: 0,
            dropped: 0,
            last_sent: Some(1_700_000_000),
        }
    );
    let tc = snapshot.row("TransferComplete").unwrap();
    assert_eq!((tc.success, tc.faults, tc.last_sent), (1, 1, None));
    assert_eq!(snapshot.row("Upload").unwrap().dropped, 3);
    assert_eq!(snapshot.row("Download").unwrap().inqueue, 2);
    let names: Vec<_> = snapshot.rows.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        names,
        [
            "Inform",
            "TransferComplete",
            "AutonomousTransferComplete",
            "GetRPCMethods",
            "Download",
            "Upload",
            "TunnelAuth",
            "TunnelRegister",
            "TunnelKeepalive",
            "TunnelReport",
            "TunnelSubConnection",
            "TunnelUnbind"
        ]
    );
}

#[test]
fn session_durations_fall_in_the_first_bucket_that_holds_them() {
    let stats = Stats::<Message>::new();
    stats.session(true, Duration::from_millis(50));
    stats.session(true, Duration::from_millis(700));
    stats.session(false, Duration::from_secs(400));
    let s = stats.snapshot(|_| 0).sessions;
    assert_eq!((s.ok, s.failed, s.count()), (2, 1, 3));
    assert_eq!(s.duration_sum_us, 400_750_000);
    // 0.05 s is in the 0.05 bucket (le is inclusive), 0.7 s in the 1 s one, 400 s in none.
    assert_eq!(s.duration_buckets[0], 1);
    assert_eq!(s.duration_buckets[4], 1);
    assert_eq!(s.duration_buckets.iter().sum::<u64>(), 2);
}

#[test]
fn table_has_a_line_per_type_with_every_column() {
    let stats = Stats::<Message>::with_clock(fixed_clock);
    stats.attempt(Message::Inform);
    stats.delivered(Message::Inform, Delivery::Fault);
    let table = stats.snapshot(|_| 1).render();
    let lines: Vec<_> = table.lines().collect();
    assert!(lines[0].starts_with("Type"), "{table}");
    for column in [
        "Success",
        "Failed",
        "Faults",
        "Inqueue",
        "Dropped",
        "Last-sent",
    ] {
        assert!(lines[0].contains(column), "{column} missing: {table}");
    }
    let inform: Vec<_> = lines[1].split_whitespace().collect();
    assert_eq!(
        inform,
        ["Inform", "1", "0", "1", "1", "0", "2023-11-14T22:13:20Z"]
    );
    let upload: Vec<_> = lines[6].split_whitespace().collect();
    assert_eq!(upload, ["Upload", "0", "0", "0", "1", "0", "-"]);
    assert!(table.contains("Sessions: 0 ok, 0 failed"), "{table}");
}

#[test]
fn json_keeps_the_table_order_and_names_the_type() {
    let snapshot = Stats::<Message>::new().snapshot(|_| 0);
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["rows"][0]["type"], "Inform");
    assert_eq!(json["rows"][5]["type"], "Upload");
    let keys: Vec<_> = json["rows"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys.len(),
        7,
        "type and the six counters: {keys:?} in {json}"
    );
    let back: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snapshot);
}

#[test]
fn label_values_and_help_are_escaped_per_the_text_format() {
    let mut page = Exposition::new();
    page.family("x_total", prometheus::Kind::Counter, "a \\ b\nc \"q\"");
    page.sample("x_total", &[("type", "a\"b\\c\nd")], 1);
    let text = page.finish();
    assert!(
        text.contains("# HELP x_total a \\\\ b\\nc \"q\"\n"),
        "{text}"
    );
    assert!(
        text.contains("x_total{type=\"a\\\"b\\\\c\\nd\"} 1\n"),
        "{text}"
    );
}

#[test]
fn exposition_parses_and_holds_the_snapshot_figures() {
    let stats = Stats::<Message>::with_clock(fixed_clock);
    stats.attempt(Message::Inform);
    for _ in 0..4 {
        stats.delivered(Message::Inform, Delivery::Answered);
    }
    stats.delivered(Message::Inform, Delivery::Failed);
    stats.delivered(Message::TransferComplete, Delivery::Fault);
    stats.dropped(Message::Download, 2);
    stats.session(true, Duration::from_millis(200));
    stats.session(false, Duration::from_secs(3));
    let mut page = Exposition::new();
    stats
        .snapshot(|m| u64::from(m == Message::TransferComplete))
        .write_prometheus("cwmp", &mut page);
    let scrape = parse(&page.finish());
    let value = |metric: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| s.value.clone())
    };
    use prometheus_parse::Value;
    let total = "cwmp_messages_total";
    let inform = [("type", "Inform"), ("result", "success")];
    assert_eq!(value(total, &inform), Some(Value::Counter(4.0)));
    let failed = [("type", "Inform"), ("result", "failed")];
    assert_eq!(value(total, &failed), Some(Value::Counter(1.0)));
    let fault = [("type", "TransferComplete"), ("result", "fault")];
    assert_eq!(value(total, &fault), Some(Value::Counter(1.0)));
    let dropped = [("type", "Download"), ("result", "dropped")];
    assert_eq!(value(total, &dropped), Some(Value::Counter(2.0)));
    let queued = [("type", "TransferComplete")];
    assert_eq!(
        value("cwmp_messages_inqueue", &queued),
        Some(Value::Gauge(1.0))
    );
    assert_eq!(
        value(
            "cwmp_message_last_sent_timestamp_seconds",
            &[("type", "Inform")]
        ),
        Some(Value::Gauge(1.7e9))
    );
    assert_eq!(
        value("cwmp_sessions_total", &[("result", "failed")]),
        Some(Value::Counter(1.0))
    );
    let Some(Value::Histogram(buckets)) = value("cwmp_session_duration_seconds", &[]) else {
        panic!("no duration histogram");
    };
    let le = |bound: f64| buckets.iter().find(|b| b.less_than == bound).unwrap().count;
    assert_eq!(
        (le(0.1), le(0.25), le(5.0), le(f64::INFINITY)),
        (0.0, 1.0, 2.0, 2.0)
    );
    assert_eq!(
        value("cwmp_session_duration_seconds_sum", &[]),
        Some(Value::Untyped(3.2))
    );
    // 12 types x 4 results, 12 gauges, 1 timestamp, 2 session counters, histogram (1
    // grouped sample), _sum and _count.
    assert_eq!(scrape.samples.len(), 48 + 12 + 1 + 2 + 1 + 2);
}

#[test]
fn a_set_inqueue_gauge_holds_until_set_again_and_adds_to_the_computed_figure() {
    let stats = Stats::<Message>::new();
    stats.set_inqueue(Message::TunnelReport, 3);
    let inqueue = |s: &Stats<Message>| {
        let snapshot = s.snapshot(|m| u64::from(m == Message::TunnelReport));
        snapshot.row("TunnelReport").unwrap().inqueue
    };
    assert_eq!(inqueue(&stats), 4);
    assert_eq!(inqueue(&stats), 4);
    stats.set_inqueue(Message::TunnelReport, 0);
    assert_eq!(inqueue(&stats), 1);
}

#[test]
fn the_readme_names_every_column_and_metric_family_written() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("## Statistics and metrics")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Statistics and metrics section");
    for column in [
        "Success",
        "Faults",
        "Failed",
        "Inqueue",
        "Dropped",
        "Last-sent",
    ] {
        assert!(section.contains(&format!("| {column} |")), "{column}");
    }
    let stats = Stats::<Message>::new();
    stats.attempt(Message::Inform);
    let mut page = Exposition::new();
    stats.snapshot(|_| 0).write_prometheus("cwmp", &mut page);
    for line in page.finish().lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut words = line.split(' ').skip(2);
        let (name, kind) = (words.next().unwrap(), words.next().unwrap());
        assert!(
            section.contains(&format!("| `{name}` | {kind} |")),
            "{name} ({kind}) missing from the README"
        );
    }
}
