//! SOAP header elements of CWMP (TR-069 Amd 6 §3.5, Table 5; XSD cwmp-1-0 to 1-4).

use super::SoapError;
use super::namespace::{CwmpNamespace, CwmpVersion, Ns};
use super::reader::Reader;
use super::writer::Writer;
use crate::rpc::field::Field;

/// The CWMP header elements. Each is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `cwmp:ID` (mustUnderstand=1): pairs a response with its request.
    pub id: Option<String>,
    /// `cwmp:HoldRequests` (mustUnderstand=1, ACS to CPE): the CPE must not send requests in
    /// its next message. The misspelling `HoldRequest` is read too.
    pub hold_requests: Option<bool>,
    /// `cwmp:NoMoreRequests` (CWMP 1.0, deprecated): read, never written.
    pub no_more_requests: Option<bool>,
    /// `cwmp:SessionTimeout` (CWMP 1.3): seconds of silence before the session fails.
    pub session_timeout: Option<u32>,
    /// `cwmp:SupportedCWMPVersions` (CWMP 1.4, CPE to ACS). Unknown entries are left out.
    pub supported_cwmp_versions: Option<Vec<CwmpVersion>>,
    /// `cwmp:UseCWMPVersion` (CWMP 1.4, ACS to CPE, mustUnderstand=1).
    pub use_cwmp_version: Option<CwmpVersion>,
}

impl Header {
    /// Reads the Header's children. Header elements are matched by local name (any case) in
    /// a CWMP namespace or none; others are skipped.
    pub(crate) fn read(&mut self, r: &mut Reader<'_>) -> Result<(), SoapError> {
        while let Some(child) = r.next_child()? {
            if !matches!(child.ns(), Ns::Cwmp(_) | Ns::None) {
                r.skip()?;
                continue;
            }
            let name = child.local();
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            if is("ID") {
                self.id = Some(String::read(r, &child, Some(256))?);
            } else if is("HoldRequests") || is("HoldRequest") {
                self.hold_requests = Some(bool::read(r, &child, None)?);
            } else if is("NoMoreRequests") {
                self.no_more_requests = Some(bool::read(r, &child, None)?);
            } else if is("SessionTimeout") {
                self.session_timeout = Some(u32::read(r, &child, None)?);
            } else if is("SupportedCWMPVersions") {
                let text = String::read(r, &child, Some(64))?;
                let versions = text.split(',').filter_map(|v| v.parse().ok()).collect();
                self.supported_cwmp_versions = Some(versions);
            } else if is("UseCWMPVersion") {
                let text = String::read(r, &child, Some(16))?;
                let version = text.parse().map_err(|_| {
                    SoapError::invalid("UseCWMPVersion", &text, "CWMP version (1.0 to 1.4)")
                })?;
                self.use_cwmp_version = Some(version);
            } else {
                r.skip()?;
            }
        }
        Ok(())
    }

    /// Writes the Header in namespace `ns`, or nothing if no element is set. Elements the
    /// namespace does not define (`SessionTimeout` and the 1.4 version headers outside
    /// `cwmp-1-2`, `NoMoreRequests` anywhere) are left out, so what is written validates.
    pub(crate) fn write(&self, w: &mut Writer, ns: CwmpNamespace) {
        let modern = ns.uri() == CwmpNamespace::V1_2.uri();
        let session_timeout = self.session_timeout.filter(|_| modern);
        let supported = self.supported_cwmp_versions.as_ref().filter(|_| modern);
        let use_version = self.use_cwmp_version.filter(|_| modern);
        if self.id.is_none()
            && self.hold_requests.is_none()
            && session_timeout.is_none()
            && supported.is_none()
            && use_version.is_none()
        {
            return;
        }
        const MUST: (&str, &str) = ("soap-env:mustUnderstand", "1");
        w.start("soap-env:Header", &[]);
        if let Some(id) = &self.id {
            w.leaf("cwmp:ID", &[MUST], id);
        }
        if let Some(hold) = self.hold_requests {
            w.leaf(
                "cwmp:HoldRequests",
                &[MUST],
                if hold { "true" } else { "false" },
            );
        }
        if let Some(timeout) = session_timeout {
            w.leaf("cwmp:SessionTimeout", &[], &timeout.to_string());
        }
        if let Some(versions) = supported {
            let list: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
            w.leaf("cwmp:SupportedCWMPVersions", &[], &list.join(","));
        }
        if let Some(version) = use_version {
            w.leaf("cwmp:UseCWMPVersion", &[MUST], version.as_str());
        }
        w.end("soap-env:Header");
    }
}
