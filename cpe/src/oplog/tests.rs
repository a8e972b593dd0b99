use std::io;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

use super::*;
use crate::config::{ConfigError, LogFormat, LogSection};

/// What the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the real subscriber for this thread, writing to the returned capture.
fn capture(config: &LogConfig) -> (Capture, tracing::subscriber::DefaultGuard) {
    let out = Capture::default();
    let writer = out.clone();
    let subscriber = subscriber(
        config,
        "cpe",
        EnvFilter::new("info"),
        move || writer.clone(),
        false,
    )
    .expect("subscriber");
    (out, tracing::subscriber::set_default(subscriber))
}

fn throttled(limit: u32) -> LogConfig {
    LogConfig {
        throttle: limit,
        ..LogConfig::default()
    }
}

fn fail(n: u32) {
    crate::oplog!(
        CWMP_SESSION_FAILED,
        error = "connection refused",
        n,
        "CWMP session failed"
    );
}

fn count(lines: &[String], code: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(&format!("{code}: ")))
        .count()
}

// --- the subscriber, as the programs install it ---

#[tokio::test(start_paused = true)]
async fn thousand_identical_failures_in_a_minute_write_the_limit_plus_one_summary() {
    let (out, _guard) = capture(&throttled(5));
    for n in 0..1000 {
        fail(n);
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    // 50 s of failures; the window ends at 60 s and the periodic flush reports it.
    tokio::time::advance(Duration::from_secs(11)).await;
    flush();
    let lines = out.lines();
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert_eq!(count(&lines[..5], "CWMP-3-SESSION_FAILED"), 5);
    assert!(
        lines[5].contains(
            "LOG-4-THROTTLED: CWMP-3-SESSION_FAILED: 995 similar lines suppressed in the last 60 s"
        ),
        "{}",
        lines[5]
    );
}

#[tokio::test(start_paused = true)]
async fn the_summary_comes_before_the_first_line_of_the_next_window() {
    let (out, _guard) = capture(&throttled(2));
    for n in 0..10 {
        fail(n);
    }
    tokio::time::advance(WINDOW).await;
    fail(10);
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[2].contains("LOG-4-THROTTLED: CWMP-3-SESSION_FAILED: 8 similar"));
    assert!(lines[3].contains("CWMP-3-SESSION_FAILED: CWMP session failed"));
    assert!(lines[3].contains("n=10"));
}

#[tokio::test(start_paused = true)]
async fn a_flush_inside_the_window_reports_nothing() {
    let (out, _guard) = capture(&throttled(1));
    for n in 0..3 {
        fail(n);
    }
    tokio::time::advance(WINDOW - Duration::from_secs(1)).await;
    flush();
    assert_eq!(out.lines().len(), 1);
}

#[tokio::test]
async fn throttle_zero_writes_every_line() {
    let (out, _guard) = capture(&throttled(0));
    for n in 0..1000 {
        fail(n);
    }
    flush();
    assert_eq!(count(&out.lines(), "CWMP-3-SESSION_FAILED"), 1000);
}

#[tokio::test]
async fn codes_are_throttled_separately_and_uncoded_lines_not_at_all() {
    let (out, _guard) = capture(&throttled(3));
    for n in 0..10 {
        fail(n);
        crate::oplog!(CWMP_SESSION_OK, n, "CWMP session completed");
        tracing::info!(n, "an uncoded line");
    }
    let lines = out.lines();
    assert_eq!(count(&lines, "CWMP-3-SESSION_FAILED"), 3);
    assert_eq!(count(&lines, "CWMP-6-SESSION_OK"), 3);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("an uncoded line"))
            .count(),
        10
    );
}

#[test]
fn a_text_line_starts_with_the_code_at_the_codes_level() {
    let (out, _guard) = capture(&LogConfig::default());
    crate::oplog!(CWMP_SESSION_FAILED, error = %"HTTP 500", "CWMP session failed");
    crate::oplog!(CWMP_SESSION_OK, version = "1.4", "CWMP session completed");
    let lines = out.lines();
    assert!(
        lines[0].ends_with(
            " ERROR cpe::oplog::tests: CWMP-3-SESSION_FAILED: CWMP session failed error=HTTP 500"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(
            " INFO cpe::oplog::tests: CWMP-6-SESSION_OK: CWMP session completed version=\"1.4\""
        ),
        "{}",
        lines[1]
    );
}

#[test]
fn a_json_line_carries_the_code_field() {
    let config = LogConfig {
        format: LogFormat::Json,
        ..LogConfig::default()
    };
    let (out, _guard) = capture(&config);
    crate::oplog!(
        ZTP_ACS_URL_LEARNED,
        url = "http://acs/",
        "DHCP gave a new ACS URL"
    );
    let lines = out.lines();
    let line: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["code"], "ZTP-6-ACS_URL_LEARNED");
    assert_eq!(line["fields"]["message"], "DHCP gave a new ACS URL");
    assert_eq!(line["fields"]["url"], "http://acs/");
}

#[test]
fn lines_below_the_filter_are_neither_written_nor_counted() {
    let out = Capture::default();
    let writer = out.clone();
    let subscriber = subscriber(
        &throttled(1),
        "cpe",
        EnvFilter::new("warn"),
        move || writer.clone(),
        false,
    )
    .expect("subscriber");
    let _guard = tracing::subscriber::set_default(subscriber);
    for n in 0..5 {
        crate::oplog!(CWMP_SESSION_OK, n, "CWMP session completed");
    }
    fail(0);
    assert_eq!(out.lines().len(), 1);
}

// --- syslog ---

fn syslog_pair(throttle: u32) -> (tempfile::TempDir, UnixDatagram, LogConfig) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let daemon = UnixDatagram::bind(&path).expect("bind");
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let config = LogConfig {
        throttle,
        syslog: Some(path),
        ..LogConfig::default()
    };
    (dir, daemon, config)
}

fn received(daemon: &UnixDatagram) -> Vec<String> {
    daemon.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0; 2048];
    let mut all = Vec::new();
    while let Ok(n) = daemon.recv(&mut buf) {
        all.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    all
}

#[test]
fn coded_lines_reach_the_syslog_socket_with_the_daemon_facility_and_the_codes_severity() {
    let (_dir, daemon, config) = syslog_pair(5);
    let (_out, _guard) = capture(&config);
    crate::oplog!(CWMP_SESSION_FAILED, error = %"HTTP 500", "CWMP session failed");
    crate::oplog!(CLOUD_COMM_RESTORED, "cloud-management tunnel established");
    tracing::warn!("an uncoded line");
    let pid = std::process::id();
    assert_eq!(
        received(&daemon),
        [
            // daemon (3) * 8 + error (3); daemon * 8 + notice (5).
            format!("<27>cpe[{pid}]: CWMP-3-SESSION_FAILED: CWMP session failed error=HTTP 500"),
            format!("<29>cpe[{pid}]: CLOUD-5-COMM_RESTORED: cloud-management tunnel established"),
        ]
    );
}

#[test]
fn throttled_lines_do_not_reach_syslog() {
    let (_dir, daemon, config) = syslog_pair(2);
    let (_out, _guard) = capture(&config);
    for n in 0..50 {
        fail(n);
    }
    assert_eq!(received(&daemon).len(), 2);
}

#[test]
fn a_syslog_datagram_is_one_line_of_at_most_1024_bytes() {
    let long = format!("first\nsecond {}", "é".repeat(1000));
    let datagram = syslog::datagram(3, "cpe[1]", &long);
    assert!(datagram.len() <= MAX_DATAGRAM && datagram.len() >= MAX_DATAGRAM - 1);
    let text = String::from_utf8(datagram).expect("cut at a character boundary");
    assert!(text.starts_with("<27>cpe[1]: first second éé"));
}

#[test]
fn a_missing_syslog_socket_is_an_error_naming_the_field_and_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        syslog: Some(dir.path().join("absent")),
        ..LogConfig::default()
    };
    let error = subscriber(&config, "cpe", EnvFilter::new("info"), io::sink, false)
        .err()
        .expect("refused");
    let text = error.to_string();
    assert!(text.starts_with("log.syslog: cannot send to "), "{text}");
    assert!(text.contains("absent"), "{text}");
}

// --- the sans-IO throttle ---

#[test]
fn the_throttle_admits_the_limit_per_window_and_reports_each_window_once() {
    let mut throttle = Throttle::new(3, WINDOW);
    let start = Instant::now();
    let admitted = (0..10)
        .filter(|_| throttle.admit(&CWMP_SESSION_FAILED, start))
        .count();
    assert_eq!(admitted, 3);
    assert_eq!(
        throttle.take_due(start + WINDOW - Duration::from_millis(1)),
        []
    );
    let due = throttle.take_due(start + WINDOW);
    assert_eq!(
        due,
        [Suppressed {
            code: &CWMP_SESSION_FAILED,
            count: 7,
            window: WINDOW
        }]
    );
    assert_eq!(throttle.take_due(start + WINDOW * 2), []);
    assert!(throttle.admit(&CWMP_SESSION_FAILED, start + WINDOW));
}

#[test]
fn a_window_closed_by_a_new_line_is_reported_at_the_next_take() {
    let mut throttle = Throttle::new(1, WINDOW);
    let start = Instant::now();
    for _ in 0..4 {
        throttle.admit(&CWMP_SESSION_FAILED, start);
    }
    // The next window opens with a line: admitted, and the closed one's 3 are kept.
    assert!(throttle.admit(&CWMP_SESSION_FAILED, start + WINDOW));
    assert!(!throttle.admit(&CWMP_SESSION_FAILED, start + WINDOW));
    assert!(throttle.admit(&CWMP_SESSION_FAILED, start + WINDOW * 2));
    let due = throttle.take_due(start + WINDOW * 2);
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].count, 4);
}

#[test]
fn the_throttle_holds_one_window_per_code() {
    let mut throttle = Throttle::new(1, WINDOW);
    let start = Instant::now();
    for code in CODES {
        for _ in 0..100 {
            throttle.admit(code, start);
        }
    }
    let due = throttle.take_due(start + WINDOW);
    assert_eq!(due.len(), CODES.len());
    assert!(due.iter().all(|s| s.count == 99));
}

// --- the table ---

#[test]
fn every_code_is_well_formed_and_unique() {
    let mut ids: Vec<&str> = CODES.iter().map(|c| c.id).collect();
    for code in CODES {
        assert_eq!(
            code.id,
            format!("{}-{}-{}", code.facility, code.severity, code.mnemonic)
        );
        assert!(code.severity <= 7, "{}", code.id);
        let upper = |s: &str| s.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        assert!(upper(code.facility) && upper(code.mnemonic), "{}", code.id);
        assert!(!code.meaning.is_empty() && !code.meaning.contains('|'));
        assert_eq!(Code::find(code.id), Some(code));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CODES.len());
}

#[test]
fn severities_map_to_tracing_levels() {
    let level = |severity| {
        Code {
            severity,
            ..CWMP_SESSION_OK
        }
        .level()
    };
    use tracing::Level;
    assert_eq!(
        (0..=7).map(level).collect::<Vec<_>>(),
        [
            Level::ERROR,
            Level::ERROR,
            Level::ERROR,
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::INFO,
            Level::DEBUG
        ]
    );
}

#[test]
fn the_readme_table_lists_exactly_the_codes() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("\n## Log codes\n")
        .nth(1)
        .expect("README.md has a \"## Log codes\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let rows: Vec<&str> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect();
    let expected: Vec<String> = CODES
        .iter()
        .map(|c| {
            format!(
                "| `{}` | {} {} | {} |",
                c.id,
                c.severity,
                c.severity_name(),
                c.meaning
            )
        })
        .collect();
    assert_eq!(rows, expected);
}

// --- the [log] section ---

fn resolve(section: &str) -> Result<LogConfig, ConfigError> {
    let section: LogSection = toml::from_str(section).expect("TOML");
    LogConfig::resolve(section, None)
}

#[test]
fn the_log_section_defaults_to_text_five_per_minute_no_syslog() {
    assert_eq!(resolve("").expect("valid"), LogConfig::default());
    assert_eq!(LogConfig::default().throttle, 5);
}

#[test]
fn syslog_true_means_dev_log_and_a_string_is_a_socket_path() {
    let on = resolve("syslog = true").expect("valid");
    assert_eq!(on.syslog.as_deref(), Some(std::path::Path::new("/dev/log")));
    assert_eq!(resolve("syslog = false").expect("valid").syslog, None);
    let path = resolve("syslog = \"/run/log.sock\"").expect("valid");
    assert_eq!(
        path.syslog.as_deref(),
        Some(std::path::Path::new("/run/log.sock"))
    );
}

#[test]
fn out_of_range_log_values_name_the_field_and_the_range() {
    let error = resolve("throttle = 10001").expect_err("refused");
    assert_eq!(
        error.to_string(),
        "`log.throttle` = 10001: lines per code per minute, 0 (no limit) to 10000"
    );
    let long = format!("syslog = \"/{}\"", "x".repeat(107));
    let error = resolve(&long).expect_err("refused");
    assert!(error.to_string().starts_with("`log.syslog` = /xxx"));
    let error = resolve("syslog = \"\"").expect_err("refused");
    assert!(error.to_string().contains("1 to 107 bytes"));
    assert_eq!(resolve("throttle = 0").expect("valid").throttle, 0);
}
