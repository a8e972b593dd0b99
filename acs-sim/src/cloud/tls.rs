//! The cloud server's TLS configuration: from PEM files, or a lab certificate made at start
//! (a CA, whose PEM a device takes as `--cloud-ca`, and a server certificate it signed).

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} from {path}: {source}")]
    Pem {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// rcgen could not make the lab certificate.
    #[error("cannot make the lab certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate made for a lab: the server's configuration and the CA that signed it.
#[derive(Debug)]
pub struct LabCertificate {
    /// The CA certificate in PEM: what a device trusts (`cpe run --cloud-ca`).
    pub ca_pem: String,
    /// The CA certificate.
    pub ca_der: CertificateDer<'static>,
    /// The server configuration with the certificate for the names.
    pub server: Arc<rustls::ServerConfig>,
}

/// Makes a CA and a server certificate for `names` (DNS names or IP addresses, e.g.
/// `localhost`, `127.0.0.1`).
pub fn lab_certificate(names: &[String]) -> Result<LabCertificate, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "acs-sim cloud lab CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name
        .push(DnType::CommonName, "acs-sim cloud");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok(LabCertificate {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server: server_config(vec![cert.der().clone()], key)?,
    })
}

/// Reads a certificate chain and a private key from PEM files.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| pem_error("certificate", cert, source))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| pem_error("key", key, source))?;
    server_config(chain, key)
}

fn pem_error(what: &'static str, path: &Path, source: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        what,
        path: path.display().to_string(),
        source,
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}
