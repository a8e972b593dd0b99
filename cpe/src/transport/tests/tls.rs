//! TR-069 Amd 6 §3.3: TLS with trust anchors from a CA file, client certificates, and the
//! typed errors when trust fails.

use bytes::Bytes;
use rustls::CertificateError;

use super::support::{Pki, Server, client, config, ok, reply};
use crate::transport::{Credentials, TlsSettings, TransportConfig, TransportError};

fn tls_config(settings: TlsSettings) -> TransportConfig {
    TransportConfig {
        tls: settings,
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
async fn trusted_ca_file_works_on_one_connection() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok("<ok/>")).await;
    let client = client(tls_config(trusting(&pki)));
    let mut session = client.open(server.url("/acs"), None).await.unwrap();
    session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests()[1].header("content-length"), Some("0"));
}

#[tokio::test]
async fn untrusted_certificate_is_a_clear_error() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok("<ok/>")).await;
    let settings = TlsSettings {
        ca_file: Some(pki.other_ca_file.clone()),
        ..config().tls
    };
    let client = client(tls_config(settings));
    let error = client.open(server.url("/"), None).await.unwrap_err();
    match &error {
        TransportError::UntrustedCertificate { host, reason } => {
            assert_eq!(host, "127.0.0.1");
            assert_eq!(*reason, CertificateError::UnknownIssuer);
        }
        other => panic!("expected UntrustedCertificate, got {other:?}"),
    }
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn no_trust_anchors_at_all_trusts_nothing() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok("<ok/>")).await;
    let client = client(config());
    assert!(matches!(
        client.open(server.url("/"), None).await.unwrap_err(),
        TransportError::UntrustedCertificate {
            reason: CertificateError::UnknownIssuer,
            ..
        }
    ));
}

#[tokio::test]
async fn insecure_skips_verification() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok("<ok/>")).await;
    let client = client(tls_config(TlsSettings {
        insecure: true,
        ..config().tls
    }));
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert_eq!(
        &session.post(Bytes::new()).await.unwrap().body[..],
        b"<ok/>"
    );
}

#[tokio::test]
async fn mutual_tls_works_with_the_configured_client_certificate() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(true), |_, _| ok("<ok/>")).await;
    let client = client(tls_config(TlsSettings {
        client_certificate: Some(pki.client_certificate.clone()),
        ..trusting(&pki)
    }));
    let mut session = client.open(server.url("/"), None).await.unwrap();
    session
        .post(Bytes::from_static(b"<Inform/>"))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();
    assert_eq!(server.connections(), 1);
    assert!(server.tls_failures().is_empty());
}

#[tokio::test]
async fn mutual_tls_fails_without_a_client_certificate() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(true), |_, _| ok("<ok/>")).await;
    let client = client(tls_config(trusting(&pki)));
    // TLS 1.3 finishes the client side of the handshake before the server checks the
    // certificate, so the failure shows on the first exchange at the latest.
    let error = match client.open(server.url("/"), None).await {
        Ok(mut session) => session.post(Bytes::new()).await.unwrap_err(),
        Err(error) => error,
    };
    match &error {
        TransportError::Tls { host, source } => {
            assert_eq!(host, "127.0.0.1");
            assert!(
                matches!(source, rustls::Error::AlertReceived(_)),
                "{source:?}"
            );
        }
        other => panic!("expected Tls, got {other:?}"),
    }
    assert!(server.requests().is_empty());
    assert_eq!(server.tls_failures().len(), 1);
}

#[tokio::test]
async fn basic_is_answered_over_https() {
    let pki = Pki::new();
    let expected = http_auth::basic::encode_credentials("cpe", "pw");
    let server = Server::start_tls(pki.server_config(false), move |request, _| {
        if request.header("authorization") == Some(expected.as_str()) {
            ok("<ok/>")
        } else {
            reply(
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"acs\"")],
                "",
            )
        }
    })
    .await;
    let client = client(tls_config(trusting(&pki)));
    let mut session = client
        .open(server.url("/"), Some(Credentials::new("cpe", "pw")))
        .await
        .unwrap();
    session.post(Bytes::new()).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn redirect_from_https_to_http_is_refused() {
    let pki = Pki::new();
    let plain = Server::start(|_, _| ok("<ok/>")).await;
    let location = plain.url("/").to_string();
    let server = Server::start_tls(pki.server_config(false), move |_, _| {
        reply("302 Found", &[("Location", &location)], "")
    })
    .await;
    let client = client(tls_config(trusting(&pki)));
    let mut session = client.open(server.url("/"), None).await.unwrap();
    assert!(matches!(
        session.post(Bytes::new()).await.unwrap_err(),
        TransportError::InsecureRedirect { .. }
    ));
    assert!(plain.requests().is_empty());
}

#[test]
fn bad_tls_files_are_typed_errors() {
    let pki = Pki::new();
    let missing = TlsSettings {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..config().tls
    };
    assert!(matches!(
        crate::transport::Client::new(tls_config(missing)).unwrap_err(),
        TransportError::TlsConfig(_)
    ));
    // A key file given as the CA file holds no certificate.
    let no_certs = TlsSettings {
        ca_file: Some(pki.client_certificate.key_file.clone()),
        ..config().tls
    };
    assert!(matches!(
        crate::transport::Client::new(tls_config(no_certs)).unwrap_err(),
        TransportError::TlsConfig(_)
    ));
    // Certificate and key swapped.
    let mut swapped = pki.client_certificate.clone();
    std::mem::swap(&mut swapped.cert_file, &mut swapped.key_file);
    let swapped = TlsSettings {
        client_certificate: Some(swapped),
        ..trusting(&pki)
    };
    assert!(matches!(
        crate::transport::Client::new(tls_config(swapped)).unwrap_err(),
        TransportError::TlsConfig(_)
    ));
}
