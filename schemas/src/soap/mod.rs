//! The SOAP 1.1 envelope of CWMP (TR-069 Amd 6 §3.5): reading any prefixes and namespace
//! layouts, writing one canonical form.

mod error;
mod header;
pub mod namespace;
pub(crate) mod reader;
mod scope;
pub(crate) mod writer;

pub use error::SoapError;
pub use header::Header;
pub use namespace::{CwmpNamespace, CwmpVersion};

use namespace::{Ns, SOAP_ENC, SOAP_ENV, XSD, XSI};
use reader::Reader;
use writer::Writer;

use crate::limits::Limits;
use crate::rpc::field::Field;
use crate::rpc::{Body, SoapFault};

/// One CWMP message: its namespace, header and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The CWMP namespace of the header and body elements.
    pub namespace: CwmpNamespace,
    /// The header elements.
    pub header: Header,
    /// The message.
    pub body: Body,
}

impl Envelope {
    /// A message with no header elements.
    pub fn new(namespace: CwmpNamespace, body: impl Into<Body>) -> Self {
        Self {
            namespace,
            header: Header::default(),
            body: body.into(),
        }
    }

    /// The same message with `cwmp:ID` set.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.header.id = Some(id.into());
        self
    }

    /// Reads an envelope with the default [`Limits`].
    pub fn parse(bytes: &[u8]) -> Result<Self, SoapError> {
        Self::parse_with(bytes, &Limits::DEFAULT)
    }

    /// Reads an envelope.
    ///
    /// Elements are matched on namespace URI and local name, whatever their prefixes; the
    /// CWMP namespace is taken from the body's message, else from the first element in a CWMP
    /// namespace (a header element, a fault's `cwmp:Fault`), else it is `cwmp-1-0`. A UTF-8
    /// byte-order mark is allowed; a DOCTYPE is refused. Content after the Body's first element
    /// is ignored (`MaxEnvelopes` is 1).
    pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Self, SoapError> {
        if bytes.len() > limits.max_body_bytes {
            return Err(SoapError::TooLarge {
                max: limits.max_body_bytes,
                len: bytes.len(),
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut r = Reader::new(bytes, limits);
        let root = r.root()?;
        if root.ns() != Ns::SoapEnv || root.local() != "Envelope" {
            return Err(SoapError::NotSoapEnvelope {
                name: root.qname().to_owned(),
                namespace: r.namespace_of(&root),
            });
        }
        let mut header = Header::default();
        let mut body = None;
        while let Some(child) = r.next_child()? {
            match (child.ns(), child.local()) {
                (Ns::SoapEnv, "Header") => header.read(&mut r)?,
                (Ns::SoapEnv, "Body") if body.is_none() => body = Some(read_body(&mut r)?),
                _ => r.skip()?,
            }
        }
        let (body_ns, body) = body.ok_or(SoapError::MissingBody)?;
        let namespace = body_ns
            .or_else(|| r.first_cwmp_namespace())
            .unwrap_or(CwmpNamespace::V1_0);
        Ok(Self {
            namespace,
            header,
            body,
        })
    }

    /// Writes the envelope in canonical form: an XML declaration, then `soap-env:Envelope`
    /// declaring `soap-env`, `soap-enc`, `xsd`, `xsi` and `cwmp` once, the header elements the
    /// namespace defines, and the body.
    pub fn write(&self) -> Vec<u8> {
        let mut w = Writer::new(1024);
        w.declaration();
        w.start(
            "soap-env:Envelope",
            &[
                ("xmlns:soap-env", SOAP_ENV),
                ("xmlns:soap-enc", SOAP_ENC),
                ("xmlns:xsd", XSD),
                ("xmlns:xsi", XSI),
                ("xmlns:cwmp", self.namespace.uri()),
            ],
        );
        self.header.write(&mut w, self.namespace);
        w.start("soap-env:Body", &[]);
        self.body.write(&mut w);
        w.end("soap-env:Body");
        w.end("soap-env:Envelope");
        w.into_bytes()
    }

    /// The CWMP version this envelope speaks: `UseCWMPVersion` if present; else the namespace's
    /// version, raised to 1.4 by `SupportedCWMPVersions` or to 1.3 by `SessionTimeout` (headers
    /// those versions introduced).
    pub fn version(&self) -> CwmpVersion {
        if let Some(v) = self.header.use_cwmp_version {
            return v;
        }
        let base = self.namespace.base_version();
        if base < CwmpVersion::V1_2 {
            base
        } else if self.header.supported_cwmp_versions.is_some() {
            base.max(CwmpVersion::V1_4)
        } else if self.header.session_timeout.is_some() {
            base.max(CwmpVersion::V1_3)
        } else {
            base
        }
    }
}

/// Reads only the Header of an envelope, best effort: what a receiver needs to answer a message
/// it could not read in full with a Fault carrying the request's `cwmp:ID` (TR-069 §3.5:
/// a response carries its request's ID). `None` if not even the Header can be read.
pub fn peek_header(bytes: &[u8]) -> Option<(CwmpNamespace, Header)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = Reader::new(bytes, &Limits::DEFAULT);
    let root = r.root().ok()?;
    if root.ns() != Ns::SoapEnv || root.local() != "Envelope" {
        return None;
    }
    let mut header = Header::default();
    while let Some(child) = r.next_child().ok()? {
        match (child.ns(), child.local()) {
            (Ns::SoapEnv, "Header") => header.read(&mut r).ok()?,
            (Ns::SoapEnv, "Body") => {
                // The body's first element names the namespace, as in a full read.
                let first = r.next_child().ok().flatten();
                if let Some(Ns::Cwmp(ns)) = first.as_ref().map(reader::Element::ns) {
                    return Some((ns, header));
                }
                break;
            }
            _ => r.skip().ok()?,
        }
    }
    Some((
        r.first_cwmp_namespace().unwrap_or(CwmpNamespace::V1_0),
        header,
    ))
}

/// Reads the Body: its first element is the message; the rest is skipped.
fn read_body(r: &mut Reader<'_>) -> Result<(Option<CwmpNamespace>, Body), SoapError> {
    let first = r.next_child()?.ok_or(SoapError::EmptyBody)?;
    let read = match (first.ns(), first.local()) {
        (Ns::SoapEnv, "Fault") => (None, Body::Fault(SoapFault::read(r, &first, None)?)),
        (Ns::Cwmp(ns), _) => match Body::read_cwmp(r, &first)? {
            Some(body) => (Some(ns), body),
            None => return Err(unknown_message(r, &first)),
        },
        _ => return Err(unknown_message(r, &first)),
    };
    while r.next_child()?.is_some() {
        r.skip()?;
    }
    Ok(read)
}

fn unknown_message(r: &Reader<'_>, el: &reader::Element<'_>) -> SoapError {
    SoapError::UnknownMessage {
        name: el.local().to_owned(),
        namespace: r.namespace_of(el),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Inform;

    fn version(ns: CwmpNamespace, edit: impl FnOnce(&mut Header)) -> CwmpVersion {
        let mut env = Envelope::new(ns, Inform::default());
        edit(&mut env.header);
        env.version()
    }

    #[test]
    fn version_comes_from_the_namespace_and_the_headers() {
        assert_eq!(version(CwmpNamespace::V1_0, |_| {}), CwmpVersion::V1_0);
        assert_eq!(version(CwmpNamespace::V1_1, |_| {}), CwmpVersion::V1_1);
        assert_eq!(version(CwmpNamespace::V1_2, |_| {}), CwmpVersion::V1_2);
        let timeout = |h: &mut Header| h.session_timeout = Some(30);
        assert_eq!(version(CwmpNamespace::V1_2, timeout), CwmpVersion::V1_3);
        let supported = |h: &mut Header| h.supported_cwmp_versions = Some(vec![CwmpVersion::V1_4]);
        assert_eq!(version(CwmpNamespace::V1_2, supported), CwmpVersion::V1_4);
        let chosen = |h: &mut Header| {
            h.supported_cwmp_versions = Some(CwmpVersion::ALL.to_vec());
            h.use_cwmp_version = Some(CwmpVersion::V1_3);
        };
        assert_eq!(version(CwmpNamespace::V1_2, chosen), CwmpVersion::V1_3);
        assert_eq!(
            version(CwmpNamespace::NonStandardV1_4, |_| {}),
            CwmpVersion::V1_4
        );
        // Headers of later versions do not raise a 1.0 or 1.1 namespace.
        assert_eq!(version(CwmpNamespace::V1_1, timeout), CwmpVersion::V1_1);
    }

    #[test]
    fn the_header_of_an_unreadable_request_can_still_be_peeked() {
        let xml = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
            xmlns:c="urn:dslforum-org:cwmp-1-1"><s:Header><c:ID s:mustUnderstand="1">r-7</c:ID>
            </s:Header><s:Body><c:X_Vendor_Frobnicate/></s:Body></s:Envelope>"#;
        assert!(matches!(
            Envelope::parse(xml),
            Err(SoapError::UnknownMessage { .. })
        ));
        let (ns, header) = peek_header(xml).unwrap();
        assert_eq!(
            (ns, header.id.as_deref()),
            (CwmpNamespace::V1_1, Some("r-7"))
        );
        assert_eq!(peek_header(b"not xml"), None);
    }

    #[test]
    fn non_standard_namespaces_are_read_and_written_as_cwmp_1_2() {
        let xml = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
            xmlns:c="urn:dslforum-org:cwmp-1-3"><s:Body><c:Reboot/></s:Body></s:Envelope>"#;
        let env = Envelope::parse(xml).unwrap();
        assert_eq!(env.namespace, CwmpNamespace::NonStandardV1_3);
        assert_eq!(env.version(), CwmpVersion::V1_3);
        let written = String::from_utf8(env.write()).unwrap();
        assert!(written.contains("urn:dslforum-org:cwmp-1-2"), "{written}");
        assert!(!written.contains("cwmp-1-3"), "{written}");
    }
}
