//! rustls client configuration for `https` ACS URLs (TR-069 Amd 6 §3.3).
//!
//! Configs are built with an explicit aws-lc-rs provider, so no process-level
//! `CryptoProvider` has to be installed.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tracing::debug;

use super::config::TlsSettings;
use super::error::{TlsConfigError, TransportError};

/// Builds the client config once per [`Client`](super::Client).
pub(crate) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::from)?;

    let builder = if settings.insecure {
        crate::oplog!(
            TLS_VERIFY_DISABLED,
            "TLS certificate verification of the ACS is DISABLED (insecure = true): any server \
             can impersonate the ACS"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(
                provider.signature_verification_algorithms,
            )))
    } else {
        builder.with_root_certificates(root_store(settings)?)
    };

    let config = match &settings.client_certificate {
        Some(identity) => {
            let chain = read_certificates(&identity.cert_file)?;
            let key = PrivateKeyDer::from_pem_file(&identity.key_file).map_err(|source| {
                TlsConfigError::Pem {
                    path: identity.key_file.clone(),
                    source,
                }
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsConfigError::from)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn root_store(settings: &TlsSettings) -> Result<RootCertStore, TransportError> {
    let mut roots = RootCertStore::empty();
    let path = match &settings.ca_file {
        Some(path) => path.as_path(),
        None if settings.system_ca_file.exists() => settings.system_ca_file.as_path(),
        None => {
            crate::oplog!(
                TLS_NO_TRUST_ANCHORS,
                path = %settings.system_ca_file.display(),
                "no CA file configured and no system bundle found: no https ACS will be trusted"
            );
            return Ok(roots);
        }
    };
    let certs = read_certificates(path)?;
    let (added, ignored) = roots.add_parsable_certificates(certs);
    debug!(path = %path.display(), added, ignored, "loaded TLS trust anchors");
    if added == 0 {
        return Err(TlsConfigError::NoCaCertificates {
            path: path.to_owned(),
        }
        .into());
    }
    Ok(roots)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem_error = |source| TlsConfigError::Pem {
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCaCertificates {
            path: path.to_owned(),
        }
        .into());
    }
    Ok(certs)
}

/// Maps an I/O error of the TLS stream: rustls errors become [`TransportError::Tls`] or
/// [`TransportError::UntrustedCertificate`]; anything else is `None`.
pub(crate) fn classify(
    error: &(dyn std::error::Error + 'static),
    host: &str,
) -> Option<TransportError> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(from_rustls(tls.clone(), host));
        }
        if let Some(io) = error.downcast_ref::<io::Error>()
            && let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Some(from_rustls(tls.clone(), host));
        }
        current = error.source();
    }
    None
}

fn from_rustls(error: rustls::Error, host: &str) -> TransportError {
    match error {
        rustls::Error::InvalidCertificate(reason) => TransportError::UntrustedCertificate {
            host: host.to_owned(),
            reason,
        },
        source => TransportError::Tls {
            host: host.to_owned(),
            source,
        },
    }
}

/// The SNI / verification name for a URL host: an IP address or a DNS name.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(host.to_owned()).map_err(|_| TransportError::InvalidUrl {
        url: host.to_owned(),
        reason: "host is not a valid TLS server name",
    })
}

/// Accepts any server certificate but still checks the handshake signatures, so the session
/// is at least bound to the key the server presented. Used only with `insecure = true`.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
