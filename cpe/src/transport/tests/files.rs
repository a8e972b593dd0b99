//! File transfers over the CWMP client (TR-069 Amd 6 A.3.2.8 Download, A.4.1.5 Upload):
//! streamed `GET` with a size cap, `PUT`/`POST` of a body, Digest for the request's own method,
//! redirects, broken and stalled bodies.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};

use super::support::{Reply, Server, client, config, md5_hex, ok, reply, verify_digest_for};
use crate::transport::{Credentials, TimeoutKind, TransportConfig, TransportError};

const USER: &str = "cpe";
const PASSWORD: &str = "s3cret";

fn credentials() -> Option<Credentials> {
    Some(Credentials::new(USER, PASSWORD))
}

/// A server that demands Digest for `method` and answers `answer` once authorized.
async fn digest_server(method: &'static str, answer: fn() -> Reply) -> Server {
    Server::start(move |request, _| {
        let verified = request
            .header("authorization")
            .map(|h| verify_digest_for(method, h, PASSWORD, md5_hex));
        match verified {
            Some(Ok(params)) if params["uri"] == request.target && request.method == method => {
                answer()
            }
            _ => reply(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    "Digest realm=\"files\", qop=\"auth\", nonce=\"n0\", algorithm=MD5",
                )],
                "denied",
            ),
        }
    })
    .await
}

#[tokio::test]
async fn download_streams_the_body_into_the_sink() {
    let server = Server::start(|_, _| ok("firmware-bytes")).await;
    let mut sink = Vec::new();
    let fetched = client(config())
        .download(server.url("/fw.bin?v=2"), None, &mut sink, 1024)
        .await
        .unwrap();
    assert_eq!(sink, b"firmware-bytes");
    assert_eq!(fetched.bytes, 14);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/fw.bin?v=2");
    assert!(requests[0].header("content-length").is_none());
    assert!(requests[0].header("content-type").is_none());
}

#[tokio::test]
async fn download_answers_digest_for_get() {
    let server = digest_server("GET", || ok("secret file")).await;
    let mut sink = Vec::new();
    client(config())
        .download(server.url("/f"), credentials(), &mut sink, 1024)
        .await
        .unwrap();
    assert_eq!(sink, b"secret file");
    assert_eq!(server.requests().len(), 2);

    let mut sink = Vec::new();
    let error = client(config())
        .download(
            server.url("/f"),
            Some(Credentials::new(USER, "wrong")),
            &mut sink,
            1024,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::AuthRejected { .. }),
        "{error:?}"
    );
    assert!(sink.is_empty(), "a 401 body never reaches the sink");
}

#[tokio::test]
async fn download_follows_redirects_including_see_other() {
    let server = Server::start(|request, _| match request.target.as_str() {
        "/old" => reply("302 Found", &[("Location", "/newer")], ""),
        "/newer" => reply("303 See Other", &[("Location", "/file")], ""),
        _ => ok("moved"),
    })
    .await;
    let mut sink = Vec::new();
    let fetched = client(config())
        .download(server.url("/old"), None, &mut sink, 1024)
        .await
        .unwrap();
    assert_eq!(sink, b"moved");
    assert_eq!(fetched.url.path_and_query(), "/file");
    assert!(server.requests().iter().all(|r| r.method == "GET"));
    // The redirects' bodies were read, so one connection carried all three requests.
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn download_refuses_bodies_over_the_cap() {
    let server = Server::start(|_, n| match n {
        0 => ok(&"x".repeat(100)),
        _ => {
            let chunk = "y".repeat(60);
            Reply::raw(format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
                len = chunk.len()
            ))
        }
    })
    .await;
    let client = client(config());
    for _ in 0..2 {
        let mut sink = Vec::new();
        let error = client
            .download(server.url("/big"), None, &mut sink, 99)
            .await
            .unwrap_err();
        assert!(
            matches!(error, TransportError::BodyTooLarge { max: 99 }),
            "{error:?}"
        );
        assert!(sink.len() <= 99);
    }
}

#[tokio::test]
async fn broken_off_body_reports_what_arrived() {
    let server = Server::start(|_, _| {
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-ten!!").then_close()
    })
    .await;
    let mut sink = Vec::new();
    let error = client(config())
        .download(server.url("/f"), None, &mut sink, 1000)
        .await
        .unwrap_err();
    match error {
        TransportError::BodyInterrupted { received, .. } => assert_eq!(received, 10),
        other => panic!("expected BodyInterrupted, got {other:?}"),
    }
    assert_eq!(sink, b"only-ten!!");
}

#[tokio::test(start_paused = true)]
async fn stalled_body_times_out_on_paused_time() {
    // Head and 4 bytes, then nothing more (the connection stays open).
    let server =
        Server::start(|_, _| Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf"))
            .await;
    let client = client(TransportConfig {
        response_timeout: Duration::from_secs(20),
        ..config()
    });
    let start = tokio::time::Instant::now();
    let mut sink = Vec::new();
    let error = client
        .download(server.url("/f"), None, &mut sink, 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TransportError::Timeout {
                what: TimeoutKind::Body
            }
        ),
        "{error:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(20));
    assert_eq!(sink, b"half");
}

#[tokio::test]
async fn download_reports_error_statuses() {
    let server = Server::start(|_, _| reply("404 Not Found", &[], "no such file")).await;
    let mut sink = Vec::new();
    let error = client(config())
        .download(server.url("/missing"), None, &mut sink, 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TransportError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(sink.is_empty());
}

#[tokio::test]
async fn upload_puts_or_posts_the_exact_bytes() {
    let server = Server::start(|_, n| match n {
        0 => reply("201 Created", &[], ""),
        _ => ok("thanks"),
    })
    .await;
    let body: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let client = client(config());
    for (method, status) in [(Method::PUT, 201), (Method::POST, 200)] {
        let answered = client
            .upload(
                server.url("/upload/cfg.xml"),
                None,
                method,
                Bytes::from(body.clone()),
                "application/octet-stream",
            )
            .await
            .unwrap();
        assert_eq!(answered.as_u16(), status);
    }
    let requests = server.requests();
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[1].method, "POST");
    for request in &requests {
        assert_eq!(request.body, body);
        assert_eq!(request.target, "/upload/cfg.xml");
        assert_eq!(
            request.header("content-type"),
            Some("application/octet-stream")
        );
        assert!(request.header("soapaction").is_none());
    }
}

#[tokio::test]
async fn upload_answers_digest_for_put_and_reports_failures() {
    let server = digest_server("PUT", || reply("204 No Content", &[], "")).await;
    let client = client(config());
    let status = client
        .upload(
            server.url("/log"),
            credentials(),
            Method::PUT,
            Bytes::from_static(b"log lines"),
            "text/plain",
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.requests()[1].body, b"log lines");

    let failing = Server::start(|_, _| reply("500 Internal Server Error", &[], "boom")).await;
    let error = client
        .upload(
            failing.url("/log"),
            None,
            Method::PUT,
            Bytes::from_static(b"x"),
            "text/plain",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TransportError::Status {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                ..
            }
        ),
        "{error:?}"
    );
}
