//! Call-home statistics: a scripted run of sessions with known successes, faults and failures
//! over the real transport, then every counter, `cpe stats` and `/metrics` (parsed with a
//! Prometheus text-format parser).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cpe::agent::driver::{self, SessionHandler};
use cpe::control::{self, Request, Response};
use cpe::session::{SessionConfig, SessionEvent};
use cpe::stats::server::{MetricsServer, Render};
use cpe::stats::{Counters, Message, Snapshot, Stats};
use cpe::transport::{Client, TransportConfig};
use schemas::rpc::types::{DeviceIdStruct, EventStruct};
use schemas::rpc::*;
use schemas::{Body, Envelope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::cwmp::{reply, script, wait_informs};
use crate::support::{Running, agent_config, validate};

const T0: u64 = 1_700_000_000;

fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0)
}

struct Counted(Stats<Message>);

impl SessionHandler for Counted {
    fn request(&mut self, _: Body) -> Body {
        SoapFault::from(FaultCode::MethodNotSupported).into()
    }

    fn event(&mut self, _: SessionEvent) {}

    fn stats(&self) -> Option<Stats<Message>> {
        Some(self.0.clone())
    }
}

fn session(with_transfer_complete: bool) -> SessionConfig {
    let mut config = SessionConfig::new(Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: "SN1".into(),
        },
        event: vec![EventStruct::new(EventCode::Periodic)],
        max_envelopes: 1,
        ..Inform::default()
    });
    if with_transfer_complete {
        config.requests.push(TransferComplete::default().into());
    }
    config
}

/// Fetches `path` from `addr` with `method`: the status and the body.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: cpe\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// A parsed `/metrics` page: `(name, sorted labels)` to value.
type Page = HashMap<(String, Vec<(String, String)>), f64>;

/// The samples of a `/metrics` page: `(name, sorted labels)` to value; histograms by their
/// `le` bound.
fn samples(page: &str) -> Page {
    let scrape = prometheus_parse::Scrape::parse(page.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let mut out = HashMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<_> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => {
                out.insert((sample.metric, labels), v);
            }
            prometheus_parse::Value::Histogram(buckets) => {
                for b in buckets {
                    let mut labels = labels.clone();
                    labels.push(("le".into(), b.less_than.to_string()));
                    out.insert((sample.metric.clone(), labels), b.count);
                }
            }
            prometheus_parse::Value::Summary(_) => panic!("no summaries are written"),
        }
    }
    out
}

fn metric(samples: &Page, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut key: Vec<_> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    key.sort();
    *samples
        .get(&(name.to_owned(), key))
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

/// Every figure of `row` on the page matches the snapshot's.
fn assert_row_on_page(page: &Page, message: &str, c: &Counters) {
    for (result, value) in [
        ("success", c.success),
        ("failed", c.failed),
        ("fault", c.faults),
        ("dropped", c.dropped),
    ] {
        let got = metric(
            page,
            "cwmp_messages_total",
            &[("type", message), ("result", result)],
        );
        assert_eq!(got, value as f64, "{message} {result}");
    }
    let inqueue = metric(page, "cwmp_messages_inqueue", &[("type", message)]);
    assert_eq!(inqueue, c.inqueue as f64, "{message} inqueue");
}

#[tokio::test]
async fn a_scripted_run_gives_every_counter_its_exact_value_in_the_table_and_on_metrics() {
    // Informs 1-4 are accepted, 5 is refused with 8005, 6 gets HTTP 500; the first
    // TransferComplete is accepted, the second refused with a SOAP Fault.
    let (mut informs, mut transfer_completes) = (0, 0);
    let acs = ScriptedAcs::start(move |request| {
        if request.body.is_empty() {
            return HttpResponse::no_content();
        }
        match Envelope::parse(&request.body).unwrap().body {
            Body::Inform(_) => {
                informs += 1;
                match informs {
                    5 => reply(SoapFault::from(FaultCode::AcsRetryRequest)),
                    6 => HttpResponse {
                        status: 500,
                        ..HttpResponse::no_content()
                    },
                    _ => reply(InformResponse { max_envelopes: 1 }),
                }
            }
            Body::TransferComplete(_) => {
                transfer_completes += 1;
                if transfer_completes == 1 {
                    reply(TransferCompleteResponse {})
                } else {
                    reply(SoapFault::from(FaultCode::AcsInternalError))
                }
            }
            other => panic!("unexpected {}", other.name()),
        }
    })
    .await;
    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/acs", listener.local_addr().unwrap())
    };
    let stats = Stats::<Message>::with_clock(fixed_clock);
    let mut handler = Counted(stats.clone());
    let client = Client::new(TransportConfig::default()).unwrap();
    let script = [
        (&acs.url, true, true),
        (&acs.url, false, true),
        (&acs.url, false, true),
        (&acs.url, true, true),
        (&acs.url, false, false),
        (&acs.url, false, false),
        (&unreachable, false, false),
        (&unreachable, false, false),
    ];
    for (url, with_tc, completes) in script {
        let report = driver::run(
            &client,
            url.parse().unwrap(),
            None,
            session(with_tc),
            &mut handler,
        )
        .await;
        assert_eq!(report.result.is_ok(), completes, "{:?}", report.result);
    }
    validate(
        &acs.requests()
            .iter()
            .map(|r| r.body.clone())
            .collect::<Vec<_>>(),
    );

    let snapshot = stats.snapshot(|_| 0);
    let inform = Counters {
        success: 5,
        failed: 3,
        faults: 1,
        inqueue: 0,
        dropped: 0,
        last_sent: Some(T0 as i64),
    };
    assert_eq!(*snapshot.row("Inform").unwrap(), inform);
    let transfer_complete = Counters {
        success: 2,
        faults: 1,
        last_sent: Some(T0 as i64),
        ..Counters::default()
    };
    assert_eq!(
        *snapshot.row("TransferComplete").unwrap(),
        transfer_complete
    );
    for untouched in [
        "AutonomousTransferComplete",
        "GetRPCMethods",
        "Download",
        "Upload",
    ] {
        assert_eq!(
            *snapshot.row(untouched).unwrap(),
            Counters::default(),
            "{untouched}"
        );
    }
    assert_eq!((snapshot.sessions.ok, snapshot.sessions.failed), (4, 4));
    assert!(snapshot.sessions.duration_sum_us > 0);

    let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let render: Render = {
        let stats = stats.clone();
        Arc::new(move || {
            let mut page = cpe::stats::prometheus::Exposition::new();
            stats.snapshot(|_| 0).write_prometheus("cwmp", &mut page);
            page.finish()
        })
    };
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let task = tokio::spawn(server.serve(render, async move { stopped.notified().await }));
    let (status, body) = http(addr, "GET", "/metrics").await;
    assert_eq!(status, 200);
    let page = samples(&body);
    assert_row_on_page(&page, "Inform", &inform);
    assert_row_on_page(&page, "TransferComplete", &transfer_complete);
    let last = metric(
        &page,
        "cwmp_message_last_sent_timestamp_seconds",
        &[("type", "Inform")],
    );
    assert_eq!(last, T0 as f64);
    assert_eq!(
        metric(&page, "cwmp_sessions_total", &[("result", "ok")]),
        4.0
    );
    assert_eq!(
        metric(&page, "cwmp_sessions_total", &[("result", "failed")]),
        4.0
    );
    let all = metric(&page, "cwmp_session_duration_seconds", &[("le", "inf")]);
    assert_eq!(all, 8.0);
    assert_eq!(
        metric(&page, "cwmp_session_duration_seconds_count", &[]),
        8.0
    );
    assert_eq!(http(addr, "POST", "/metrics").await.0, 405);
    assert_eq!(http(addr, "GET", "/other").await.0, 404);
    stop.notify_one();
    task.await.unwrap();
}

#[tokio::test]
async fn the_agent_answers_cpe_stats_and_serves_the_same_figures_at_metrics() {
    let acs = ScriptedAcs::start(script(None)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(Default::default(), &acs.url, dir.path());
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let agent = cpe::agent::Agent::start(config).await.unwrap();
    let addr = agent.metrics_addr().expect("the endpoint is on");
    let running = Running::spawn(agent);
    wait_informs(&acs, 1).await;
    let snapshot: Snapshot = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Response::Stats(s)) = control::request(dir.path(), &Request::Stats).await
                && s.sessions.ok == 1
            {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the session is counted");
    let inform = snapshot.row("Inform").unwrap();
    assert_eq!((inform.success, inform.failed, inform.faults), (1, 0, 0));
    assert_eq!(inform.inqueue, 0, "the boot events were delivered");
    let (status, body) = http(addr, "GET", "/metrics").await;
    assert_eq!(status, 200);
    let page = samples(&body);
    for row in &snapshot.rows {
        assert_row_on_page(&page, &row.message, &row.counters);
    }
    assert_eq!(
        metric(&page, "cwmp_sessions_total", &[("result", "ok")]),
        1.0
    );
    running.stop().await;
}

#[tokio::test]
async fn the_metrics_endpoint_is_off_by_default() {
    let acs = ScriptedAcs::start(script(None)).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = cpe::agent::Agent::start(agent_config(Default::default(), &acs.url, dir.path()))
        .await
        .unwrap();
    assert_eq!(agent.metrics_addr(), None);
}
