//! HTTP proxy: `CONNECT` tunnels for https, absolute-form for http, typed proxy errors.

use bytes::Bytes;
use http::StatusCode;

use super::support::{Pki, Proxy, Server, client, closed_port, config, ok};
use crate::transport::{
    AcsUrl, Credentials, ProxyConfig, ProxyError, ProxySettings, TlsSettings, TransportConfig,
    TransportError,
};

fn via(proxy: &Proxy, credentials: Option<Credentials>, tls: TlsSettings) -> TransportConfig {
    TransportConfig {
        proxy: ProxySettings::all(ProxyConfig {
            url: proxy.url(),
            credentials,
        }),
        tls,
        ..config()
    }
}

fn trusting(pki: &Pki) -> TlsSettings {
    TlsSettings {
        ca_file: Some(pki.ca_file.clone()),
        ..config().tls
    }
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_with_proxy_auth() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok("<ok/>")).await;
    let expected = http_auth::basic::encode_credentials("proxyuser", "proxypw");
    let proxy = Proxy::start(Some(expected.clone())).await;
    let client = client(via(
        &proxy,
        Some(Credentials::new("proxyuser", "proxypw")),
        trusting(&pki),
    ));
    let mut session = client.open(server.url("/acs"), None).await.unwrap();
    session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();

    let target = format!("127.0.0.1:{}", server.port());
    assert_eq!(
        proxy.seen(),
        [(format!("CONNECT {target} HTTP/1.1"), Some(expected))]
    );
    assert_eq!(proxy.connections(), 1);
    assert_eq!(server.connections(), 1);
    // Inside the tunnel the requests are origin-form and carry no proxy credentials.
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.target == "/acs"));
    assert!(
        requests
            .iter()
            .all(|r| r.header("proxy-authorization").is_none())
    );
}

#[tokio::test]
async fn http_goes_to_the_proxy_in_absolute_form() {
    let server = Server::start(|_, _| ok("<ok/>")).await;
    let proxy = Proxy::start(None).await;
    let client = client(via(&proxy, None, config().tls));
    let mut session = client.open(server.url("/acs?x=1"), None).await.unwrap();
    session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();

    let absolute = format!("http://127.0.0.1:{}/acs?x=1", server.port());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.target == absolute));
    assert_eq!(
        requests[0].header("host"),
        Some(format!("127.0.0.1:{}", server.port()).as_str())
    );
    assert_eq!(proxy.seen()[0].0, format!("POST {absolute} HTTP/1.1"));
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test]
async fn proxy_credentials_from_the_url_are_sent_in_absolute_form() {
    let server = Server::start(|_, _| ok("<ok/>")).await;
    let expected = http_auth::basic::encode_credentials("u", "p");
    let proxy = Proxy::start(Some(expected.clone())).await;
    let url = proxy.url().replace("http://", "http://u:p@");
    let client = client(TransportConfig {
        proxy: ProxySettings::all(ProxyConfig {
            url,
            credentials: None,
        }),
        ..config()
    });
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert_eq!(
        session.post(Bytes::new()).await.unwrap().status,
        StatusCode::OK
    );
    assert_eq!(proxy.seen()[0].1.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn proxy_407_is_typed() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok("<ok/>")).await;
    let plain = Server::start(|_, _| ok("<ok/>")).await;
    let proxy = Proxy::start(Some("Basic c2VjcmV0".into())).await;

    // CONNECT without credentials.
    let anonymous = client(via(&proxy, None, trusting(&pki)));
    assert!(matches!(
        anonymous.open(server.url("/"), None).await.unwrap_err(),
        TransportError::Proxy(ProxyError::AuthRequired { .. })
    ));
    // CONNECT with wrong credentials.
    let wrong = client(via(
        &proxy,
        Some(Credentials::new("x", "y")),
        trusting(&pki),
    ));
    assert!(matches!(
        wrong.open(server.url("/"), None).await.unwrap_err(),
        TransportError::Proxy(ProxyError::AuthRejected { .. })
    ));
    // Absolute-form: the 407 arrives as the response.
    let mut session = anonymous.open(plain.url("/"), None).await.unwrap();
    assert!(matches!(
        session.post(Bytes::new()).await.unwrap_err(),
        TransportError::Proxy(ProxyError::AuthRequired { .. })
    ));
    assert!(server.requests().is_empty() && plain.requests().is_empty());
}

#[tokio::test]
async fn proxy_refusals_are_typed() {
    let pki = Pki::new();
    let proxy = Proxy::start(None).await;
    // The proxy cannot reach the ACS: 502 to CONNECT.
    let client_via_proxy = client(via(&proxy, None, trusting(&pki)));
    let dead: AcsUrl = format!("https://127.0.0.1:{}/", closed_port().await)
        .parse()
        .unwrap();
    match client_via_proxy.open(dead, None).await.unwrap_err() {
        TransportError::Proxy(ProxyError::Refused { status, target, .. }) => {
            assert_eq!(status, StatusCode::BAD_GATEWAY);
            assert!(target.starts_with("127.0.0.1:"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }

    // Nothing listens on the proxy port.
    let no_proxy = client(TransportConfig {
        proxy: ProxySettings::all(ProxyConfig {
            url: format!("http://127.0.0.1:{}", closed_port().await),
            credentials: None,
        }),
        ..config()
    });
    let acs: AcsUrl = "http://acs.invalid/".parse().unwrap();
    assert!(matches!(
        no_proxy.open(acs, None).await.unwrap_err(),
        TransportError::Proxy(ProxyError::Connect { .. })
    ));
}

#[tokio::test]
async fn last_peer_is_the_proxy_through_one_and_the_server_without() {
    let server = Server::start(|_, _| ok("<ok/>")).await;
    let proxy = Proxy::start(None).await;
    let direct = client(config());
    assert_eq!(direct.last_peer(), None);
    direct.open(server.url("/"), None).await.unwrap();
    assert_eq!(
        direct.last_peer().map(|p| p.port()),
        Some(server.port()),
        "the server"
    );
    let proxied = client(via(&proxy, None, config().tls));
    proxied.open(server.url("/"), None).await.unwrap();
    assert_eq!(
        proxied.last_peer().map(|p| p.to_string()),
        proxy.url().strip_prefix("http://").map(str::to_owned)
    );
}

#[tokio::test]
async fn no_proxy_targets_are_reached_directly() {
    let server = Server::start(|_, _| ok("<ok/>")).await;
    let proxy = Proxy::start(None).await;
    let mut settings = via(&proxy, None, config().tls);
    settings.proxy.no_proxy = vec!["127.0.0.0/8".into()];
    let client = client(settings);
    let mut session = client.open(server.url("/"), None).await.unwrap();
    session.post(Bytes::new()).await.unwrap();
    assert_eq!(
        server.requests()[0].target,
        "/",
        "origin-form, not through the proxy"
    );
    assert_eq!(proxy.connections(), 0);
}
