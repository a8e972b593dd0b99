//! The Connection Request client (TR-069 Amd 6 §3.2.2) against the real CPE Connection
//! Request server on loopback: Digest, refused credentials, unreachable and silent devices,
//! Basic by policy, and `kick` reading the device from the store.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use acs_sim::acs::{Acs, AcsConfig, ConnReqConfig};
use acs_sim::connreq::{self, ConnReqError};
use acs_sim::files::FileStore;
use acs_sim::scenario::Scenario;
use acs_sim::store::{Credentials, DeviceId, InformSummary, MemoryStore, Store};
use bytes::Bytes;
use cpe::connreq::signal::Waiter;
use cpe::connreq::{
    ConnectionRequestServer, CredentialSource, RateLimit, ServerConfig, ServerHandle,
};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(5);

fn credentials(password: &str) -> Credentials {
    Credentials {
        username: "cr".to_owned(),
        password: password.to_owned(),
    }
}

/// A CPE Connection Request server expecting `cr` / `s3cret`.
struct Cpe {
    url: String,
    stats: ServerHandle,
    waiter: Waiter,
}

impl Cpe {
    async fn start(config: ServerConfig) -> Self {
        let (notifier, waiter) = cpe::connreq::signal::channel();
        let server = ConnectionRequestServer::builder(ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            path: Some("/cr-test".to_owned()),
            ..config
        })
        .bind(
            CredentialSource::fixed(Some(cpe::connreq::Credentials::new("cr", "s3cret"))),
            notifier,
        )
        .await
        .unwrap();
        let url = format!("http://{}{}", server.local_addr(), server.path());
        let stats = server.handle();
        tokio::spawn(server.serve(std::future::pending()));
        Self { url, stats, waiter }
    }
}

#[tokio::test]
async fn digest_credentials_wake_the_cpe() {
    let mut cpe = Cpe::start(ServerConfig::default()).await;
    connreq::request(&cpe.url, Some(&credentials("s3cret")), false, TIMEOUT)
        .await
        .unwrap();
    let wakeup = tokio::time::timeout(TIMEOUT, cpe.waiter.wait())
        .await
        .unwrap();
    assert!(wakeup.is_some());
    let stats = cpe.stats.stats();
    assert_eq!((stats.accepted, stats.unauthorized), (1, 1));
    // The challenge and the answer shared one connection.
    assert_eq!(stats.connections, 1);
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_refused_credentials() {
    let mut cpe = Cpe::start(ServerConfig::default()).await;
    let error = connreq::request(&cpe.url, Some(&credentials("wrong")), false, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnReqError::CredentialsRefused { url } if *url == cpe.url),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("refused the credentials"),
        "{error}"
    );
    assert_eq!(cpe.stats.stats().accepted, 0);
    assert!(cpe.waiter.try_take().is_none());
}

#[tokio::test]
async fn no_credentials_for_a_challenge_is_reported() {
    let cpe = Cpe::start(ServerConfig::default()).await;
    let error = connreq::request(&cpe.url, None, false, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnReqError::NoCredentials { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_rate_limited_cpe_is_reported_with_its_503() {
    let cpe = Cpe::start(ServerConfig {
        rate_limit: RateLimit {
            max_requests: 1,
            window: Duration::from_secs(60),
        },
        ..ServerConfig::default()
    })
    .await;
    let good = credentials("s3cret");
    connreq::request(&cpe.url, Some(&good), false, TIMEOUT)
        .await
        .unwrap();
    let error = connreq::request(&cpe.url, Some(&good), false, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConnReqError::Rejected {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().ends_with("503 Service Unavailable"),
        "{error}"
    );
}

#[tokio::test]
async fn digest_is_used_when_the_cpe_also_offers_basic() {
    let cpe = Cpe::start(ServerConfig {
        allow_basic: true,
        ..ServerConfig::default()
    })
    .await;
    connreq::request(&cpe.url, Some(&credentials("s3cret")), false, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(cpe.stats.stats().accepted, 1);
}

#[tokio::test]
async fn a_closed_port_is_unreachable_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/cr");
    let error = connreq::request(&url, None, false, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnReqError::Unreachable { addr: a, .. } if *a == addr.to_string()),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot connect to {addr}")),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cpe_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    // Accept and hold connections, never answering.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let started = tokio::time::Instant::now();
    let error = connreq::request(&url, None, false, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnReqError::Timeout { after, .. } if after == TIMEOUT),
        "{error:?}"
    );
    assert!(started.elapsed() >= TIMEOUT);
}

/// A device that challenges with Basic only, accepting `cr` / `s3cret`; counts requests.
async fn basic_only_cpe() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            let service = service_fn(move |request: Request<Incoming>| {
                counted.fetch_add(1, Ordering::Relaxed);
                let expected = http_auth::basic::encode_credentials("cr", "s3cret");
                let authorized = request
                    .headers()
                    .get(AUTHORIZATION)
                    .is_some_and(|v| v.to_str().ok() == Some(expected.as_str()));
                let mut response = Response::new(Empty::<Bytes>::new());
                if !authorized {
                    *response.status_mut() = StatusCode::UNAUTHORIZED;
                    response
                        .headers_mut()
                        .insert(WWW_AUTHENTICATE, "Basic realm=\"cpe\"".parse().unwrap());
                }
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (url, requests)
}

#[tokio::test]
async fn basic_is_answered_only_when_allowed() {
    let (url, requests) = basic_only_cpe().await;
    let good = credentials("s3cret");
    let error = connreq::request(&url, Some(&good), false, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnReqError::BasicRefused { .. }),
        "{error:?}"
    );
    // The password was not sent.
    assert_eq!(requests.load(Ordering::Relaxed), 1);

    connreq::request(&url, Some(&good), true, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(requests.load(Ordering::Relaxed), 3);
}

fn acs(fallback: Option<Credentials>) -> (Arc<Acs>, tempfile::TempDir) {
    let config = AcsConfig {
        connreq: ConnReqConfig {
            fallback,
            timeout: TIMEOUT,
            ..ConnReqConfig::default()
        },
        ..AcsConfig::default()
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let files = FileStore::new(dir.path()).unwrap();
    (Acs::new(store, config, Scenario::default(), files), dir)
}

fn inform(serial: &str, url: Option<&str>) -> InformSummary {
    InformSummary {
        oui: "00259E".to_owned(),
        product_class: "HG8245".to_owned(),
        serial_number: serial.to_owned(),
        connection_request_url: url.map(str::to_owned),
        ..InformSummary::default()
    }
}

#[tokio::test]
async fn kick_uses_the_provisioned_credentials_of_the_device() {
    let mut cpe = Cpe::start(ServerConfig::default()).await;
    let (acs, _dir) = acs(Some(credentials("wrong")));
    let id = acs
        .store
        .record_inform(&inform("SN1", Some(&cpe.url)))
        .unwrap();
    acs.store
        .set_credentials(&id, Some(&credentials("s3cret")))
        .unwrap();
    connreq::kick(&acs, &id).await.unwrap();
    let wakeup = tokio::time::timeout(TIMEOUT, cpe.waiter.wait())
        .await
        .unwrap();
    assert!(wakeup.is_some());
}

#[tokio::test]
async fn kick_falls_back_to_the_configured_credentials() {
    let cpe = Cpe::start(ServerConfig::default()).await;
    let (acs, _dir) = acs(Some(credentials("s3cret")));
    let id = acs
        .store
        .record_inform(&inform("SN2", Some(&cpe.url)))
        .unwrap();
    connreq::kick(&acs, &id).await.unwrap();
    assert_eq!(cpe.stats.stats().accepted, 1);
}

#[tokio::test]
async fn kick_reports_unknown_devices_and_missing_urls() {
    let (acs, _dir) = acs(None);
    let unknown = DeviceId::new("00259E", "HG8245", "NOPE");
    let error = connreq::kick(&acs, &unknown).await.unwrap_err();
    assert!(
        matches!(&error, ConnReqError::UnknownDevice(id) if *id == unknown),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("unknown device {unknown}"));

    let id = acs.store.record_inform(&inform("SN3", None)).unwrap();
    let error = connreq::kick(&acs, &id).await.unwrap_err();
    assert!(
        matches!(&error, ConnReqError::NoUrl(no) if *no == id),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("ConnectionRequestURL"),
        "{error}"
    );
}
