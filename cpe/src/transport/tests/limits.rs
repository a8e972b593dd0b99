//! Body limit, timeouts on paused time, and connection errors.

use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;

use super::support::{Pki, Reply, Server, client, closed_port, config, ok};
use crate::transport::{AcsUrl, TimeoutKind, TlsSettings, TransportConfig, TransportError};

#[tokio::test]
async fn oversized_bodies_are_refused_and_the_session_goes_on() {
    let big = "x".repeat(2048);
    let server = Server::start(move |_, n| match n {
        0 => ok(&big),
        1 => {
            // Chunked, no Content-Length: caught while reading.
            let chunk = "y".repeat(1500);
            Reply::raw(format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
                chunk.len()
            ))
        }
        _ => ok("<small/>"),
    })
    .await;
    let client = client(TransportConfig {
        max_body_size: 1024,
        ..config()
    });
    let mut session = client.open(server.url("/"), None).await.unwrap();
    for _ in 0..2 {
        assert!(matches!(
            session.post(Bytes::new()).await.unwrap_err(),
            TransportError::BodyTooLarge { max: 1024 }
        ));
    }
    // The half-read connection is dropped; the next POST gets a fresh one.
    assert_eq!(
        &session.post(Bytes::new()).await.unwrap().body[..],
        b"<small/>"
    );
    assert_eq!(session.connections_opened(), 3);
}

#[tokio::test(start_paused = true)]
async fn response_timeout_on_paused_time() {
    let server = Server::start(|_, n| {
        if n == 0 {
            Reply::silence()
        } else {
            ok("<ok/>")
        }
    })
    .await;
    let client = client(TransportConfig {
        response_timeout: Duration::from_secs(30),
        ..config()
    });
    let mut session = client.open(server.url("/"), None).await.unwrap();
    let start = tokio::time::Instant::now();
    let error = session.post(Bytes::new()).await.unwrap_err();
    assert!(
        matches!(
            error,
            TransportError::Timeout {
                what: TimeoutKind::Response
            }
        ),
        "{error:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(30));
    // A late answer on the old connection cannot be confused with the next response.
    assert_eq!(
        &session.post(Bytes::new()).await.unwrap().body[..],
        b"<ok/>"
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test(start_paused = true)]
async fn connect_timeout_covers_the_tls_handshake() {
    // Accepts TCP but never answers the ClientHello.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let pki = Pki::new();
    let client = client(TransportConfig {
        connect_timeout: Duration::from_secs(10),
        tls: TlsSettings {
            ca_file: Some(pki.ca_file.clone()),
            ..config().tls
        },
        ..config()
    });
    let url: AcsUrl = format!("https://127.0.0.1:{port}/").parse().unwrap();
    let start = tokio::time::Instant::now();
    let error = client.open(url, None).await.unwrap_err();
    assert!(
        matches!(
            error,
            TransportError::Timeout {
                what: TimeoutKind::Connect
            }
        ),
        "{error:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(10));
}

#[tokio::test]
async fn refused_connection_names_the_address() {
    let port = closed_port().await;
    let client = client(config());
    let url: AcsUrl = format!("http://127.0.0.1:{port}/acs").parse().unwrap();
    match client.open(url, None).await.unwrap_err() {
        TransportError::Connect { addr, source } => {
            assert_eq!(addr, format!("127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_response_is_an_http_error() {
    let server = Server::start(|_, _| Reply::raw("SSH-2.0-OpenSSH_9.6\r\n\r\n")).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert!(matches!(
        session.post(Bytes::new()).await.unwrap_err(),
        TransportError::Http { .. }
    ));
}

#[tokio::test]
async fn invalid_configured_header_is_refused() {
    let error = crate::transport::Client::new(TransportConfig {
        user_agent: "bad\r\nheader".into(),
        ..config()
    })
    .unwrap_err();
    assert!(matches!(
        error,
        TransportError::InvalidHeader { name: "User-Agent" }
    ));
}
