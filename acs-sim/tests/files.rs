//! The file area, the file server and the `/files` REST routes on loopback: uploads stored
//! atomically with their metadata, ETag / `If-None-Match`, single `Range`s, HEAD, size limits,
//! name checks, and GenieACS's listing.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::files::{self, FileError, FileStore, NewFile};
use acs_sim::scenario::Scenario;
use acs_sim::store::{MemoryStore, Store};
use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, ETAG, HOST, IF_NONE_MATCH, IF_RANGE, RANGE,
};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Body, Frame};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running file server (and `/files` REST routes) over a fresh file area.
struct Fixture {
    acs: Arc<Acs>,
    files: SocketAddr,
    rest: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(max_size: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let files = listener.local_addr().unwrap();
        let config = AcsConfig {
            files_url: format!("http://{files}/"),
            ..AcsConfig::default()
        };
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let area = FileStore::new(dir.path().join("files"))
            .unwrap()
            .with_max_size(max_size);
        let acs = Acs::new(store, config, Scenario::default(), area);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(files::serve(listener, Arc::clone(&acs), async move {
            let _ = stopped.await;
        }));
        let rest_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest = rest_listener.local_addr().unwrap();
        let router = files::nbi_routes().with_state(Arc::clone(&acs));
        tokio::spawn(async move { axum::serve(rest_listener, router).await });
        Self {
            acs,
            files,
            rest,
            stop: Some(stop),
            server,
            _dir: dir,
        }
    }

    async fn put(&self, name: &str, bytes: &'static [u8]) -> Response {
        let request = request(
            Method::PUT,
            &format!("/{name}"),
            Full::new(Bytes::from(bytes)),
        );
        send(self.files, request).await
    }

    async fn get(&self, path: &str, headers: &[(http::HeaderName, &str)]) -> Response {
        let mut request = request(Method::GET, path, Empty::<Bytes>::new());
        for (name, value) in headers {
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        send(self.files, request).await
    }

    fn blobs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.acs.files.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    fn header(&self, name: http::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn request<B>(method: Method, path: &str, body: B) -> Request<B> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost")
        .body(body)
        .unwrap()
}

async fn send<B>(addr: SocketAddr, request: Request<B>) -> Response
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Response {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// A body of separate chunks that announces no length (sent chunked), optionally failing at
/// the end like a client that went away.
struct Chunks(VecDeque<Result<Bytes, io::Error>>);

impl Chunks {
    fn new(chunks: usize, size: usize) -> Self {
        Self(
            (0..chunks)
                .map(|_| Ok(Bytes::from(vec![7u8; size])))
                .collect(),
        )
    }

    fn then_fail(mut self) -> Self {
        self.0.push_back(Err(io::Error::other("client went away")));
        self
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.0.pop_front().map(|chunk| chunk.map(Frame::data)))
    }
}

const FIRMWARE: &[u8] = b"0123456789abcdef";

#[tokio::test]
async fn put_then_get_round_trips_the_bytes_and_records_metadata() {
    let fixture = Fixture::start(1024).await;
    let request = request(
        Method::PUT,
        "/fw%201.bin?fileType=1+Firmware+Upgrade+Image",
        Full::new(Bytes::from_static(FIRMWARE)),
    );
    assert_eq!(send(fixture.files, request).await.status, StatusCode::OK);

    let got = fixture.get("/fw%201.bin", &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, FIRMWARE);
    assert_eq!(got.header(CONTENT_LENGTH), "16");
    assert_eq!(got.header(ACCEPT_RANGES), "bytes");

    let meta = fixture.acs.store.file("fw 1.bin").unwrap();
    assert_eq!(meta.file_type, "1 Firmware Upgrade Image");
    assert_eq!(meta.size, 16);
    let source = files::download_source(&fixture.acs, "fw 1.bin").unwrap();
    assert_eq!(source.url, format!("http://{}/fw%201.bin", fixture.files));
    assert_eq!(source.file_size, 16);
    assert_eq!(source.file_type, "1 Firmware Upgrade Image");
    // POST stores too (some CPEs upload with it).
    let post = request_post(&fixture, "/log.txt", b"log").await;
    assert_eq!(post, StatusCode::OK);
    assert_eq!(fixture.get("/log.txt", &[]).await.body, &b"log"[..]);
}

async fn request_post(fixture: &Fixture, path: &str, bytes: &'static [u8]) -> StatusCode {
    let request = request(Method::POST, path, Full::new(Bytes::from_static(bytes)));
    send(fixture.files, request).await.status
}

#[tokio::test]
async fn matching_if_none_match_gets_304_without_a_body() {
    let fixture = Fixture::start(1024).await;
    fixture.put("fw.bin", FIRMWARE).await;
    let first = fixture.get("/fw.bin", &[]).await;
    let etag = first.header(ETAG).to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");

    let cached = fixture.get("/fw.bin", &[(IF_NONE_MATCH, &etag)]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert_eq!(cached.header(ETAG), etag);
    assert!(cached.body.is_empty());

    let stale = fixture
        .get("/fw.bin", &[(IF_NONE_MATCH, "\"other\"")])
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, FIRMWARE);
}

#[tokio::test]
async fn single_ranges_get_206_with_content_range() {
    let fixture = Fixture::start(1024).await;
    fixture.put("fw.bin", FIRMWARE).await;
    let part = fixture.get("/fw.bin", &[(RANGE, "bytes=2-5")]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, &b"2345"[..]);
    assert_eq!(part.header(CONTENT_RANGE), "bytes 2-5/16");
    assert_eq!(part.header(CONTENT_LENGTH), "4");

    let tail = fixture.get("/fw.bin", &[(RANGE, "bytes=-3")]).await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.body, &b"def"[..]);
    assert_eq!(tail.header(CONTENT_RANGE), "bytes 13-15/16");

    // A resumed download whose copy is stale gets everything again.
    let stale = fixture
        .get("/fw.bin", &[(RANGE, "bytes=10-"), (IF_RANGE, "\"old\"")])
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, FIRMWARE);
}

#[tokio::test]
async fn large_files_stream_in_chunks_and_ranges_cross_them() {
    let fixture = Fixture::start(1 << 20).await;
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let meta = fixture
        .acs
        .files
        .put(
            &fixture.acs.store,
            NewFile::named("image.bin"),
            Full::new(Bytes::from(bytes.clone())),
        )
        .await
        .unwrap();
    assert_eq!(meta.size, 300_000);
    let whole = fixture.get("/image.bin", &[]).await;
    assert_eq!(whole.body, bytes);
    let part = fixture
        .get("/image.bin", &[(RANGE, "bytes=65000-200000")])
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, bytes[65_000..=200_000]);
}

#[tokio::test]
async fn ranges_past_the_end_get_416() {
    let fixture = Fixture::start(1024).await;
    fixture.put("fw.bin", FIRMWARE).await;
    let past = fixture.get("/fw.bin", &[(RANGE, "bytes=16-20")]).await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.header(CONTENT_RANGE), "bytes */16");
    assert!(past.body.is_empty());
}

#[tokio::test]
async fn head_gets_the_headers_of_get_without_a_body() {
    let fixture = Fixture::start(1024).await;
    fixture.put("fw.bin", FIRMWARE).await;
    let get = fixture.get("/fw.bin", &[]).await;
    let head = send(
        fixture.files,
        request(Method::HEAD, "/fw.bin", Empty::<Bytes>::new()),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header(CONTENT_LENGTH), "16");
    assert_eq!(head.header(ETAG), get.header(ETAG));
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn replacing_a_file_changes_its_etag_and_removes_the_old_blob() {
    let fixture = Fixture::start(1024).await;
    fixture.put("fw.bin", b"old bytes").await;
    let old = fixture.get("/fw.bin", &[]).await.header(ETAG).to_owned();
    fixture.put("fw.bin", b"new bytes").await;
    let new = fixture.get("/fw.bin", &[]).await;
    assert_eq!(new.body, &b"new bytes"[..]);
    assert_ne!(new.header(ETAG), old);
    let blobs = fixture.blobs();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].starts_with("fw.bin."), "{blobs:?}");
}

#[tokio::test]
async fn names_that_could_escape_the_directory_are_refused() {
    let fixture = Fixture::start(1024).await;
    let store = &fixture.acs.store;
    for name in ["../escape", ".hidden", "a/b", ""] {
        let result = fixture
            .acs
            .files
            .put(
                store,
                NewFile::named(name),
                Full::new(Bytes::from_static(b"x")),
            )
            .await;
        assert!(
            matches!(result, Err(FileError::InvalidName { .. })),
            "{name:?}: {result:?}"
        );
    }
    let escaped = fixture.put("..%2Fescape", b"x").await;
    assert_eq!(escaped.status, StatusCode::BAD_REQUEST);
    assert_eq!(fixture.put("a/b", b"x").await.status, StatusCode::NOT_FOUND);
    assert!(fixture.blobs().is_empty());
    assert!(store.files().unwrap().is_empty());
}

#[tokio::test]
async fn uploads_over_the_limit_get_413_and_leave_nothing_behind() {
    let fixture = Fixture::start(100).await;
    // Announced by Content-Length: refused before the body is read.
    let announced = fixture.put("big.bin", &[0u8; 101]).await;
    assert_eq!(announced.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Chunked: refused once the limit is passed.
    let chunked = send(
        fixture.files,
        request(Method::PUT, "/big.bin", Chunks::new(3, 40)),
    )
    .await;
    assert_eq!(chunked.status, StatusCode::PAYLOAD_TOO_LARGE);
    let direct = fixture
        .acs
        .files
        .put(
            &fixture.acs.store,
            NewFile::named("big.bin"),
            Chunks::new(3, 40),
        )
        .await;
    assert!(matches!(direct, Err(FileError::TooLarge { max: 100 })));
    // Exactly at the limit is fine.
    let fits = fixture
        .acs
        .files
        .put(
            &fixture.acs.store,
            NewFile::named("fits.bin"),
            Chunks::new(2, 50),
        )
        .await
        .unwrap();
    assert_eq!(fits.size, 100);
    assert_eq!(fixture.blobs().len(), 1, "{:?}", fixture.blobs());
}

#[tokio::test]
async fn an_interrupted_upload_keeps_the_previous_file() {
    let fixture = Fixture::start(1024).await;
    fixture.put("fw.bin", FIRMWARE).await;
    let result = fixture
        .acs
        .files
        .put(
            &fixture.acs.store,
            NewFile::named("fw.bin"),
            Chunks::new(2, 10).then_fail(),
        )
        .await;
    assert!(matches!(result, Err(FileError::Upload(_))), "{result:?}");
    assert_eq!(fixture.get("/fw.bin", &[]).await.body, FIRMWARE);
    assert_eq!(fixture.blobs().len(), 1, "{:?}", fixture.blobs());
}

#[tokio::test]
async fn leftover_upload_files_are_removed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".upload-1-0"), b"partial").unwrap();
    std::fs::write(dir.path().join("keep.bin.00"), b"blob").unwrap();
    let area = FileStore::new(dir.path()).unwrap();
    let left: Vec<_> = std::fs::read_dir(area.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["keep.bin.00"]);
}

#[tokio::test]
async fn unknown_files_get_404_and_other_methods_405() {
    let fixture = Fixture::start(1024).await;
    assert_eq!(
        fixture.get("/missing.bin", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(fixture.get("/", &[]).await.status, StatusCode::NOT_FOUND);
    let delete = send(
        fixture.files,
        request(Method::DELETE, "/fw.bin", Empty::<Bytes>::new()),
    )
    .await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(delete.header(http::header::ALLOW), "GET, HEAD, PUT, POST");
}

#[tokio::test]
async fn the_server_stops_when_asked() {
    let mut fixture = Fixture::start(1024).await;
    fixture.stop.take().unwrap().send(()).unwrap();
    (&mut fixture.server).await.unwrap().unwrap();
    assert!(TcpStream::connect(fixture.files).await.is_err());
}

#[tokio::test]
async fn nbi_routes_upload_list_fetch_and_delete_like_genieacs() {
    let fixture = Fixture::start(1024).await;
    let mut upload = request(
        Method::PUT,
        "/files/fw.bin",
        Full::new(Bytes::from_static(FIRMWARE)),
    );
    for (name, value) in [
        ("fileType", "1 Firmware Upgrade Image"),
        ("oui", "00259E"),
        ("productClass", "HG8245"),
        ("version", "V3R017"),
    ] {
        upload.headers_mut().insert(name, value.parse().unwrap());
    }
    assert_eq!(send(fixture.rest, upload).await.status, StatusCode::CREATED);
    let config = request(
        Method::PUT,
        "/files/cfg.xml",
        Full::new(Bytes::from_static(b"<cfg/>")),
    );
    assert_eq!(send(fixture.rest, config).await.status, StatusCode::CREATED);

    let listed = send(fixture.rest, get("/files/")).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let fw = &listed[1];
    assert_eq!(fw["_id"], "fw.bin");
    assert_eq!(fw["filename"], "fw.bin");
    assert_eq!(fw["length"], 16);
    assert_eq!(
        fw["metadata"],
        json!({"fileType": "1 Firmware Upgrade Image", "oui": "00259E",
               "productClass": "HG8245", "version": "V3R017"})
    );
    let date = fw["uploadDate"].as_str().unwrap();
    assert!(date.len() >= 20 && date.ends_with('Z'), "{date}");

    let query = "/files?query=%7B%22metadata.fileType%22%3A%221%20Firmware%20Upgrade%20Image%22%7D";
    let filtered = send(fixture.rest, get(query)).await.json();
    assert_eq!(filtered.as_array().unwrap().len(), 1, "{filtered}");
    assert_eq!(filtered[0]["_id"], "fw.bin");
    let bad_query = send(fixture.rest, get("/files?query=%5B%5D")).await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    assert!(bad_query.json()["message"].is_string());

    let bytes = send(fixture.rest, get("/files/fw.bin")).await;
    assert_eq!(bytes.status, StatusCode::OK);
    assert_eq!(bytes.body, FIRMWARE);

    let delete = || request(Method::DELETE, "/files/fw.bin", Empty::<Bytes>::new());
    assert_eq!(send(fixture.rest, delete()).await.status, StatusCode::OK);
    let again = send(fixture.rest, delete()).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json()["message"], "no file named \"fw.bin\"");
    assert_eq!(
        fixture.get("/fw.bin", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(fixture.blobs().len(), 1, "{:?}", fixture.blobs());
}

#[tokio::test]
async fn nbi_upload_over_the_limit_gets_413_json() {
    let fixture = Fixture::start(4).await;
    let upload = request(
        Method::PUT,
        "/files/big.bin",
        Full::new(Bytes::from_static(b"12345")),
    );
    let refused = send(fixture.rest, upload).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        refused.json()["message"],
        "file larger than the 4-byte limit"
    );
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    request(Method::GET, path, Empty::new())
}

#[path = "../../cpe/tests/agent/support/pki.rs"]
#[allow(dead_code)] // The CPE's certificate is not used here.
mod pki;

/// The CPE's own transport client (what a Download or Upload uses), trusting `ca_file`.
fn cpe_client(ca_file: Option<std::path::PathBuf>) -> cpe::transport::Client {
    cpe::transport::Client::new(cpe::transport::TransportConfig {
        tls: cpe::transport::TlsSettings {
            ca_file,
            system_ca_file: "/nonexistent".into(),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn the_https_file_server_takes_an_upload_and_serves_it_to_a_client_that_trusts_it() {
    let pki = pki::Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let area = FileStore::new(dir.path().join("files")).unwrap();
    let config = AcsConfig {
        files_url: format!("https://{addr}/"),
        ..AcsConfig::default()
    };
    let acs = Acs::new(store, config, Scenario::default(), area);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(files::serve_tls(
        listener,
        Arc::clone(&acs),
        pki.server_config(false),
        async move {
            let _ = stopped.await;
        },
    ));
    let url = |name: &str| format!("https://127.0.0.1:{}/{name}", addr.port());

    let trusting = cpe_client(Some(pki.ca_file.clone()));
    let status = trusting
        .upload(
            url("conf.snap").parse().unwrap(),
            None,
            Method::PUT,
            Bytes::from_static(b"configuration bytes"),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert!(status.is_success(), "{status}");
    let mut body = Vec::new();
    let got = trusting
        .download(url("conf.snap").parse().unwrap(), None, &mut body, 1024)
        .await
        .unwrap();
    assert_eq!(body, b"configuration bytes");
    assert_eq!(got.bytes, 19);
    assert_eq!(acs.store.file("conf.snap").unwrap().size, 19);

    // A client without the CA refuses the server's certificate, and the server carries on.
    let stranger = cpe_client(None);
    let refused = stranger
        .download(
            url("conf.snap").parse().unwrap(),
            None,
            &mut Vec::new(),
            1024,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("certificate"), "{refused}");
    let mut again = Vec::new();
    trusting
        .download(url("conf.snap").parse().unwrap(), None, &mut again, 1024)
        .await
        .unwrap();
    assert_eq!(again, b"configuration bytes");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
