//! TR-069 Amd 6 §3.4.4/§3.4.5: Digest and Basic challenges against a verifying server.

use std::sync::Mutex;

use bytes::Bytes;

use super::support::{Server, client, config, md5_hex, ok, reply, sha256_hex, verify_digest};
use crate::transport::{Credentials, TransportConfig, TransportError};

const USER: &str = "202BC1-BM632w-000700";
const PASSWORD: &str = "s3cret";

fn credentials() -> Option<Credentials> {
    Some(Credentials::new(USER, PASSWORD))
}

fn challenge(algorithm: &str, nonce: &str, stale: bool) -> String {
    format!(
        "Digest realm=\"cwmp\", qop=\"auth\", nonce=\"{nonce}\", opaque=\"op4que\", \
         algorithm={algorithm}{}",
        if stale { ", stale=true" } else { "" }
    )
}

/// A server demanding Digest: answers 401 to anything not correctly signed with `nonce`.
async fn digest_server(algorithm: &'static str, hash: fn(&[u8]) -> String) -> Server {
    Server::start(move |request, _| {
        let verified = request
            .header("authorization")
            .map(|h| verify_digest(h, PASSWORD, hash));
        match verified {
            Some(Ok(params))
                if params["nonce"] == "n0nce"
                    && params["username"] == USER
                    && params["opaque"] == "op4que"
                    && params["algorithm"] == algorithm
                    && params["uri"] == request.target =>
            {
                ok("<ok/>")
            }
            _ => reply(
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge(algorithm, "n0nce", false))],
                "",
            ),
        }
    })
    .await
}

async fn check_digest_session(algorithm: &'static str, hash: fn(&[u8]) -> String) {
    let server = digest_server(algorithm, hash).await;
    let client = client(config());
    let mut session = client
        .open(server.url("/acs"), credentials())
        .await
        .unwrap();
    for _ in 0..3 {
        let response = session
            .post(Bytes::from_static(b"<Inform/>"))
            .await
            .unwrap();
        assert_eq!(&response.body[..], b"<ok/>");
    }
    let requests = server.requests();
    // Challenge, answer, then two pre-emptively authorized requests.
    assert_eq!(requests.len(), 4);
    assert!(requests[0].header("authorization").is_none());
    let nc: Vec<String> = requests[1..]
        .iter()
        .map(|r| {
            verify_digest(r.header("authorization").unwrap(), PASSWORD, hash).unwrap()["nc"].clone()
        })
        .collect();
    assert_eq!(nc, ["00000001", "00000002", "00000003"]);
    assert!(requests.iter().all(|r| r.body == b"<Inform/>"));
    // The re-sent request went out on the same connection.
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn digest_md5_challenge_then_preemptive_with_counting_nc() {
    check_digest_session("MD5", md5_hex).await;
}

#[tokio::test]
async fn digest_sha256_challenge() {
    check_digest_session("SHA-256", sha256_hex).await;
}

#[tokio::test]
async fn repeated_401_is_auth_rejected() {
    let server = digest_server("MD5", md5_hex).await;
    let client = client(config());
    let wrong = Some(Credentials::new(USER, "wrong"));
    let mut session = client.open(server.url("/"), wrong).await.unwrap();
    let error = session.post(Bytes::new()).await.unwrap_err();
    match error {
        TransportError::AuthRejected { realm } => assert_eq!(realm.as_deref(), Some("cwmp")),
        other => panic!("expected AuthRejected, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn challenge_without_credentials_is_auth_required() {
    let server = digest_server("MD5", md5_hex).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert!(matches!(
        session.post(Bytes::new()).await.unwrap_err(),
        TransportError::AuthRequired
    ));
}

#[tokio::test]
async fn stale_nonce_is_answered_again() {
    let nonce = Mutex::new(0u32);
    let server = Server::start(move |request, n| {
        // Request 2 (pre-emptive with nonce 0) is told that nonce is stale.
        if n == 2 {
            *nonce.lock().unwrap() = 1;
            return reply(
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge("MD5", "nonce1", true))],
                "",
            );
        }
        let current = format!("nonce{}", nonce.lock().unwrap());
        match request
            .header("authorization")
            .map(|h| verify_digest(h, PASSWORD, md5_hex))
        {
            Some(Ok(p)) if p["nonce"] == current => ok("<ok/>"),
            _ => reply(
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge("MD5", &current, false))],
                "",
            ),
        }
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/"), credentials()).await.unwrap();
    session.post(Bytes::new()).await.unwrap();
    session.post(Bytes::new()).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    let last = verify_digest(
        requests[3].header("authorization").unwrap(),
        PASSWORD,
        md5_hex,
    )
    .unwrap();
    assert_eq!(
        (last["nonce"].as_str(), last["nc"].as_str()),
        ("nonce1", "00000001")
    );
}

fn basic_server() -> impl Fn(&super::support::Recorded, usize) -> super::support::Reply {
    let expected = http_auth::basic::encode_credentials(USER, PASSWORD);
    move |request, _| {
        if request.header("authorization") == Some(expected.as_str()) {
            ok("<ok/>")
        } else {
            reply(
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"cwmp\"")],
                "",
            )
        }
    }
}

#[tokio::test]
async fn basic_is_refused_over_plain_http() {
    let server = Server::start(basic_server()).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), credentials()).await.unwrap();
    assert!(matches!(
        session.post(Bytes::new()).await.unwrap_err(),
        TransportError::BasicOverPlainHttp
    ));
    // The password never went out.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[tokio::test]
async fn basic_over_plain_http_when_allowed() {
    let server = Server::start(basic_server()).await;
    let client = client(TransportConfig {
        allow_basic_over_http: true,
        ..config()
    });
    let mut session = client.open(server.url("/"), credentials()).await.unwrap();
    session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].body, b"<Inform/>");
    // Pre-emptive on the next request.
    assert!(requests[2].header("authorization").is_some());
    assert_eq!(server.connections(), 1);
}
