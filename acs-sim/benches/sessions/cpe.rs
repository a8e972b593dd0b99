//! The in-process CPEs: each owns one keep-alive HTTP/1.1 connection (hyper's client
//! connection) and runs complete sessions on it (TR-069 Amd 6 §3.7.1): POST the Inform, read
//! the InformResponse and its session cookie, POST empty with the cookie, read the `204`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use schemas::Envelope;
use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct};
use schemas::rpc::{EventCode, Inform};
use schemas::soap::CwmpNamespace;
use schemas::value::DateTime;
use tokio::net::TcpStream;

/// How long any one answer may take: a hang fails the bench.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// One CPE and its connection.
pub(crate) struct Cpe {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    inform: Bytes,
    /// The `name=value` of the session cookie the last Inform got.
    cookie: Option<HeaderValue>,
}

impl Cpe {
    /// Opens the connection of the CPE with serial number `serial`; sends nothing yet.
    pub(crate) async fn connect(addr: SocketAddr, serial: &str) -> Result<Self> {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .context("connect timed out")?
            .context("connect")?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: HeaderValue::try_from(addr.to_string())?,
            inform: Bytes::from(inform(serial)),
            cookie: None,
        })
    }

    /// One complete session.
    pub(crate) async fn session(&mut self) -> Result<()> {
        self.inform().await?;
        self.finish().await
    }

    /// Opens a session: POSTs the Inform, expects `200` with an InformResponse and a cookie.
    pub(crate) async fn inform(&mut self) -> Result<()> {
        self.cookie = None;
        let (status, headers, body) = self.post(self.inform.clone()).await?;
        ensure!(
            status == StatusCode::OK && contains(&body, b"InformResponse>"),
            "the Inform got {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let set = headers
            .get(header::SET_COOKIE)
            .context("the InformResponse sets no cookie")?;
        let pair = set
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        self.cookie = Some(HeaderValue::from_bytes(pair)?);
        Ok(())
    }

    /// Ends the session: POSTs empty with the cookie, expects `204` (§3.7.1.4, §3.4.6).
    pub(crate) async fn finish(&mut self) -> Result<()> {
        let (status, _, body) = self.post(Bytes::new()).await?;
        ensure!(
            status == StatusCode::NO_CONTENT,
            "the empty POST got {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(())
    }

    async fn post(&mut self, body: Bytes) -> Result<(StatusCode, http::HeaderMap, Bytes)> {
        let exchange = async {
            self.sender.ready().await.context("the connection closed")?;
            let mut request = Request::post("/").header(header::HOST, self.host.clone());
            if !body.is_empty() {
                request = request.header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=\"utf-8\""),
                );
            }
            if let Some(cookie) = &self.cookie {
                request = request.header(header::COOKIE, cookie.clone());
            }
            let response = self
                .sender
                .send_request(request.body(Full::new(body))?)
                .await
                .context("no answer")?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.context("answer cut short")?.to_bytes();
            anyhow::Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(WAIT, exchange)
            .await
            .context("no answer in time")?
    }
}

/// Runs sessions until `stop`, counting each completed one in `done`. On an error it sets
/// `stop` too, so the run ends early, and returns the error.
pub(crate) async fn cycle(mut cpe: Cpe, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        if let Err(error) = cpe.session().await {
            stop.store(true, Ordering::Relaxed);
            return Err(error);
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// The serial number of CPE `index`: 1,000 CPEs are 1,000 devices.
pub(crate) fn serial(prefix: &str, index: usize) -> String {
    format!("{prefix}{index:06}")
}

/// A periodic Inform (`2 PERIODIC`) with the TR-181 forced-inform parameters, as the codec
/// benchmark's `inform_1_event` (BENCHMARKS.md), for the device `serial`.
pub(crate) fn inform(serial: &str) -> Vec<u8> {
    const NOW: i64 = 1_748_856_600;
    let parameter_list = vec![
        ParameterValueStruct::new("Device.RootDataModelVersion", "2.15"),
        ParameterValueStruct::new("Device.DeviceInfo.HardwareVersion", "HGW-4000ax rev.B"),
        ParameterValueStruct::new("Device.DeviceInfo.SoftwareVersion", "4.2.1-build.20250517"),
        ParameterValueStruct::new("Device.DeviceInfo.ProvisioningCode", "RES.FTTH.1G"),
        ParameterValueStruct::new("Device.DeviceInfo.UpTime", 1_234_567u32),
        ParameterValueStruct::new("Device.ManagementServer.ParameterKey", "cfg-2025-05-30-01"),
        ParameterValueStruct::new(
            "Device.ManagementServer.ConnectionRequestURL",
            "http://198.51.100.23:7547/a1b2c3d4e5f6",
        ),
        ParameterValueStruct::new("Device.ManagementServer.AliasBasedAddressing", false),
        ParameterValueStruct::new(
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            "198.51.100.23",
        ),
    ];
    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example Networks".into(),
            oui: "00D09E".into(),
            product_class: "HGW-4000ax".into(),
            serial_number: serial.into(),
        },
        event: vec![EventStruct::new(EventCode::Periodic)],
        max_envelopes: 1,
        current_time: DateTime::from_unix(NOW, 0).expect("in range"),
        retry_count: 0,
        parameter_list,
    };
    Envelope::new(CwmpNamespace::V1_2, inform)
        .with_id("1748856600001")
        .write()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
