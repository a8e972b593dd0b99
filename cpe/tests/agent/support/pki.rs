//! A test CA, an ACS server certificate (localhost, 127.0.0.1) and a CPE client certificate,
//! made with rcgen at test start and written as PEM files, plus a second, unrelated CA. The
//! transport's unit tests share this file.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub(crate) struct Pki {
    _dir: tempfile::TempDir,
    /// The CA that issued the ACS's and the CPE's certificates.
    pub(crate) ca_file: PathBuf,
    /// A CA that issued nothing here.
    #[allow(dead_code)] // Used by the transport's tests, which share this file.
    pub(crate) other_ca_file: PathBuf,
    /// The CPE's certificate and key.
    pub(crate) client_cert: PathBuf,
    pub(crate) client_key: PathBuf,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

fn leaf(names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    params
}

fn make_ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

impl Pki {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca_cert, issuer) = make_ca("Test ACS CA");
        let (other_ca, _) = make_ca("Some Other CA");
        let server_key = KeyPair::generate().unwrap();
        let server = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "acs.test",
            ExtendedKeyUsagePurpose::ServerAuth,
        )
        .signed_by(&server_key, &issuer)
        .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client = leaf(
            Vec::new(),
            "00D09E-HGW-SN1",
            ExtendedKeyUsagePurpose::ClientAuth,
        )
        .signed_by(&client_key, &issuer)
        .unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Self {
            ca_file: write("ca.pem", ca_cert.pem()),
            other_ca_file: write("other-ca.pem", other_ca.pem()),
            client_cert: write("cpe.pem", client.pem()),
            client_key: write("cpe.key", client_key.serialize_pem()),
            ca_der: ca_cert.der().clone(),
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            _dir: dir,
        }
    }

    /// The ACS's TLS configuration; with `require_client_cert`, the CPE must present a
    /// certificate from the test CA.
    pub(crate) fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        Arc::new(
            builder
                .with_single_cert(self.server_chain.clone(), key)
                .unwrap(),
        )
    }
}
