//! One connection per session, transparent reconnects, cookies, and the request headers.

use bytes::Bytes;
use http::StatusCode;

use super::support::{Reply, Server, client, config, no_content, ok, reply};
use crate::transport::TransportConfig;

const INFORM: &str = "<soap-env:Envelope><cwmp:Inform/></soap-env:Envelope>";

#[tokio::test]
async fn all_posts_of_a_session_share_one_connection() {
    let server = Server::start(|_, n| match n {
        0 => ok("<InformResponse/>"),
        1 => ok("<GetParameterValues/>"),
        _ => no_content(),
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/acs"), None).await.unwrap();

    let first = session
        .post(Bytes::from_static(INFORM.as_bytes()))
        .await
        .unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(&first.body[..], b"<InformResponse/>");
    let second = session.post(Bytes::new()).await.unwrap();
    assert_eq!(&second.body[..], b"<GetParameterValues/>");
    let last = session
        .post(Bytes::from_static(b"<GPVResponse/>"))
        .await
        .unwrap();
    assert_eq!(last.status, StatusCode::NO_CONTENT);
    assert!(last.is_empty());

    assert_eq!(server.connections(), 1);
    assert_eq!(session.connections_opened(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|r| r.connection == 0 && r.method == "POST")
    );
    assert!(requests.iter().all(|r| r.target == "/acs"));
}

#[tokio::test]
async fn request_headers_follow_tr069() {
    let server = Server::start(|_, _| ok("<x/>")).await;
    let client = client(TransportConfig {
        user_agent: "test-agent/1".into(),
        soap_action: Some(String::new()),
        ..config()
    });
    let mut session = client.open(server.url("/cwmp?id=1"), None).await.unwrap();
    session
        .post(Bytes::from_static(INFORM.as_bytes()))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();

    let requests = server.requests();
    let envelope = &requests[0];
    assert_eq!(envelope.target, "/cwmp?id=1");
    assert_eq!(
        envelope.header("content-type"),
        Some("text/xml; charset=\"utf-8\"")
    );
    assert_eq!(
        envelope.header("content-length"),
        Some(INFORM.len().to_string().as_str())
    );
    assert_eq!(
        envelope.header("host"),
        Some(format!("127.0.0.1:{}", server.port()).as_str())
    );
    assert_eq!(envelope.header("user-agent"), Some("test-agent/1"));
    assert_eq!(envelope.header("soapaction"), Some(""));
    assert_eq!(envelope.body, INFORM.as_bytes());

    // The empty POST: Content-Length 0, no body, no Content-Type, no SOAPAction.
    let empty = &requests[1];
    assert_eq!(empty.header("content-length"), Some("0"));
    assert_eq!(empty.header("content-type"), None);
    assert_eq!(empty.header("soapaction"), None);
    assert!(empty.body.is_empty());
    assert!(
        empty.head.starts_with("POST /cwmp?id=1 HTTP/1.1\r\n"),
        "{}",
        empty.head
    );
    assert!(empty.header("transfer-encoding").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_when_the_acs_closes_after_each_response() {
    // GenieACS: no `Connection: close`, but the socket is closed after every response; the
    // cookie alone keeps the CWMP session together.
    let server = Server::start(|request, n| {
        let cookie = request.header("cookie").unwrap_or_default().to_owned();
        let response = match n {
            0 => reply(
                "200 OK",
                &[("Set-Cookie", "session=c767b8354b762300")],
                "<InformResponse/>",
            ),
            1 if cookie == "session=c767b8354b762300" => ok("<GetParameterNames/>"),
            2 if cookie == "session=c767b8354b762300" => no_content(),
            _ => reply("400 Bad Request", &[], "no session"),
        };
        response.then_close()
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    let inform = session
        .post(Bytes::from_static(INFORM.as_bytes()))
        .await
        .unwrap();
    assert_eq!(&inform.body[..], b"<InformResponse/>");
    let gpn = session.post(Bytes::new()).await.unwrap();
    assert_eq!(&gpn.body[..], b"<GetParameterNames/>");
    let end = session
        .post(Bytes::from_static(b"<GPNResponse/>"))
        .await
        .unwrap();
    assert_eq!(end.status, StatusCode::NO_CONTENT);

    assert_eq!(server.connections(), 3);
    assert_eq!(session.connections_opened(), 3);
    let connections: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 1, 2]);
}

#[tokio::test]
async fn request_lost_on_a_closing_idle_connection_is_sent_again() {
    let server = Server::start(|request, n| match n {
        0 => reply(
            "200 OK",
            &[("Set-Cookie", "session=42")],
            "<InformResponse/>",
        ),
        // The ACS closes the kept-alive connection as the next request arrives.
        1 => Reply::drop_connection(),
        _ => ok(&format!(
            "<again cookie='{}'/>",
            request.header("cookie").unwrap_or_default()
        )),
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    session
        .post(Bytes::from_static(INFORM.as_bytes()))
        .await
        .unwrap();
    let response = session.post(Bytes::from_static(b"<Next/>")).await.unwrap();
    assert_eq!(&response.body[..], b"<again cookie='session=42'/>");

    let requests = server.requests();
    let seen: Vec<(usize, &[u8])> = requests
        .iter()
        .map(|r| (r.connection, r.body.as_slice()))
        .collect();
    assert_eq!(
        seen,
        [
            (0, INFORM.as_bytes()),
            (0, &b"<Next/>"[..]),
            (1, &b"<Next/>"[..])
        ]
    );
    assert_eq!(session.connections_opened(), 2);
}

#[tokio::test]
async fn a_request_lost_on_a_fresh_connection_is_not_repeated() {
    let server = Server::start(|_, _| Reply::drop_connection()).await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert!(matches!(
        session
            .post(Bytes::from_static(INFORM.as_bytes()))
            .await
            .unwrap_err(),
        crate::transport::TransportError::Http { .. }
    ));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn reconnects_after_connection_close_header() {
    let server = Server::start(|_, n| {
        if n == 0 {
            reply("200 OK", &[("Connection", "close")], "<a/>").then_close()
        } else {
            ok("<b/>")
        }
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    session.post(Bytes::from_static(b"<1/>")).await.unwrap();
    session.post(Bytes::from_static(b"<2/>")).await.unwrap();
    session.post(Bytes::from_static(b"<3/>")).await.unwrap();
    assert_eq!(server.connections(), 2);
    let connections: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 1, 1]);
}

#[tokio::test]
async fn cookies_are_echoed_and_updated() {
    let server = Server::start(|_, n| match n {
        0 => reply(
            "200 OK",
            &[
                ("Set-Cookie", "session=one; Path=/; HttpOnly"),
                ("Set-Cookie", "node=acs-2; Path=/other; Max-Age=300"),
            ],
            "<a/>",
        ),
        1 => reply("200 OK", &[("Set-Cookie", "session=two; Secure")], "<b/>"),
        _ => no_content(),
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    for _ in 0..3 {
        session.post(Bytes::new()).await.unwrap();
    }
    let cookies: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| r.header("cookie").map(str::to_owned))
        .collect();
    assert_eq!(
        cookies,
        [
            None,
            Some("session=one; node=acs-2".to_owned()),
            Some("session=two; node=acs-2".to_owned()),
        ]
    );

    // Cookies belong to one session only.
    let mut next = client.open(server.url("/"), None).await.unwrap();
    next.post(Bytes::new()).await.unwrap();
    assert_eq!(server.requests()[3].header("cookie"), None);
}

#[tokio::test]
async fn soap_fault_with_500_is_returned_other_statuses_are_errors() {
    let server = Server::start(|_, n| match n {
        0 => reply("500 Internal Server Error", &[], "<soap-env:Fault/>"),
        1 => reply("500 Internal Server Error", &[], ""),
        2 => reply("404 Not Found", &[], "<html/>"),
        _ => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n<ok/"),
    })
    .await;
    let client = client(config());
    let mut session = client.open(server.url("/"), None).await.unwrap();
    let fault = session.post(Bytes::new()).await.unwrap();
    assert_eq!(fault.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(&fault.body[..], b"<soap-env:Fault/>");
    for expected in [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::NOT_FOUND] {
        match session.post(Bytes::new()).await.unwrap_err() {
            crate::transport::TransportError::Status { status, .. } => assert_eq!(status, expected),
            other => panic!("expected Status, got {other:?}"),
        }
    }
    assert_eq!(&session.post(Bytes::new()).await.unwrap().body[..], b"<ok/");
    assert_eq!(server.connections(), 1);
}
