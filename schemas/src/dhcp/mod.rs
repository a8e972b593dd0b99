//! DHCP options that carry ACS discovery and device-gateway association, as sans-IO codecs
//! over the option's data bytes (what follows the DHCP option code and length; RFC 3396
//! long-option concatenation belongs to the message layer).
//!
//! | Option | Type | Reads | Writes |
//! |---|---|---|---|
//! | DHCPv4 43 (RFC 2132 §8.4) | [`AcsDiscovery`] | [`AcsDiscovery::decode_option43`] | [`AcsDiscovery::encode_option43`] |
//! | DHCPv4 60 (RFC 2132 §9.13) | bytes | [`is_cwmp_vendor_class`] | [`encode_option60`] |
//! | DHCPv4 125 (RFC 3925 §4) | [`GatewayAssociation`] | [`GatewayAssociation::decode_option125`] | [`GatewayAssociation::encode_option125`] |
//! | DHCPv6 16 (RFC 8415 §21.16) | [`VendorClass`] | [`VendorClass::decode_option16`] | [`VendorClass::encode_option16`] |
//! | DHCPv6 17 (RFC 8415 §21.17) | [`AcsDiscovery`] | [`AcsDiscovery::decode_option17`] | [`AcsDiscovery::encode_option17`] |
//!
//! [`hex`] writes payloads the way dnsmasq, ISC dhcpd and the H3C CLI take them, and reads
//! the hex a DHCP client hook receives.
//!
//! # Option 43 and option 17 sub-options
//!
//! Option 43 is a list of RFC 2132 TLVs (one-byte code, one-byte length, data); option 17
//! starts with enterprise number 3561 ([`BBF_ENTERPRISE`]) and uses two-byte codes and
//! lengths. Both carry the TR-069 §3.1 set; option 43 also carries the H3C fields. Codes
//! 0x81-0x84 are this project's cloud-management fields, chosen clear of the BBF (1-4) and
//! H3C (1, 2, 0x80) codes. Numbers travel as ASCII decimal text, as TR-069 §3.1 does.
//!
//! | Code | Field | Value | Where | Source |
//! |---|---|---|---|---|
//! | `0x00` | pad | skipped | 43 | RFC 2132 §3.1 (dnsmasq sends it) |
//! | `0x01` | ACS URL (`ManagementServer.URL`) | text: `URL`, or `URL username password` split on spaces | 43, 17 (URL only) | TR-069 §3.1; HPE 6125XLG / H3C S12500 IP services guides, "Option 43 format" |
//! | `0x02` | ProvisioningCode (`DeviceInfo.ProvisioningCode`) | text | 43, 17 | TR-069 §3.1; same H3C guides, "service provider identifier" |
//! | `0x03` | CWMPRetryMinimumWaitInterval | decimal, 1-65535 | 43, 17 | TR-069 §3.1; TR-181 `ManagementServer.` |
//! | `0x04` | CWMPRetryIntervalMultiplier | decimal, 1000-65535 | 43, 17 | TR-069 §3.1; TR-181 `ManagementServer.` |
//! | `0x80` | AC addresses (H3C fit APs) | `0000`, count byte, count IPv4 addresses | 43 | knowledge.h3c.com, Theme/details/192184 |
//! | `0x81` | cloud-management server domain | text, 1-253 bytes, no spaces | 43, 17 | this project |
//! | `0x82` | cloud-management server port | decimal, 1-65535 (default 443) | 43, 17 | this project |
//! | `0x83` | cloud-management keepalive, seconds | decimal, 10-600 (default 180) | 43, 17 | this project |
//! | `0x84` | cloud-management ping, seconds | decimal, 10-600 (default 60) | 43, 17 | this project |
//! | `0xff` | end | stops reading; later bytes ignored | 43 | RFC 2132 §3.2 (dnsmasq sends it) |
//!
//! Other codes are kept, undecoded, in [`AcsDiscovery::unknown`]. Text may carry trailing NULs
//! (RFC 2132 §2); they are dropped.
//!
//! Like icwmp (`udhcpc_icwmp_opt43.user`), option 43 is read as TLVs only when it is at least
//! two bytes long and starts with a code from the table (or a pad byte); anything else is
//! taken whole as a plain ACS URL.
//!
//! ```
//! use schemas::dhcp::{AcsDiscovery, Dialect, hex};
//!
//! // H3C S3100V2 / MSR 50 / HPE 5940 guides: `option 43 hex 0127 68747470...`
//! let h3c = hex::parse(
//!     "0127 687474703a2f2f3136392e3235342e37362e33313a373534372f61637320313233342035363738",
//! )?;
//! let read = AcsDiscovery::decode_option43(&h3c)?;
//! assert_eq!(read.url.as_deref(), Some("http://169.254.76.31:7547/acs"));
//! assert_eq!(read.username.as_deref(), Some("1234"));
//! assert_eq!(read.password.as_deref(), Some("5678"));
//!
//! assert_eq!(hex::compact(&read.encode_option43(Dialect::H3c)?), hex::compact(&h3c));
//!
//! // dnsmasq: dhcp-option=43,01:19:68:...
//! let bbf = AcsDiscovery {
//!     url: Some("https://acs.example:7547/".into()),
//!     ..AcsDiscovery::default()
//! };
//! assert_eq!(
//!     hex::colon_separated(&bbf.encode_option43(Dialect::Bbf)?),
//!     "01:19:68:74:74:70:73:3a:2f:2f:61:63:73:2e:65:78:61:6d:70:6c:65:3a:37:35:34:37:2f",
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acs;
mod error;
mod gateway;
pub mod hex;
mod vendor_class;
mod wire;

use std::fmt;

pub use acs::{AcsDiscovery, CloudParams, Dialect};
pub use error::{DecodeError, EncodeError};
pub use gateway::GatewayAssociation;
pub use vendor_class::{DSLFORUM, VendorClass, encode_option60, is_cwmp_vendor_class};

/// The Broadband Forum's IANA enterprise number (DSL Forum), used in options 125, 16 and 17.
pub const BBF_ENTERPRISE: u32 = 3561;

/// A field of one of these options, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// Sub-option 1: the ACS URL.
    AcsUrl,
    /// Sub-option 1, second token (H3C).
    Username,
    /// Sub-option 1, third token (H3C).
    Password,
    /// Sub-option 2.
    ProvisioningCode,
    /// Sub-option 3.
    RetryMinimumWaitInterval,
    /// Sub-option 4.
    RetryIntervalMultiplier,
    /// Sub-option 0x80 (H3C).
    AcAddresses,
    /// Sub-option 0x81.
    CloudDomain,
    /// Sub-option 0x82.
    CloudPort,
    /// Sub-option 0x83.
    CloudKeepalive,
    /// Sub-option 0x84.
    CloudPing,
    /// Option 125 sub-option 1.
    DeviceManufacturerOui,
    /// Option 125 sub-option 2.
    DeviceSerialNumber,
    /// Option 125 sub-option 3.
    DeviceProductClass,
    /// Option 125 sub-option 4.
    GatewayManufacturerOui,
    /// Option 125 sub-option 5.
    GatewaySerialNumber,
    /// Option 125 sub-option 6.
    GatewayProductClass,
    /// The data of one option 125 enterprise block.
    EnterpriseData,
    /// One vendor-class-data item of DHCPv6 option 16.
    VendorClassData,
    /// A sub-option this crate does not interpret, by code.
    Other(u16),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::AcsUrl => "ACS URL",
            Self::Username => "ACS username",
            Self::Password => "ACS password",
            Self::ProvisioningCode => "ProvisioningCode",
            Self::RetryMinimumWaitInterval => "CWMPRetryMinimumWaitInterval",
            Self::RetryIntervalMultiplier => "CWMPRetryIntervalMultiplier",
            Self::AcAddresses => "AC address list",
            Self::CloudDomain => "cloud-management domain",
            Self::CloudPort => "cloud-management port",
            Self::CloudKeepalive => "cloud-management keepalive",
            Self::CloudPing => "cloud-management ping",
            Self::DeviceManufacturerOui => "DeviceManufacturerOUI",
            Self::DeviceSerialNumber => "DeviceSerialNumber",
            Self::DeviceProductClass => "DeviceProductClass",
            Self::GatewayManufacturerOui => "GatewayManufacturerOUI",
            Self::GatewaySerialNumber => "GatewaySerialNumber",
            Self::GatewayProductClass => "GatewayProductClass",
            Self::EnterpriseData => "enterprise data",
            Self::VendorClassData => "vendor-class-data",
            Self::Other(code) => return write!(f, "sub-option {code:#04x}"),
        };
        f.write_str(name)
    }
}
