//! ACS discovery: DHCPv4 option 43 (TR-069 §3.1, RFC 2132 §8.4, the H3C layout) and DHCPv6
//! option 17 (TR-069 §3.1, RFC 8415 §21.17). The sub-option codes are tabled in the
//! [module documentation](super).

use std::net::Ipv4Addr;

use super::wire::{self, Reader};
use super::{BBF_ENTERPRISE, DecodeError, EncodeError, Field};

/// What DHCP says about the ACS (and this project's cloud-management server).
///
/// One type for both option 43 layouts and for option 17: the decoders fill what the payload
/// carries and leave the rest `None` (or empty), so a missing sub-option and a default are told
/// apart. [`Dialect`] matters only when writing option 43.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcsDiscovery {
    /// Sub-option 1: the ACS URL, for `Device.ManagementServer.URL`.
    pub url: Option<String>,
    /// Sub-option 1, second space-separated token (H3C): `ManagementServer.Username`.
    pub username: Option<String>,
    /// Sub-option 1, third space-separated token (H3C): `ManagementServer.Password`.
    pub password: Option<String>,
    /// Sub-option 2: `Device.DeviceInfo.ProvisioningCode` (H3C: "service provider
    /// identifier"). May be empty.
    pub provisioning_code: Option<String>,
    /// Sub-option 3: `ManagementServer.CWMPRetryMinimumWaitInterval`, seconds, 1-65535.
    pub retry_min_wait: Option<u16>,
    /// Sub-option 4: `ManagementServer.CWMPRetryIntervalMultiplier`, 1000-65535 (thousandths).
    pub retry_multiplier: Option<u16>,
    /// Sub-options 0x81-0x84: the cloud-management server.
    pub cloud: CloudParams,
    /// Option 43 sub-option 0x80 (H3C): wireless controller addresses for fit APs. Read so the
    /// option is understood whole; a CPE has no use for them.
    pub ac_addresses: Vec<Ipv4Addr>,
    /// Sub-options no decoder here interprets, as (code, data) in the order they came.
    pub unknown: Vec<(u16, Vec<u8>)>,
}

/// The cloud-management server, as the H3C CLI configures it (`cloud-management server domain`,
/// `... server port`, `... keepalive`, `... ping`). `None` leaves the device's own setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudParams {
    /// Sub-option 0x81: server domain, 1-253 bytes, case-sensitive, no spaces.
    pub domain: Option<String>,
    /// Sub-option 0x82: server port, 1-65535.
    pub port: Option<u16>,
    /// Sub-option 0x83: keepalive period in seconds, 10-600; no answer within three periods
    /// means register again.
    pub keepalive: Option<u16>,
    /// Sub-option 0x84: NAT keep-alive ping period in seconds, 10-600; never answered.
    pub ping: Option<u16>,
}

/// Which option 43 layout to write. Reading needs no dialect: an H3C sub-option 1 holds
/// spaces, which a URL never does, so one decoder reads both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// TR-069 §3.1: sub-option 1 is the URL alone; credentials cannot be carried.
    Bbf,
    /// H3C/HPE Comware: sub-option 1 is `URL<0x20>username<0x20>password`.
    H3c,
}

impl AcsDiscovery {
    /// Reads a DHCPv4 option 43 payload (the option's data, without code and length).
    ///
    /// The payload is read as RFC 2132 TLVs when it is at least two bytes long and starts with
    /// a pad byte or a code from the [table](super); otherwise it is one plain URL (icwmp's
    /// rule). Pad bytes are skipped, an end byte stops the read, trailing NULs of text fields
    /// are dropped (RFC 2132 §2), unknown sub-options are kept in [`Self::unknown`].
    pub fn decode_option43(payload: &[u8]) -> Result<Self, DecodeError> {
        let is_tlv = match payload {
            [first, _, ..] => *first == PAD || SubOption::from_code(*first, Family::V4).is_some(),
            _ => false,
        };
        if !is_tlv {
            let url = wire::token(Field::AcsUrl, payload, usize::MAX)?;
            return Ok(Self {
                url: Some(url.to_owned()),
                ..Self::default()
            });
        }
        let mut out = Self::default();
        let mut seen = Seen::default();
        let mut r = Reader::new(payload);
        while let Some(code) = r.u8() {
            match code {
                PAD => continue,
                END => break,
                _ => {}
            }
            let offset = r.offset() - 1;
            let Some(len) = r.u8() else {
                return Err(DecodeError::MissingLength { offset });
            };
            let len = usize::from(len);
            let Some(data) = r.take(len) else {
                return Err(DecodeError::Truncated {
                    offset,
                    len,
                    available: r.remaining(),
                });
            };
            out.read_sub_option(Family::V4, u16::from(code), data, &mut seen)?;
        }
        Ok(out)
    }

    /// Writes a DHCPv4 option 43 payload in `dialect`.
    ///
    /// Sub-options come in table order, then [`Self::unknown`] in list order. When the first
    /// one would be an unknown code, a pad byte goes first so the payload still reads as TLVs.
    /// Longer than 255 bytes in total is allowed: the DHCP message layer splits it (RFC 3396).
    pub fn encode_option43(&self, dialect: Dialect) -> Result<Vec<u8>, EncodeError> {
        let sub_options = self.sub_options(Family::V4, dialect)?;
        let Some((first, _)) = sub_options.first() else {
            return Err(EncodeError::NothingToEncode);
        };
        let mut out = Vec::new();
        if u8::try_from(*first).map_or(true, |c| SubOption::from_code(c, Family::V4).is_none()) {
            out.push(PAD);
        }
        for (code, data) in sub_options {
            // Both fit one byte: `sub_options` checked them against `Family::V4`.
            out.push(u8::try_from(code).unwrap_or(END));
            out.push(u8::try_from(data.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&data);
        }
        Ok(out)
    }

    /// Reads a DHCPv6 option 17 payload: enterprise number 3561, then sub-options with two-byte
    /// codes and lengths (RFC 8415 §21.17), meaning what they mean in option 43's BBF layout.
    /// Sub-option 1 is a bare URL here; 0x80 and the TR-069 Annex F device-gateway
    /// sub-options are not interpreted and land in [`Self::unknown`].
    pub fn decode_option17(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let enterprise = read_enterprise(&mut r)?;
        if enterprise != BBF_ENTERPRISE {
            return Err(DecodeError::EnterpriseMismatch {
                expected: BBF_ENTERPRISE,
                found: enterprise,
            });
        }
        let mut out = Self::default();
        let mut seen = Seen::default();
        while !r.is_empty() {
            let offset = r.offset();
            let (Some(code), Some(len)) = (r.u16(), r.u16()) else {
                return Err(DecodeError::MissingLength { offset });
            };
            let len = usize::from(len);
            let Some(data) = r.take(len) else {
                return Err(DecodeError::Truncated {
                    offset,
                    len,
                    available: r.remaining(),
                });
            };
            out.read_sub_option(Family::V6, code, data, &mut seen)?;
        }
        Ok(out)
    }

    /// Writes a DHCPv6 option 17 payload (enterprise 3561 and the sub-options). Credentials
    /// and AC addresses have no place in it.
    pub fn encode_option17(&self) -> Result<Vec<u8>, EncodeError> {
        let sub_options = self.sub_options(Family::V6, Dialect::Bbf)?;
        let mut out = BBF_ENTERPRISE.to_be_bytes().to_vec();
        for (code, data) in sub_options {
            out.extend_from_slice(&code.to_be_bytes());
            // Fits: `sub_options` checked every length against `Family::V6`.
            out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(&data);
        }
        Ok(out)
    }

    fn read_sub_option(
        &mut self,
        family: Family,
        code: u16,
        data: &[u8],
        seen: &mut Seen,
    ) -> Result<(), DecodeError> {
        let Some(sub) = u8::try_from(code)
            .ok()
            .and_then(|c| SubOption::from_code(c, family))
        else {
            self.unknown.push((code, data.to_vec()));
            return Ok(());
        };
        if !seen.insert(sub) {
            return Err(DecodeError::Duplicate { code });
        }
        let field = sub.field();
        match sub {
            SubOption::AcsParameter => self.read_acs_parameter(family, data)?,
            SubOption::ProvisioningCode => {
                self.provisioning_code = Some(wire::text(field, data)?.to_owned());
            }
            SubOption::RetryMinimumWaitInterval => {
                self.retry_min_wait = Some(wire::decimal(field, data, 1, u16::MAX)?);
            }
            SubOption::RetryIntervalMultiplier => {
                self.retry_multiplier = Some(wire::decimal(field, data, 1000, u16::MAX)?);
            }
            SubOption::AcAddresses => self.ac_addresses = read_ac_addresses(data)?,
            SubOption::CloudDomain => {
                let domain = wire::token(field, data, CloudParams::MAX_DOMAIN_LEN)?;
                self.cloud.domain = Some(domain.to_owned());
            }
            SubOption::CloudPort => {
                self.cloud.port = Some(wire::decimal(field, data, 1, u16::MAX)?)
            }
            SubOption::CloudKeepalive => {
                self.cloud.keepalive = Some(wire::decimal(field, data, 10, 600)?);
            }
            SubOption::CloudPing => self.cloud.ping = Some(wire::decimal(field, data, 10, 600)?),
        }
        Ok(())
    }

    /// Sub-option 1: `URL[ username[ password]]`, split on every space (H3C "Option 43
    /// format"). An empty username or password token reads as absent.
    fn read_acs_parameter(&mut self, family: Family, data: &[u8]) -> Result<(), DecodeError> {
        let text =
            std::str::from_utf8(wire::strip_nuls(data)).map_err(|_| DecodeError::NotUtf8 {
                field: Field::AcsUrl,
            })?;
        let max = family.max_tokens();
        let found = text.split(' ').count();
        if found > max {
            return Err(DecodeError::TooManyTokens { found, max });
        }
        let mut tokens = text.split(' ');
        let url = tokens.next().unwrap_or_default();
        if url.is_empty() {
            return Err(DecodeError::Empty {
                field: Field::AcsUrl,
            });
        }
        self.url = Some(control_free(Field::AcsUrl, url)?);
        let mut credential = |field| match tokens.next() {
            None | Some("") => Ok(None),
            Some(token) => control_free(field, token).map(Some),
        };
        self.username = credential(Field::Username)?;
        self.password = credential(Field::Password)?;
        Ok(())
    }

    /// Every sub-option to write, validated as its decoder would read it.
    fn sub_options(
        &self,
        family: Family,
        dialect: Dialect,
    ) -> Result<Vec<(u16, Vec<u8>)>, EncodeError> {
        let mut out = Vec::new();
        if let Some(value) = self.acs_parameter(family, dialect)? {
            out.push((SubOption::AcsParameter.code(), value.into_bytes()));
        }
        if let Some(code) = &self.provisioning_code {
            wire::check_text(Field::ProvisioningCode, code)?;
            out.push((SubOption::ProvisioningCode.code(), code.as_bytes().to_vec()));
        }
        let numbers = [
            (SubOption::RetryMinimumWaitInterval, self.retry_min_wait, 1),
            (
                SubOption::RetryIntervalMultiplier,
                self.retry_multiplier,
                1000,
            ),
        ];
        for (sub, value, min) in numbers {
            if let Some(value) = value {
                out.push((
                    sub.code(),
                    wire::encode_decimal(sub.field(), value, min, u16::MAX)?,
                ));
            }
        }
        if !self.ac_addresses.is_empty() {
            if family == Family::V6 {
                return Err(EncodeError::NotInLayout {
                    field: Field::AcAddresses,
                    layout: family.layout(dialect),
                });
            }
            let count = u8::try_from(self.ac_addresses.len()).unwrap_or(u8::MAX);
            let mut data = vec![0, 0, count];
            for address in &self.ac_addresses {
                data.extend_from_slice(&address.octets());
            }
            out.push((SubOption::AcAddresses.code(), data));
        }
        if let Some(domain) = &self.cloud.domain {
            wire::check_token_for_encode(Field::CloudDomain, domain, CloudParams::MAX_DOMAIN_LEN)?;
            out.push((SubOption::CloudDomain.code(), domain.as_bytes().to_vec()));
        }
        let numbers = [
            (SubOption::CloudPort, self.cloud.port, 1, u16::MAX),
            (SubOption::CloudKeepalive, self.cloud.keepalive, 10, 600),
            (SubOption::CloudPing, self.cloud.ping, 10, 600),
        ];
        for (sub, value, min, max) in numbers {
            if let Some(value) = value {
                out.push((
                    sub.code(),
                    wire::encode_decimal(sub.field(), value, min, max)?,
                ));
            }
        }
        for (code, data) in &self.unknown {
            if !family.may_be_unknown(*code) {
                return Err(EncodeError::InvalidUnknownCode { code: *code });
            }
            out.push((*code, data.clone()));
        }
        let max = family.max_len();
        for (code, data) in &out {
            if data.len() > max {
                let field = u8::try_from(*code)
                    .ok()
                    .and_then(|c| SubOption::from_code(c, family))
                    .map_or(Field::Other(*code), SubOption::field);
                return Err(EncodeError::TooLong {
                    field,
                    len: data.len(),
                    max,
                });
            }
        }
        Ok(out)
    }

    /// Sub-option 1's text: the URL, then the credentials when the layout has room for them.
    fn acs_parameter(
        &self,
        family: Family,
        dialect: Dialect,
    ) -> Result<Option<String>, EncodeError> {
        let credentials = [
            (Field::Username, &self.username),
            (Field::Password, &self.password),
        ];
        let Some(url) = &self.url else {
            return match credentials.iter().any(|(_, c)| c.is_some()) {
                true => Err(EncodeError::CredentialsWithoutUrl),
                false => Ok(None),
            };
        };
        wire::check_token_for_encode(Field::AcsUrl, url, usize::MAX)?;
        let mut value = url.clone();
        if let Some((field, _)) = credentials.iter().find(|(_, c)| c.is_some())
            && (family, dialect) != (Family::V4, Dialect::H3c)
        {
            return Err(EncodeError::NotInLayout {
                field: *field,
                layout: family.layout(dialect),
            });
        }
        // `URL user`, `URL user pass`, or `URL  pass`: an empty token reads back as absent.
        let last = credentials.iter().rposition(|(_, c)| c.is_some());
        for (field, credential) in credentials.iter().take(last.map_or(0, |i| i + 1)) {
            value.push(' ');
            if let Some(credential) = credential {
                wire::check_token_for_encode(*field, credential, usize::MAX)?;
                value.push_str(credential);
            }
        }
        Ok(Some(value))
    }
}

impl CloudParams {
    /// The port used when none is configured (H3C `cloud-management server port`).
    pub const DEFAULT_PORT: u16 = 443;
    /// The keepalive period used when none is configured, in seconds.
    pub const DEFAULT_KEEPALIVE: u16 = 180;
    /// The ping period used when none is configured, in seconds.
    pub const DEFAULT_PING: u16 = 60;
    /// The longest domain accepted (H3C `cloud-management server domain`: 1-253 characters).
    pub const MAX_DOMAIN_LEN: usize = 253;

    /// The port to use: the one given, or [`Self::DEFAULT_PORT`].
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(Self::DEFAULT_PORT)
    }

    /// The keepalive period to use, in seconds.
    pub fn keepalive_or_default(&self) -> u16 {
        self.keepalive.unwrap_or(Self::DEFAULT_KEEPALIVE)
    }

    /// The ping period to use, in seconds.
    pub fn ping_or_default(&self) -> u16 {
        self.ping.unwrap_or(Self::DEFAULT_PING)
    }

    /// True when DHCP said nothing about the cloud server.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// RFC 2132 §3.1 pad option.
const PAD: u8 = 0x00;
/// RFC 2132 §3.2 end option.
const END: u8 = 0xff;

/// The enterprise number at the start of a DHCPv6 vendor option.
pub(super) fn read_enterprise(r: &mut Reader<'_>) -> Result<u32, DecodeError> {
    let offset = r.offset();
    let available = r.remaining();
    r.u32()
        .ok_or(DecodeError::MissingEnterprise { offset, available })
}

/// H3C sub-option 0x80: server type `0000`, a count, then that many IPv4 addresses.
fn read_ac_addresses(data: &[u8]) -> Result<Vec<Ipv4Addr>, DecodeError> {
    let bad_length = DecodeError::BadLength {
        field: Field::AcAddresses,
        len: data.len(),
    };
    let mut r = Reader::new(data);
    let (Some(server_type), Some(count)) = (r.u16(), r.u8()) else {
        return Err(bad_length);
    };
    if server_type != 0 {
        return Err(DecodeError::AcServerType { found: server_type });
    }
    if r.remaining() != 4 * usize::from(count) {
        return Err(bad_length);
    }
    let addresses = data[3..]
        .chunks_exact(4)
        .map(|o| Ipv4Addr::new(o[0], o[1], o[2], o[3]))
        .collect();
    Ok(addresses)
}

/// An owned copy of `token`, refused if it holds a control character.
fn control_free(field: Field, token: &str) -> Result<String, DecodeError> {
    match token.chars().find(|c| c.is_control()) {
        Some(character) => Err(DecodeError::InvalidCharacter { field, character }),
        None => Ok(token.to_owned()),
    }
}

/// The sub-options this module interprets, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubOption {
    AcsParameter,
    ProvisioningCode,
    RetryMinimumWaitInterval,
    RetryIntervalMultiplier,
    AcAddresses,
    CloudDomain,
    CloudPort,
    CloudKeepalive,
    CloudPing,
}

impl SubOption {
    const ALL: [Self; 9] = [
        Self::AcsParameter,
        Self::ProvisioningCode,
        Self::RetryMinimumWaitInterval,
        Self::RetryIntervalMultiplier,
        Self::AcAddresses,
        Self::CloudDomain,
        Self::CloudPort,
        Self::CloudKeepalive,
        Self::CloudPing,
    ];

    fn from_code(code: u8, family: Family) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.code() == u16::from(code))
            .filter(|s| family == Family::V4 || *s != Self::AcAddresses)
    }

    fn code(self) -> u16 {
        match self {
            Self::AcsParameter => 0x01,
            Self::ProvisioningCode => 0x02,
            Self::RetryMinimumWaitInterval => 0x03,
            Self::RetryIntervalMultiplier => 0x04,
            Self::AcAddresses => 0x80,
            Self::CloudDomain => 0x81,
            Self::CloudPort => 0x82,
            Self::CloudKeepalive => 0x83,
            Self::CloudPing => 0x84,
        }
    }

    fn field(self) -> Field {
        match self {
            Self::AcsParameter => Field::AcsUrl,
            Self::ProvisioningCode => Field::ProvisioningCode,
            Self::RetryMinimumWaitInterval => Field::RetryMinimumWaitInterval,
            Self::RetryIntervalMultiplier => Field::RetryIntervalMultiplier,
            Self::AcAddresses => Field::AcAddresses,
            Self::CloudDomain => Field::CloudDomain,
            Self::CloudPort => Field::CloudPort,
            Self::CloudKeepalive => Field::CloudKeepalive,
            Self::CloudPing => Field::CloudPing,
        }
    }
}

/// Which known sub-options a payload has carried so far.
#[derive(Default)]
struct Seen(u16);

impl Seen {
    /// Records `sub`; false if it was already there.
    fn insert(&mut self, sub: SubOption) -> bool {
        let bit = 1 << sub as u16;
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }
}

/// DHCPv4 (one-byte codes and lengths) or DHCPv6 (two-byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn max_len(self) -> usize {
        match self {
            Self::V4 => usize::from(u8::MAX),
            Self::V6 => usize::from(u16::MAX),
        }
    }

    fn max_tokens(self) -> usize {
        match self {
            Self::V4 => 3,
            Self::V6 => 1,
        }
    }

    /// Whether `code` may be written from [`AcsDiscovery::unknown`].
    fn may_be_unknown(self, code: u16) -> bool {
        match (self, u8::try_from(code)) {
            (Self::V4, Ok(PAD | END) | Err(_)) => false,
            (_, Ok(c)) => SubOption::from_code(c, self).is_none(),
            (Self::V6, Err(_)) => true,
        }
    }

    fn layout(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (Self::V4, Dialect::Bbf) => "the BBF option 43 layout",
            (Self::V4, Dialect::H3c) => "the H3C option 43 layout",
            (Self::V6, _) => "option 17",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(code: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![code, data.len() as u8];
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn bbf_sub_options() {
        let mut payload = tlv(1, b"https://acs.example/cwmp");
        payload.extend(tlv(2, b"PROV"));
        payload.extend(tlv(3, b"5"));
        payload.extend(tlv(4, b"2000"));
        let read = AcsDiscovery::decode_option43(&payload).unwrap();
        assert_eq!(
            read,
            AcsDiscovery {
                url: Some("https://acs.example/cwmp".into()),
                provisioning_code: Some("PROV".into()),
                retry_min_wait: Some(5),
                retry_multiplier: Some(2000),
                ..AcsDiscovery::default()
            }
        );
        assert_eq!(read.encode_option43(Dialect::Bbf).unwrap(), payload);
    }

    #[test]
    fn h3c_credentials_need_the_h3c_dialect() {
        let read = AcsDiscovery::decode_option43(&tlv(1, b"http://a/ u p")).unwrap();
        assert_eq!(read.username.as_deref(), Some("u"));
        assert_eq!(read.password.as_deref(), Some("p"));
        assert_eq!(
            read.encode_option43(Dialect::Bbf),
            Err(EncodeError::NotInLayout {
                field: Field::Username,
                layout: "the BBF option 43 layout"
            })
        );
        assert_eq!(
            read.encode_option43(Dialect::H3c).unwrap(),
            tlv(1, b"http://a/ u p")
        );
    }

    #[test]
    fn password_without_username_keeps_its_place() {
        let value = AcsDiscovery {
            url: Some("http://a/".into()),
            password: Some("p".into()),
            ..AcsDiscovery::default()
        };
        let bytes = value.encode_option43(Dialect::H3c).unwrap();
        assert_eq!(bytes, tlv(1, b"http://a/  p"));
        assert_eq!(AcsDiscovery::decode_option43(&bytes).unwrap(), value);
    }

    #[test]
    fn cloud_sub_options_and_defaults() {
        let mut payload = tlv(0x81, b"cloud.example");
        payload.extend(tlv(0x82, b"8443"));
        payload.extend(tlv(0x83, b"120"));
        payload.extend(tlv(0x84, b"30"));
        let read = AcsDiscovery::decode_option43(&payload).unwrap();
        assert_eq!(read.url, None);
        assert_eq!(read.cloud.domain.as_deref(), Some("cloud.example"));
        assert_eq!(read.cloud.port_or_default(), 8443);
        assert_eq!(read.cloud.keepalive_or_default(), 120);
        assert_eq!(read.cloud.ping_or_default(), 30);
        let none = CloudParams::default();
        assert!(none.is_empty());
        assert_eq!(
            (
                none.port_or_default(),
                none.keepalive_or_default(),
                none.ping_or_default()
            ),
            (443, 180, 60)
        );
    }

    #[test]
    fn only_unknown_sub_options_get_a_leading_pad() {
        let value = AcsDiscovery {
            unknown: vec![(0x05, b"x".to_vec())],
            ..AcsDiscovery::default()
        };
        let bytes = value.encode_option43(Dialect::Bbf).unwrap();
        assert_eq!(bytes, [0x00, 0x05, 0x01, b'x']);
        assert_eq!(AcsDiscovery::decode_option43(&bytes).unwrap(), value);
        assert_eq!(
            AcsDiscovery::default().encode_option43(Dialect::Bbf),
            Err(EncodeError::NothingToEncode)
        );
    }

    #[test]
    fn option17_round_trip() {
        let value = AcsDiscovery {
            url: Some("http://[2001:db8::1]:7547/".into()),
            provisioning_code: Some(String::new()),
            retry_min_wait: Some(65535),
            cloud: CloudParams {
                port: Some(1),
                ..CloudParams::default()
            },
            unknown: vec![(0x80, vec![1, 2]), (0x1234, vec![])],
            ..AcsDiscovery::default()
        };
        let bytes = value.encode_option17().unwrap();
        assert_eq!(bytes[..8], [0, 0, 0x0d, 0xe9, 0, 1, 0, 26]);
        assert_eq!(AcsDiscovery::decode_option17(&bytes).unwrap(), value);
        assert_eq!(
            AcsDiscovery::decode_option17(&[0, 0, 0x0d, 0xe9]).unwrap(),
            AcsDiscovery::default()
        );
    }

    #[test]
    fn unknown_codes_the_encoder_owns_are_refused() {
        for (code, family) in [
            (0x00, "v4"),
            (0xff, "v4"),
            (0x100, "v4"),
            (0x01, "v4"),
            (0x80, "v4"),
        ] {
            let value = AcsDiscovery {
                url: Some("u".into()),
                unknown: vec![(code, vec![])],
                ..AcsDiscovery::default()
            };
            assert_eq!(
                value.encode_option43(Dialect::Bbf),
                Err(EncodeError::InvalidUnknownCode { code }),
                "{family} {code:#x}"
            );
        }
        let value = AcsDiscovery {
            unknown: vec![(0x84, vec![])],
            ..AcsDiscovery::default()
        };
        assert_eq!(
            value.encode_option17(),
            Err(EncodeError::InvalidUnknownCode { code: 0x84 })
        );
    }
}
