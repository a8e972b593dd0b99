//! XML namespaces of a CWMP envelope and the CWMP version they imply.
//!
//! TR-069 Amd 6 §3.7.4 (version negotiation) and the BBF schemas: CWMP 1.0 uses
//! `urn:dslforum-org:cwmp-1-0`, 1.1 uses `cwmp-1-1`, and 1.2, 1.3 and 1.4 all share `cwmp-1-2`
//! (`cwmp-1-4.xsd` is "Version 1.2 for CWMP Version 1.4"). Some implementations (GenieACS,
//! icwmp) also accept the non-standard `cwmp-1-3` and `cwmp-1-4`; we read them and never write
//! them.

use std::fmt;
use std::str::FromStr;

/// SOAP 1.1 envelope namespace.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.1 encoding namespace (arrays, `arrayType`).
pub const SOAP_ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";
/// XML Schema namespace (`xsd:string`, `xsd:unsignedInt`, ...).
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// XML Schema instance namespace (`xsi:type`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The 1999 drafts of XSD/XSI that some old stacks still declare; read as their 2001 versions.
const XSD_1999: &str = "http://www.w3.org/1999/XMLSchema";
const XSI_1999: &str = "http://www.w3.org/1999/XMLSchema-instance";

/// Which namespace an element or attribute name resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ns {
    SoapEnv,
    SoapEnc,
    Xsd,
    Xsi,
    Cwmp(CwmpNamespace),
    /// Bound to a namespace we do not know.
    Other,
    /// No namespace (unprefixed with no default namespace in scope).
    None,
}

impl Ns {
    /// Classifies a namespace URI.
    pub(crate) fn from_uri(uri: &str) -> Self {
        match uri {
            SOAP_ENV => Self::SoapEnv,
            SOAP_ENC => Self::SoapEnc,
            XSD | XSD_1999 => Self::Xsd,
            XSI | XSI_1999 => Self::Xsi,
            _ => CwmpNamespace::from_uri(uri).map_or(Self::Other, Self::Cwmp),
        }
    }
}

/// The CWMP namespace an envelope's RPC and header elements are in.
///
/// Only the three BBF namespaces are ever written; the two non-standard ones are read leniently
/// and written as `cwmp-1-2`, which is what CWMP 1.3 and 1.4 use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CwmpNamespace {
    /// `urn:dslforum-org:cwmp-1-0` (CWMP 1.0, TR-069 Amd 1).
    V1_0,
    /// `urn:dslforum-org:cwmp-1-1` (CWMP 1.1, TR-069 Amd 2).
    V1_1,
    /// `urn:dslforum-org:cwmp-1-2` (CWMP 1.2, 1.3 and 1.4).
    V1_2,
    /// `urn:dslforum-org:cwmp-1-3`: not a BBF namespace; read as CWMP 1.3.
    NonStandardV1_3,
    /// `urn:dslforum-org:cwmp-1-4`: not a BBF namespace; read as CWMP 1.4.
    NonStandardV1_4,
}

impl CwmpNamespace {
    /// Recognises a CWMP namespace URI.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "urn:dslforum-org:cwmp-1-0" => Self::V1_0,
            "urn:dslforum-org:cwmp-1-1" => Self::V1_1,
            "urn:dslforum-org:cwmp-1-2" => Self::V1_2,
            "urn:dslforum-org:cwmp-1-3" => Self::NonStandardV1_3,
            "urn:dslforum-org:cwmp-1-4" => Self::NonStandardV1_4,
            _ => return None,
        })
    }

    /// The URI this namespace is written as: always one of the three BBF namespaces.
    pub fn uri(self) -> &'static str {
        match self {
            Self::V1_0 => "urn:dslforum-org:cwmp-1-0",
            Self::V1_1 => "urn:dslforum-org:cwmp-1-1",
            Self::V1_2 | Self::NonStandardV1_3 | Self::NonStandardV1_4 => {
                "urn:dslforum-org:cwmp-1-2"
            }
        }
    }

    /// The lowest CWMP version this namespace stands for.
    pub fn base_version(self) -> CwmpVersion {
        match self {
            Self::V1_0 => CwmpVersion::V1_0,
            Self::V1_1 => CwmpVersion::V1_1,
            Self::V1_2 => CwmpVersion::V1_2,
            Self::NonStandardV1_3 => CwmpVersion::V1_3,
            Self::NonStandardV1_4 => CwmpVersion::V1_4,
        }
    }

    /// The namespace a session of `version` uses.
    pub fn for_version(version: CwmpVersion) -> Self {
        match version {
            CwmpVersion::V1_0 => Self::V1_0,
            CwmpVersion::V1_1 => Self::V1_1,
            _ => Self::V1_2,
        }
    }
}

/// A CWMP protocol version, `1.0` to `1.4` (the `SupportedCWMPVersions` / `UseCWMPVersion`
/// header syntax, TR-069 Amd 5 §3.7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CwmpVersion {
    /// CWMP 1.0.
    V1_0,
    /// CWMP 1.1.
    V1_1,
    /// CWMP 1.2.
    V1_2,
    /// CWMP 1.3 (adds the `SessionTimeout` header).
    V1_3,
    /// CWMP 1.4 (adds `SupportedCWMPVersions`, `UseCWMPVersion`, fault 8006, `13 WAKEUP`).
    V1_4,
}

impl CwmpVersion {
    /// Every version, lowest first.
    pub const ALL: [Self; 5] = [Self::V1_0, Self::V1_1, Self::V1_2, Self::V1_3, Self::V1_4];

    /// The version as written in the headers, e.g. `"1.4"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
            Self::V1_1 => "1.1",
            Self::V1_2 => "1.2",
            Self::V1_3 => "1.3",
            Self::V1_4 => "1.4",
        }
    }
}

impl fmt::Display for CwmpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string that is not `1.0` to `1.4`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a CWMP version (expected 1.0, 1.1, 1.2, 1.3 or 1.4)")]
pub struct UnknownVersion(pub String);

impl FromStr for CwmpVersion {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_standard_namespaces_are_written_as_cwmp_1_2() {
        for uri in ["urn:dslforum-org:cwmp-1-3", "urn:dslforum-org:cwmp-1-4"] {
            let ns = CwmpNamespace::from_uri(uri).unwrap();
            assert_eq!(ns.uri(), "urn:dslforum-org:cwmp-1-2");
        }
        assert_eq!(
            CwmpNamespace::for_version(CwmpVersion::V1_4),
            CwmpNamespace::V1_2
        );
        assert_eq!(CwmpNamespace::from_uri("urn:evil"), None);
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(" 1.3".parse::<CwmpVersion>().unwrap(), CwmpVersion::V1_3);
        assert!("2.0".parse::<CwmpVersion>().is_err());
        assert!(CwmpVersion::V1_4 > CwmpVersion::V1_2);
    }
}
