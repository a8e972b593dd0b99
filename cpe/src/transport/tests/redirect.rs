//! TR-069 Amd 6 §3.4.6: redirects keep the POST and its body; at most 5 per request.

use bytes::Bytes;

use super::support::{Server, client, config, ok, reply};
use crate::transport::TransportError;

#[tokio::test]
async fn temporary_redirect_on_the_same_server_keeps_post_body_and_connection() {
    let server = Server::start(|request, _| match request.target.as_str() {
        "/old" => reply("307 Temporary Redirect", &[("Location", "/new")], ""),
        _ => ok("<InformResponse/>"),
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/old"), None).await.unwrap();
    let response = session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    assert_eq!(&response.body[..], b"<InformResponse/>");
    assert_eq!(response.url.path_and_query(), "/new");
    assert_eq!(session.url().path_and_query(), "/new");
    session.post(Bytes::new()).await.unwrap();

    let requests = server.requests();
    let seen: Vec<(&str, &str, &[u8])> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str(), r.body.as_slice()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/old", &b"<Inform/>"[..]),
            ("POST", "/new", &b"<Inform/>"[..]),
            ("POST", "/new", &b""[..]),
        ]
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn found_redirect_to_another_server_opens_a_new_connection() {
    let target = Server::start(|_, _| ok("<InformResponse/>")).await;
    let location = target.url("/cwmp").to_string();
    let origin = Server::start(move |_, _| {
        reply(
            "302 Found",
            &[("Location", &location), ("Set-Cookie", "old=1")],
            "",
        )
    })
    .await;
    let client = client(config());
    let mut session = client.open(origin.url("/"), None).await.unwrap();
    let response = session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    assert_eq!(response.url, target.url("/cwmp"));
    assert_eq!(session.url(), &target.url("/cwmp"));
    session.post(Bytes::new()).await.unwrap();

    assert_eq!(origin.requests().len(), 1);
    let moved = target.requests();
    assert_eq!(moved.len(), 2);
    assert_eq!(
        (moved[0].method.as_str(), moved[0].body.as_slice()),
        ("POST", &b"<Inform/>"[..])
    );
    // The old server's cookie does not follow the session to another server.
    assert!(moved.iter().all(|r| r.header("cookie").is_none()));
    assert_eq!(target.connections(), 1);
    assert_eq!(session.connections_opened(), 2);
}

fn redirect_chain(
    hops: usize,
) -> impl Fn(&super::support::Recorded, usize) -> super::support::Reply {
    move |_, n| {
        if n < hops {
            reply(
                "301 Moved Permanently",
                &[("Location", &format!("/hop{}", n + 1))],
                "",
            )
        } else {
            ok("<done/>")
        }
    }
}

#[tokio::test]
async fn five_redirects_are_followed() {
    let server = Server::start(redirect_chain(5)).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    let response = session.post(Bytes::from_static(b"<x/>")).await.unwrap();
    assert_eq!(response.url.path_and_query(), "/hop5");
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn six_redirects_are_too_many() {
    let server = Server::start(redirect_chain(6)).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert!(matches!(
        session.post(Bytes::from_static(b"<x/>")).await.unwrap_err(),
        TransportError::TooManyRedirects { max: 5 }
    ));
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn redirect_without_location_is_an_error() {
    let server = Server::start(|_, _| reply("308 Permanent Redirect", &[], "")).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert!(matches!(
        session.post(Bytes::new()).await.unwrap_err(),
        TransportError::BadRedirect { .. }
    ));
}
