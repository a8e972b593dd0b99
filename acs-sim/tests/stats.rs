//! acs-sim's call-home statistics over real loopback sockets: a scripted CPE answers, refuses
//! and abandons the ACS's requests, Connection Requests go to a closed port and to a device
//! that refuses them, then `GET /api/stats` and `GET /metrics` (parsed with a Prometheus
//! text-format parser) on the REST listener hold the exact figures.

#[path = "server/support.rs"]
mod support;

use std::sync::Arc;

use acs_sim::store::TaskName;
use http::StatusCode;
use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::{EventCode, FaultCode, GetParameterValuesResponse, SoapFault};
use schemas::{Body, Envelope};
use support::{TestAcs, TestCpe, config, device, reply_to};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SOFTWARE_VERSION: &str = "Device.DeviceInfo.SoftwareVersion";

/// [`support::inform`] of device `serial`, also reporting `connreq_url` as its
/// ConnectionRequestURL.
fn inform(serial: &str, connreq_url: &str) -> Vec<u8> {
    let mut envelope = Envelope::parse(&support::inform(serial, EventCode::Periodic)).unwrap();
    let Body::Inform(inform) = &mut envelope.body else {
        unreachable!("support::inform writes an Inform")
    };
    inform.parameter_list.push(ParameterValueStruct::new(
        "Device.ManagementServer.ConnectionRequestURL",
        connreq_url,
    ));
    envelope.write()
}

/// Opens a session and takes the ACS's first request (or its 204).
async fn open(cpe: &mut TestCpe, serial: &str, url: &str) -> support::Answer {
    assert_eq!(cpe.post(inform(serial, url)).await.name(), "InformResponse");
    cpe.post("").await
}

fn gpv_response() -> GetParameterValuesResponse {
    GetParameterValuesResponse {
        parameter_list: vec![ParameterValueStruct::new(SOFTWARE_VERSION, "1.0")],
    }
}

/// A device's Connection Request server that answers every request 503 (it limits them).
async fn refusing_device() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    url
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: acs\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text.split_once("\r\n\r\n").unwrap().1.to_owned())
}

#[tokio::test]
async fn requests_answered_refused_and_abandoned_give_exact_counts_on_api_stats_and_metrics() {
    let acs = TestAcs::start(config()).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/cr", listener.local_addr().unwrap())
    };
    let refusing = refusing_device().await;
    let mut cpe = acs.cpe();

    // Session 1: nothing queued.
    assert_eq!(
        open(&mut cpe, "SN1", &closed).await.status,
        StatusCode::NO_CONTENT
    );
    // Session 2: a GetParameterValues, answered.
    let gpv = serde_json::json!({ "parameterNames": [SOFTWARE_VERSION] });
    acs.add_task(&device("SN1"), TaskName::GetParameterValues, gpv.clone());
    let request = open(&mut cpe, "SN1", &closed).await;
    assert_eq!(request.name(), "GetParameterValues");
    let end = cpe
        .post(reply_to(&request.envelope(), gpv_response()))
        .await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);
    // Session 3: a Reboot, refused with a CWMP Fault.
    acs.add_task(&device("SN1"), TaskName::Reboot, serde_json::json!({}));
    let request = open(&mut cpe, "SN1", &closed).await;
    assert_eq!(request.name(), "Reboot");
    let fault = SoapFault::from(FaultCode::InternalError);
    let end = cpe.post(reply_to(&request.envelope(), fault)).await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);
    // Session 4: a GetParameterValues the CPE abandons with a new Inform, which opens
    // session 5, where it is sent again and answered.
    acs.add_task(&device("SN1"), TaskName::GetParameterValues, gpv);
    assert_eq!(
        open(&mut cpe, "SN1", &closed).await.name(),
        "GetParameterValues"
    );
    let again = open(&mut cpe, "SN1", &refusing).await;
    assert_eq!(again.name(), "GetParameterValues");
    let end = cpe.post(reply_to(&again.envelope(), gpv_response())).await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);
    cpe.validate();

    // A Connection Request refused with 503, then one to a port nobody listens on.
    let refused = acs_sim::connreq::kick(&acs.acs, &device("SN1")).await;
    assert!(refused.is_err());
    let mut other = acs.cpe();
    assert_eq!(
        open(&mut other, "SN2", &closed).await.status,
        StatusCode::NO_CONTENT
    );
    let unreachable = acs_sim::connreq::kick(&acs.acs, &device("SN2")).await;
    assert!(unreachable.is_err());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nbi = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(acs_sim::nbi::serve(listener, Arc::clone(&acs.acs), async {
        let _ = stopped.await;
    }));

    let (status, body) = get(nbi, "/api/stats").await;
    assert_eq!(status, 200);
    let stats: cpe::stats::Snapshot = serde_json::from_str(&body).unwrap();
    let row = |name: &str| *stats.row(name).unwrap();
    let counts = |c: cpe::stats::Counters| (c.success, c.failed, c.faults, c.inqueue, c.dropped);
    assert_eq!(counts(row("GetParameterValues")), (2, 1, 0, 0, 0));
    assert_eq!(counts(row("Reboot")), (1, 0, 1, 0, 0));
    assert_eq!(counts(row("ConnectionRequest")), (1, 1, 1, 0, 0));
    for name in ["GetParameterValues", "Reboot", "ConnectionRequest"] {
        assert!(row(name).last_sent.is_some(), "{name}");
    }
    let untouched: Vec<_> = stats
        .rows
        .iter()
        .filter(|r| {
            !["GetParameterValues", "Reboot", "ConnectionRequest"].contains(&r.message.as_str())
        })
        .filter(|r| r.counters != cpe::stats::Counters::default())
        .collect();
    assert!(untouched.is_empty(), "{untouched:?}");
    assert_eq!((stats.sessions.ok, stats.sessions.failed), (5, 1));

    let (status, page) = get(nbi, "/metrics").await;
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(page.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |metric: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| s.value.clone())
            .unwrap_or_else(|| panic!("no {metric} {labels:?}"))
    };
    use prometheus_parse::Value::Counter;
    for (message, result, expected) in [
        ("GetParameterValues", "success", 2.0),
        ("GetParameterValues", "failed", 1.0),
        ("Reboot", "success", 1.0),
        ("Reboot", "fault", 1.0),
        ("ConnectionRequest", "success", 1.0),
        ("ConnectionRequest", "failed", 1.0),
        ("ConnectionRequest", "fault", 1.0),
        ("Download", "success", 0.0),
    ] {
        assert_eq!(
            value(
                "cwmp_messages_total",
                &[("type", message), ("result", result)]
            ),
            Counter(expected),
            "{message} {result}"
        );
    }
    assert_eq!(
        value("cwmp_sessions_total", &[("result", "ok")]),
        Counter(5.0)
    );
    assert_eq!(
        value("cwmp_sessions_total", &[("result", "failed")]),
        Counter(1.0)
    );
    assert_eq!(
        value("cwmp_session_duration_seconds_count", &[]),
        prometheus_parse::Value::Untyped(6.0)
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    acs.stop().await;
}
