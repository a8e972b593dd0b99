//! What the CWMP endpoint's tests share, for any acs-sim test that needs an ACS on loopback or
//! a scripted CPE: [`TestAcs`] (the endpoint on `127.0.0.1:0` over a MemoryStore),
//! [`TestCpe`] (raw HTTP/1.1 over hyper's client connection, optionally TLS, with cookies,
//! Basic/Digest answers and a client timeout), CWMP message builders, and a test PKI.
//!
//! Several test binaries include this file, each using part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::files::FileStore;
use acs_sim::scenario::Scenario;
use acs_sim::server::{COOKIE_NAME, Endpoint, Limits};
use acs_sim::store::{DeviceId, MemoryStore, NewTask, Store, Task, TaskFilter, TaskName};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct};
use schemas::rpc::{EventCode, Inform};
use schemas::soap::{CwmpNamespace, CwmpVersion};
use schemas::{Body, Envelope};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

#[path = "../../../cpe/tests/agent/support/pki.rs"]
pub(crate) mod pki;

/// Runs the `cpe` agent of `config` in this process until the returned sender is dropped
/// (or sends `true`).
pub(crate) async fn run_agent(config: cpe::config::Config) -> watch::Sender<bool> {
    let agent = cpe::agent::Agent::start(config).await.unwrap();
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(agent.run_until(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    stop
}

/// How long a test CPE waits for any answer: a hang fails the test.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// An ACS configuration for tests: no credentials provisioning, so sessions stay minimal.
pub(crate) fn config() -> AcsConfig {
    let mut config = AcsConfig::default();
    config.connreq.provision = false;
    config
}

/// The CWMP endpoint serving on a loopback port until [`TestAcs::stop`].
pub(crate) struct TestAcs {
    pub(crate) acs: Arc<Acs>,
    pub(crate) endpoint: Endpoint,
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl TestAcs {
    /// Plain HTTP with `config`.
    pub(crate) async fn start(config: AcsConfig) -> Self {
        Self::start_with(config, None).await
    }

    /// HTTPS when `tls` is given.
    pub(crate) async fn start_with(
        config: AcsConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        Self::start_limited(config, tls, Limits::default()).await
    }

    /// With `limits`.
    pub(crate) async fn start_limited(
        config: AcsConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: Limits,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::new(dir.path().join("files")).unwrap();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let acs = Acs::new(store, config, Scenario::default(), files);
        let endpoint = Endpoint::new(Arc::clone(&acs), limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let serving = endpoint.clone();
        let task = tokio::spawn(async move {
            serving
                .serve(listener, tls, async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            acs,
            endpoint,
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// The store behind the ACS.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.acs.store
    }

    /// A scripted CPE for this ACS over plain HTTP.
    pub(crate) fn cpe(&self) -> TestCpe {
        TestCpe::new(self.addr)
    }

    /// Queues a task for `device`.
    pub(crate) fn add_task(
        &self,
        device: &DeviceId,
        name: TaskName,
        arguments: serde_json::Value,
    ) -> Task {
        self.store()
            .add_task(&NewTask {
                device: device.clone(),
                name,
                arguments,
                timestamp: acs_sim::acs::unix_now(),
            })
            .unwrap()
    }

    /// The device's tasks still in the queue (any state).
    pub(crate) fn tasks(&self, device: &DeviceId) -> Vec<Task> {
        self.store()
            .tasks(&TaskFilter::default().device(device.clone()))
            .unwrap()
    }

    /// Stops the endpoint and waits until it has.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(CLIENT_TIMEOUT, &mut self.task)
            .await
            .expect("the endpoint stops")
            .unwrap()
            .unwrap();
    }
}

/// One HTTP answer of the ACS.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The SOAP envelope of a `200`.
    pub(crate) fn envelope(&self) -> Envelope {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected an envelope: {self:?}"
        );
        Envelope::parse(&self.body).unwrap_or_else(|e| panic!("unreadable answer ({e}): {self:?}"))
    }

    /// The message name of a `200`, or `204` for No Content.
    pub(crate) fn name(&self) -> &'static str {
        if self.status == StatusCode::NO_CONTENT {
            return "204";
        }
        self.envelope().body.name()
    }

    /// The JSON body of a REST answer.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The fault code of a SOAP Fault answer.
    pub(crate) fn fault_code(&self) -> u32 {
        match self.envelope().body {
            Body::Fault(fault) => fault.detail.expect("a CWMP fault").fault_code.code(),
            other => panic!("expected a fault, got {}", other.name()),
        }
    }
}

/// TLS settings of a [`TestCpe`].
#[derive(Clone)]
pub(crate) struct ClientTls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) server_name: rustls_pki_types::ServerName<'static>,
}

impl ClientTls {
    /// Trusts the test PKI's CA, for `127.0.0.1`.
    pub(crate) fn trusting(pki: &pki::Pki) -> Self {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from_pem_file(&pki.ca_file).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
            server_name: rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
        }
    }
}

/// A scripted CPE: POSTs bodies on one keep-alive connection (reopened when closed), keeps
/// the session cookie when [`TestCpe::cookies`] is on, and records every envelope received.
pub(crate) struct TestCpe {
    addr: SocketAddr,
    tls: Option<ClientTls>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Return the ACS's session cookie (on by default).
    pub(crate) cookies: bool,
    /// The session cookie last set by the ACS.
    pub(crate) cookie: Option<String>,
    /// Sent as `Authorization` on every POST.
    pub(crate) authorization: Option<String>,
    /// Every envelope the ACS answered with, for schema validation.
    pub(crate) received: Vec<Bytes>,
}

impl TestCpe {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: None,
            sender: None,
            cookies: true,
            cookie: None,
            authorization: None,
            received: Vec::new(),
        }
    }

    /// The same CPE over TLS.
    pub(crate) fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Closes the connection; the next POST opens a new one.
    pub(crate) fn disconnect(&mut self) {
        self.sender = None;
    }

    /// POSTs `body` to `/` and returns the ACS's answer; panics if the ACS hangs up, and
    /// after [`CLIENT_TIMEOUT`].
    pub(crate) async fn post(&mut self, body: impl Into<Bytes>) -> Answer {
        self.try_post(body)
            .await
            .unwrap_or_else(|e| panic!("the ACS answers: {e}"))
    }

    /// POSTs `body` to `/`, for an ACS that may be gone: refused connections and connections
    /// closed without an answer are errors (the next POST opens a new connection); panics
    /// after [`CLIENT_TIMEOUT`].
    pub(crate) async fn try_post(&mut self, body: impl Into<Bytes>) -> Result<Answer, PostError> {
        let body = body.into();
        let answer = tokio::time::timeout(CLIENT_TIMEOUT, self.exchange(body))
            .await
            .expect("the ACS answers or hangs up in time");
        if answer.is_err() {
            self.sender = None;
        }
        answer
    }

    /// POSTs `body`, answering one `401` with `username`/`password` (Basic or Digest, as
    /// challenged).
    pub(crate) async fn post_authenticated(
        &mut self,
        body: impl Into<Bytes>,
        username: &str,
        password: &str,
    ) -> Answer {
        let body = body.into();
        let first = self.post(body.clone()).await;
        if first.status != StatusCode::UNAUTHORIZED {
            return first;
        }
        let challenge = first
            .headers
            .get(header::WWW_AUTHENTICATE)
            .expect("a 401 carries a challenge")
            .to_str()
            .unwrap();
        let mut client = http_auth::PasswordClient::try_from(challenge).unwrap();
        let authorization = client
            .respond(&http_auth::PasswordParams {
                username,
                password,
                uri: "/",
                method: "POST",
                body: Some(&body),
            })
            .unwrap();
        self.authorization = Some(authorization);
        self.post(body).await
    }

    async fn exchange(&mut self, body: Bytes) -> Result<Answer, PostError> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender.ready().await.map_err(PostError::Http)?;
        let mut request = Request::post("/")
            .header(header::HOST, self.addr.to_string())
            .header(header::CONTENT_TYPE, "text/xml; charset=\"utf-8\"");
        if let (true, Some(cookie)) = (self.cookies, &self.cookie) {
            request = request.header(header::COOKIE, format!("{COOKIE_NAME}={cookie}"));
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let response = sender
            .send_request(request.body(Full::new(body)).unwrap())
            .await
            .map_err(PostError::Http)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(PostError::Http)?.to_bytes();
        if let Some(cookie) = parts.headers.get(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let value = cookie
                .split(';')
                .next()
                .and_then(|pair| pair.strip_prefix(&format!("{COOKIE_NAME}=")))
                .expect("our session cookie");
            self.cookie = Some(value.to_owned());
        }
        if parts.status == StatusCode::OK {
            self.received.push(body.clone());
        }
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, PostError> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(PostError::Connect)?;
        match &self.tls {
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
                let stream = connector
                    .connect(tls.server_name.clone(), stream)
                    .await
                    .map_err(PostError::Connect)?;
                handshake(stream).await
            }
            None => handshake(stream).await,
        }
    }

    /// Validates every envelope received against the CWMP schemas.
    pub(crate) fn validate(&self) {
        schemas::testing::validate_envelopes(&self.received);
    }
}

/// Why a [`TestCpe::try_post`] got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    /// No connection (refused, or the TLS handshake failed).
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// The connection failed or closed before a whole answer.
    #[error("no answer: {0}")]
    Http(hyper::Error),
}

async fn handshake<I>(io: I) -> Result<SendRequest<Full<Bytes>>, PostError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(PostError::Http)?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One HTTP request to `addr` on a fresh connection (a REST API call, say); panics if the
/// server does not answer within [`CLIENT_TIMEOUT`].
pub(crate) async fn http_request(
    addr: SocketAddr,
    method: http::Method,
    target: &str,
    body: impl Into<Bytes>,
) -> Answer {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.map_err(PostError::Connect)?;
        let mut sender = handshake(stream).await?;
        let request = Request::builder()
            .method(method)
            .uri(target)
            .header(header::HOST, addr.to_string())
            .body(Full::new(body.into()))
            .unwrap();
        let response = sender
            .send_request(request)
            .await
            .map_err(PostError::Http)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(PostError::Http)?.to_bytes();
        Ok::<_, PostError>(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .expect("the server answers in time")
        .unwrap_or_else(|e| panic!("{target}: {e}"))
}

/// The device id of [`inform`]'s device `serial`.
pub(crate) fn device(serial: &str) -> DeviceId {
    DeviceId::new("00D09E", "HGW", serial)
}

/// A CWMP 1.4 Inform (cwmp-1-2 namespace, SupportedCWMPVersions) of device `serial`.
pub(crate) fn inform(serial: &str, event: EventCode) -> Vec<u8> {
    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: serial.into(),
        },
        event: vec![EventStruct::new(event)],
        max_envelopes: 1,
        parameter_list: vec![ParameterValueStruct::new(
            "Device.DeviceInfo.SoftwareVersion",
            "1.0",
        )],
        ..Inform::default()
    };
    let mut envelope =
        Envelope::new(CwmpNamespace::V1_2, inform).with_id(format!("inform-{serial}"));
    envelope.header.supported_cwmp_versions = Some(CwmpVersion::ALL.to_vec());
    envelope.write()
}

/// The CPE's answer `body` to the ACS request `request` (same `cwmp:ID` and namespace).
pub(crate) fn reply_to(request: &Envelope, body: impl Into<Body>) -> Vec<u8> {
    let mut envelope = Envelope::new(request.namespace, body);
    envelope.header.id = request.header.id.clone();
    envelope.write()
}

/// `../shared/cwmp-samples/`.
pub(crate) fn samples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cwmp-samples")
}
