//! Vendor class: DHCPv4 option 60 (RFC 2132 §9.13) and DHCPv6 option 16 (RFC 8415 §21.16).
//! A TR-069 CPE announces `dslforum.org` in them (TR-069 §3.1), which is how a DHCP server
//! knows to answer with option 43 or 17.

use super::acs::read_enterprise;
use super::wire::Reader;
use super::{BBF_ENTERPRISE, DecodeError, EncodeError, Field};

/// The vendor class a TR-069 CPE announces.
pub const DSLFORUM: &str = "dslforum.org";

/// Whether an option 60 payload marks a TR-069 CPE: it holds `dslforum.org` anywhere (other
/// vendor text may surround it). The string is matched in lower case, as TR-069 §3.1 gives it.
pub fn is_cwmp_vendor_class(payload: &[u8]) -> bool {
    contains_dslforum(payload)
}

/// An option 60 payload for a TR-069 CPE: `vendor_class` as is if it already holds
/// `dslforum.org`, `dslforum.org` if it is empty, else `vendor_class dslforum.org`.
pub fn encode_option60(vendor_class: &str) -> Vec<u8> {
    if contains_dslforum(vendor_class.as_bytes()) {
        vendor_class.as_bytes().to_vec()
    } else if vendor_class.is_empty() {
        DSLFORUM.as_bytes().to_vec()
    } else {
        format!("{vendor_class} {DSLFORUM}").into_bytes()
    }
}

/// DHCPv6 option 16: an enterprise number and a list of opaque vendor-class-data items.
///
/// ```text
/// enterprise-number (4) | vendor-class-len (2) | opaque data | vendor-class-len (2) | ...
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorClass {
    /// The vendor's IANA enterprise number.
    pub enterprise: u32,
    /// The vendor-class-data items, in order.
    pub data: Vec<Vec<u8>>,
}

impl VendorClass {
    /// What a TR-069 CPE sends: enterprise 3561 with the one item `dslforum.org`.
    pub fn dslforum() -> Self {
        Self {
            enterprise: BBF_ENTERPRISE,
            data: vec![DSLFORUM.as_bytes().to_vec()],
        }
    }

    /// Whether this marks a TR-069 CPE: enterprise 3561 and an item holding `dslforum.org`.
    pub fn is_cwmp(&self) -> bool {
        self.enterprise == BBF_ENTERPRISE && self.data.iter().any(|d| contains_dslforum(d))
    }

    /// Reads an option 16 payload.
    pub fn decode_option16(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let enterprise = read_enterprise(&mut r)?;
        let mut data = Vec::new();
        while !r.is_empty() {
            let offset = r.offset();
            let Some(len) = r.u16() else {
                return Err(DecodeError::MissingLength { offset });
            };
            let len = usize::from(len);
            let Some(item) = r.take(len) else {
                return Err(DecodeError::Truncated {
                    offset,
                    len,
                    available: r.remaining(),
                });
            };
            data.push(item.to_vec());
        }
        Ok(Self { enterprise, data })
    }

    /// Writes an option 16 payload.
    pub fn encode_option16(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.enterprise.to_be_bytes().to_vec();
        for item in &self.data {
            let Ok(len) = u16::try_from(item.len()) else {
                return Err(EncodeError::TooLong {
                    field: Field::VendorClassData,
                    len: item.len(),
                    max: usize::from(u16::MAX),
                });
            };
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(item);
        }
        Ok(out)
    }
}

fn contains_dslforum(bytes: &[u8]) -> bool {
    bytes
        .windows(DSLFORUM.len())
        .any(|w| w == DSLFORUM.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option60() {
        assert!(is_cwmp_vendor_class(b"dslforum.org"));
        assert!(is_cwmp_vendor_class(b"H3C.S5130 dslforum.org\0"));
        assert!(!is_cwmp_vendor_class(b"DSLFORUM.ORG"));
        assert!(!is_cwmp_vendor_class(b"dslforum.or"));
        assert_eq!(encode_option60(""), b"dslforum.org");
        assert_eq!(encode_option60("H3C"), b"H3C dslforum.org");
        assert_eq!(encode_option60("xdslforum.orgx"), b"xdslforum.orgx");
    }

    #[test]
    fn option16() {
        let bytes = VendorClass::dslforum().encode_option16().unwrap();
        assert_eq!(bytes[..6], [0, 0, 0x0d, 0xe9, 0, 12]);
        let read = VendorClass::decode_option16(&bytes).unwrap();
        assert!(read.is_cwmp());
        let other = VendorClass {
            enterprise: 9,
            ..read
        };
        assert!(!other.is_cwmp());
    }
}
