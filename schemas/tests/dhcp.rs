//! The DHCP option codecs from outside: property round trips for every codec, the examples
//! PROTOCOL.md §4.2 quotes from H3C's guides, what dnsmasq puts around sub-options, and a table
//! of malformed payloads, each with the exact error it must give.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use schemas::dhcp::{
    AcsDiscovery, BBF_ENTERPRISE, CloudParams, DecodeError, Dialect, EncodeError, Field,
    GatewayAssociation, VendorClass, encode_option60, hex, is_cwmp_vendor_class,
};

// ---------------------------------------------------------------------------------------------
// Builders

fn tlv(code: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![code, u8::try_from(data.len()).unwrap()];
    out.extend_from_slice(data);
    out
}

fn tlv6(code: u16, data: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const ENT: [u8; 4] = BBF_ENTERPRISE.to_be_bytes();

/// An option 125 block for enterprise 3561 around `data`.
fn block125(data: &[u8]) -> Vec<u8> {
    cat(&[&ENT, &[u8::try_from(data.len()).unwrap()], data])
}

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §4.2 and TR-069 §3.1 examples

#[test]
fn h3c_acs_parameter_example() {
    // `option 43 hex 0127 68747470...` encodes `http://169.254.76.31:7547/acs 1234 5678`.
    let payload = hex::parse(
        "0127 687474703A2F2F3136392E3235342E37362E33313A373534372F61637320313233342035363738",
    )
    .unwrap();
    assert_eq!(payload[1], 0x27);
    assert_eq!(&payload[2..], b"http://169.254.76.31:7547/acs 1234 5678");
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(
        read,
        AcsDiscovery {
            url: Some("http://169.254.76.31:7547/acs".into()),
            username: Some("1234".into()),
            password: Some("5678".into()),
            ..AcsDiscovery::default()
        }
    );
    let written = read.encode_option43(Dialect::H3c).unwrap();
    assert_eq!(written, payload);
    assert!(hex::compact(&written).starts_with("012768747470"));
    assert!(hex::colon_separated(&written).starts_with("01:27:68:74:74:70:"));
}

#[test]
fn h3c_ac_address_example() {
    // `80 07 0000 01 C0A80A64` = AC 192.168.10.100; `0B` for two, `0F` for three.
    let one = hex::parse("8007 0000 01 C0A80A64").unwrap();
    let read = AcsDiscovery::decode_option43(&one).unwrap();
    assert_eq!(read.ac_addresses, [Ipv4Addr::new(192, 168, 10, 100)]);
    assert_eq!(read.url, None);
    assert_eq!(read.encode_option43(Dialect::H3c).unwrap(), one);

    let three = hex::parse("800F 0000 03 C0A80A64 C0A80A65 0A000001").unwrap();
    let read = AcsDiscovery::decode_option43(&three).unwrap();
    assert_eq!(
        read.ac_addresses,
        [
            Ipv4Addr::new(192, 168, 10, 100),
            Ipv4Addr::new(192, 168, 10, 101),
            Ipv4Addr::new(10, 0, 0, 1),
        ]
    );
    assert_eq!(read.encode_option43(Dialect::H3c).unwrap(), three);
}

#[test]
fn h3c_option_as_a_router_sees_it() {
    // URL with credentials, a provisioning code, and AC addresses a router does not use.
    let payload = cat(&[
        &tlv(0x01, b"https://acs.example/ cpe secret"),
        &tlv(0x02, b"ISP-1"),
        &hex::parse("8007 0000 01 C0A80A64").unwrap(),
    ]);
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(read.url.as_deref(), Some("https://acs.example/"));
    assert_eq!(read.username.as_deref(), Some("cpe"));
    assert_eq!(read.password.as_deref(), Some("secret"));
    assert_eq!(read.provisioning_code.as_deref(), Some("ISP-1"));
    assert_eq!(read.ac_addresses.len(), 1);
}

#[test]
fn one_token_is_the_plain_tr069_form() {
    let read = AcsDiscovery::decode_option43(&tlv(1, b"http://acs/")).unwrap();
    assert_eq!(read.url.as_deref(), Some("http://acs/"));
    assert_eq!((read.username, read.password), (None, None));
    // Username only; an empty trailing token reads as absent.
    let read = AcsDiscovery::decode_option43(&tlv(1, b"http://acs/ user")).unwrap();
    assert_eq!(read.username.as_deref(), Some("user"));
    let read = AcsDiscovery::decode_option43(&tlv(1, b"http://acs/ user ")).unwrap();
    assert_eq!(
        (read.username.as_deref(), read.password),
        (Some("user"), None)
    );
}

#[test]
fn bbf_retry_parameters_are_decimal_text() {
    let payload = cat(&[&tlv(3, b"5"), &tlv(4, b"2000")]);
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(
        (read.retry_min_wait, read.retry_multiplier),
        (Some(5), Some(2000))
    );
    assert_eq!(read.encode_option43(Dialect::Bbf).unwrap(), payload);
}

// ---------------------------------------------------------------------------------------------
// What DHCP servers put around the sub-options

#[test]
fn pad_and_end_bytes() {
    // dnsmasq pads and terminates encapsulated options; nothing after the end byte is read.
    let payload = cat(&[
        &[0x00, 0x00],
        &tlv(1, b"http://acs/"),
        &[0x00],
        &tlv(2, b"code"),
        &[0xff],
        &tlv(1, b"http://after-end/"),
        &[0x01],
    ]);
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(read.url.as_deref(), Some("http://acs/"));
    assert_eq!(read.provisioning_code.as_deref(), Some("code"));
    assert!(read.unknown.is_empty());
    // Only pads and an end byte: a TLV payload that says nothing.
    assert_eq!(
        AcsDiscovery::decode_option43(&[0x00, 0x00, 0xff]).unwrap(),
        AcsDiscovery::default()
    );
}

#[test]
fn trailing_nuls_are_dropped_from_text() {
    // RFC 2132 §2: receivers delete trailing NULs.
    let payload = cat(&[
        &tlv(1, b"http://acs/ u p\0"),
        &tlv(3, b"30\0"),
        &tlv(0x81, b"c.example\0\0"),
    ]);
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(read.password.as_deref(), Some("p"));
    assert_eq!(read.retry_min_wait, Some(30));
    assert_eq!(read.cloud.domain.as_deref(), Some("c.example"));
}

#[test]
fn plain_url_fallback() {
    for (payload, url) in [
        (
            &b"http://acs.example:7547/cwmp"[..],
            "http://acs.example:7547/cwmp",
        ),
        (b"https://acs/\0", "https://acs/"),
        (b"x", "x"),
    ] {
        let read = AcsDiscovery::decode_option43(payload).unwrap();
        assert_eq!(
            read,
            AcsDiscovery {
                url: Some(url.into()),
                ..AcsDiscovery::default()
            }
        );
    }
}

#[test]
fn unknown_sub_options_are_kept() {
    let payload = cat(&[
        &tlv(1, b"http://acs/"),
        &tlv(0x05, b"five"),
        &tlv(0xfe, b""),
        &tlv(0x05, b"again"),
    ]);
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(
        read.unknown,
        [
            (0x05, b"five".to_vec()),
            (0xfe, vec![]),
            (0x05, b"again".to_vec())
        ]
    );
    assert_eq!(read.encode_option43(Dialect::Bbf).unwrap(), payload);
}

#[test]
fn cloud_sub_options() {
    let payload = cat(&[
        &tlv(0x81, b"oasis.example.com"),
        &tlv(0x82, b"443"),
        &tlv(0x83, b"180"),
        &tlv(0x84, b"60"),
    ]);
    let read = AcsDiscovery::decode_option43(&payload).unwrap();
    assert_eq!(
        read.cloud,
        CloudParams {
            domain: Some("oasis.example.com".into()),
            port: Some(443),
            keepalive: Some(180),
            ping: Some(60),
        }
    );
    assert_eq!(read.encode_option43(Dialect::Bbf).unwrap(), payload);
    let v6 = read.encode_option17().unwrap();
    assert_eq!(&v6[4..8], [0x00, 0x81, 0x00, 17]);
    assert_eq!(AcsDiscovery::decode_option17(&v6).unwrap(), read);
}

#[test]
fn option17_bbf_set_and_unknown() {
    let payload = cat(&[
        &ENT,
        &tlv6(1, b"https://acs.example/"),
        &tlv6(2, b"code"),
        &tlv6(3, b"10"),
        &tlv6(4, b"1500"),
        &tlv6(11, b"00D09E"),
    ]);
    let read = AcsDiscovery::decode_option17(&payload).unwrap();
    assert_eq!(read.url.as_deref(), Some("https://acs.example/"));
    assert_eq!(read.retry_multiplier, Some(1500));
    assert_eq!(read.unknown, [(11, b"00D09E".to_vec())]);
    assert_eq!(read.encode_option17().unwrap(), payload);
}

#[test]
fn vendor_class_checks() {
    assert!(is_cwmp_vendor_class(b"dslforum.org"));
    assert!(is_cwmp_vendor_class(b"vendor dslforum.org v2"));
    assert!(!is_cwmp_vendor_class(b"udhcp 1.36.1"));
    assert!(is_cwmp_vendor_class(&encode_option60("udhcp 1.36.1")));

    let payload = cat(&[&ENT, &[0, 12], b"dslforum.org"]);
    assert_eq!(VendorClass::dslforum().encode_option16().unwrap(), payload);
    assert!(VendorClass::decode_option16(&payload).unwrap().is_cwmp());
    let other = cat(&[&[0, 0, 0, 9], &[0, 12], b"dslforum.org"]);
    assert!(!VendorClass::decode_option16(&other).unwrap().is_cwmp());
    let two = cat(&[&ENT, &[0, 3], b"abc", &[0, 0], &[0, 12], b"dslforum.org"]);
    let read = VendorClass::decode_option16(&two).unwrap();
    assert_eq!(read.data.len(), 3);
    assert!(read.is_cwmp());
}

#[test]
fn option125_with_several_enterprises() {
    let ours = GatewayAssociation {
        device_manufacturer_oui: Some("00D09E".into()),
        device_serial_number: Some("SN123".into()),
        device_product_class: Some("HGW".into()),
        ..GatewayAssociation::default()
    };
    let payload = cat(&[
        &[0x00, 0x00, 0x00, 0x09, 0x02, 0x01, 0x00],
        &ours.encode_option125().unwrap(),
        &[0x00, 0x00, 0x11, 0x8b, 0x00],
    ]);
    assert_eq!(
        GatewayAssociation::decode_option125(&payload),
        Ok(Some(ours))
    );
    assert_eq!(
        GatewayAssociation::decode_option125(&[0, 0, 0, 9, 0]),
        Ok(None)
    );
    // Lower-case OUIs are read and kept as sent; unknown sub-options too.
    let read =
        GatewayAssociation::decode_option125(&block125(&cat(&[&tlv(4, b"00d09e"), &tlv(9, b"x")])))
            .unwrap()
            .unwrap();
    assert_eq!(read.gateway_manufacturer_oui.as_deref(), Some("00d09e"));
    assert_eq!(read.unknown, [(9, b"x".to_vec())]);
}

// ---------------------------------------------------------------------------------------------
// Malformed payloads: every one is a typed error

type Decode = fn(&[u8]) -> Result<(), DecodeError>;

fn o43(b: &[u8]) -> Result<(), DecodeError> {
    AcsDiscovery::decode_option43(b).map(drop)
}
fn o17(b: &[u8]) -> Result<(), DecodeError> {
    AcsDiscovery::decode_option17(b).map(drop)
}
fn o125(b: &[u8]) -> Result<(), DecodeError> {
    GatewayAssociation::decode_option125(b).map(drop)
}
fn o16(b: &[u8]) -> Result<(), DecodeError> {
    VendorClass::decode_option16(b).map(drop)
}

#[rustfmt::skip]
fn malformed() -> Vec<(&'static str, Decode, Vec<u8>, DecodeError)> {
    use DecodeError as E;
    use Field as F;
    let range = |field, min, max| E::OutOfRange { field, min, max };
    let ac = |b: &[u8]| tlv(0x80, b);
    vec![
        // Option 43: framing
        ("43 empty", o43, vec![], E::Empty { field: F::AcsUrl }),
        ("43 lone pad", o43, vec![0x00], E::Empty { field: F::AcsUrl }),
        ("43 length past end", o43, b"\x01\x05ht".to_vec(), E::Truncated { offset: 0, len: 5, available: 2 }),
        ("43 code without length", o43, b"\x02\x01x\x03".to_vec(), E::MissingLength { offset: 3 }),
        ("43 pad then code without length", o43, vec![0x00, 0x01], E::MissingLength { offset: 1 }),
        ("43 truncated after pads", o43, b"\x00\x00\x81\x10a".to_vec(), E::Truncated { offset: 2, len: 16, available: 1 }),
        ("43 second sub-option past end", o43, cat(&[&tlv(2, b"x"), &[0x84, 0x02, b'6']]), E::Truncated { offset: 3, len: 2, available: 1 }),
        // Option 43: plain URL fallback
        ("43 plain not UTF-8", o43, vec![b'h', 0xff, 0xfe], E::NotUtf8 { field: F::AcsUrl }),
        ("43 plain with space", o43, b"http://a b".to_vec(), E::InvalidCharacter { field: F::AcsUrl, character: ' ' }),
        ("43 plain with control", o43, b"http://a\x07b".to_vec(), E::InvalidCharacter { field: F::AcsUrl, character: '\u{7}' }),
        ("43 one byte", o43, vec![0x01], E::InvalidCharacter { field: F::AcsUrl, character: '\u{1}' }),
        ("43 unknown code first, binary", o43, vec![0x05, 0x01, 0xc0], E::NotUtf8 { field: F::AcsUrl }),
        // Option 43: sub-option 1
        ("43 empty URL", o43, tlv(1, b""), E::Empty { field: F::AcsUrl }),
        ("43 NULs only URL", o43, tlv(1, b"\0\0"), E::Empty { field: F::AcsUrl }),
        ("43 credentials without URL", o43, tlv(1, b" user pass"), E::Empty { field: F::AcsUrl }),
        ("43 four tokens", o43, tlv(1, b"http://a u p extra"), E::TooManyTokens { found: 4, max: 3 }),
        ("43 trailing space after password", o43, tlv(1, b"http://a u p "), E::TooManyTokens { found: 4, max: 3 }),
        ("43 URL not UTF-8", o43, tlv(1, &[0xc3, 0x28]), E::NotUtf8 { field: F::AcsUrl }),
        ("43 URL with tab", o43, tlv(1, b"http://a\tb"), E::InvalidCharacter { field: F::AcsUrl, character: '\t' }),
        ("43 username with escape", o43, tlv(1, b"http://a us\x1ber"), E::InvalidCharacter { field: F::Username, character: '\u{1b}' }),
        ("43 password with DEL", o43, tlv(1, b"http://a u p\x7f"), E::InvalidCharacter { field: F::Password, character: '\u{7f}' }),
        ("43 inner NUL", o43, tlv(1, b"http://a\0b"), E::InvalidCharacter { field: F::AcsUrl, character: '\0' }),
        // Option 43: sub-option 2
        ("43 code not UTF-8", o43, tlv(2, &[0xff]), E::NotUtf8 { field: F::ProvisioningCode }),
        ("43 code with newline", o43, tlv(2, b"a\nb"), E::InvalidCharacter { field: F::ProvisioningCode, character: '\n' }),
        // Option 43: numbers
        ("43 empty min wait", o43, tlv(3, b""), E::NotDecimal { field: F::RetryMinimumWaitInterval }),
        ("43 zero min wait", o43, tlv(3, b"0"), range(F::RetryMinimumWaitInterval, 1, 65535)),
        ("43 min wait 65536", o43, tlv(3, b"65536"), range(F::RetryMinimumWaitInterval, 1, 65535)),
        ("43 huge min wait", o43, tlv(3, &[b'9'; 200]), range(F::RetryMinimumWaitInterval, 1, 65535)),
        ("43 binary min wait", o43, tlv(3, &[0, 0, 0, 5]), E::NotDecimal { field: F::RetryMinimumWaitInterval }),
        ("43 signed min wait", o43, tlv(3, b"+5"), E::NotDecimal { field: F::RetryMinimumWaitInterval }),
        ("43 multiplier 999", o43, tlv(4, b"999"), range(F::RetryIntervalMultiplier, 1000, 65535)),
        ("43 multiplier with unit", o43, tlv(4, b"2k"), E::NotDecimal { field: F::RetryIntervalMultiplier }),
        ("43 multiplier with spaces", o43, tlv(4, b" 2000"), E::NotDecimal { field: F::RetryIntervalMultiplier }),
        // Option 43: AC addresses
        ("43 AC list too short", o43, ac(&[0, 0]), E::BadLength { field: F::AcAddresses, len: 2 }),
        ("43 AC list empty", o43, ac(&[]), E::BadLength { field: F::AcAddresses, len: 0 }),
        ("43 AC server type", o43, ac(&[0, 1, 1, 192, 168, 10, 100]), E::AcServerType { found: 1 }),
        ("43 AC count too high", o43, ac(&[0, 0, 2, 192, 168, 10, 100]), E::BadLength { field: F::AcAddresses, len: 7 }),
        ("43 AC partial address", o43, ac(&[0, 0, 1, 192, 168, 10]), E::BadLength { field: F::AcAddresses, len: 6 }),
        // Option 43: cloud
        ("43 empty domain", o43, tlv(0x81, b""), E::Empty { field: F::CloudDomain }),
        ("43 domain with space", o43, tlv(0x81, b"a b"), E::InvalidCharacter { field: F::CloudDomain, character: ' ' }),
        ("43 domain too long", o43, tlv(0x81, &[b'x'; 254]), E::TooLong { field: F::CloudDomain, len: 254, max: 253 }),
        ("43 port zero", o43, tlv(0x82, b"0"), range(F::CloudPort, 1, 65535)),
        ("43 negative port", o43, tlv(0x82, b"-443"), E::NotDecimal { field: F::CloudPort }),
        ("43 keepalive 9", o43, tlv(0x83, b"9"), range(F::CloudKeepalive, 10, 600)),
        ("43 ping 601", o43, tlv(0x84, b"601"), range(F::CloudPing, 10, 600)),
        // Option 43: duplicates
        ("43 two URLs", o43, cat(&[&tlv(1, b"a"), &tlv(1, b"b")]), E::Duplicate { code: 1 }),
        ("43 two min waits", o43, cat(&[&tlv(3, b"5"), &tlv(3, b"5")]), E::Duplicate { code: 3 }),
        ("43 two AC lists", o43, cat(&[&ac(&[0, 0, 0]), &ac(&[0, 0, 0])]), E::Duplicate { code: 0x80 }),
        // Option 17
        ("17 empty", o17, vec![], E::MissingEnterprise { offset: 0, available: 0 }),
        ("17 short enterprise", o17, vec![0, 0, 0x0d], E::MissingEnterprise { offset: 0, available: 3 }),
        ("17 other enterprise", o17, vec![0, 0, 0, 9], E::EnterpriseMismatch { expected: 3561, found: 9 }),
        ("17 header cut short", o17, cat(&[&ENT, &[0, 1, 0]]), E::MissingLength { offset: 4 }),
        ("17 length past end", o17, cat(&[&ENT, &[0, 1, 0, 5, b'h']]), E::Truncated { offset: 4, len: 5, available: 1 }),
        ("17 URL with credentials", o17, cat(&[&ENT, &tlv6(1, b"http://a u")]), E::TooManyTokens { found: 2, max: 1 }),
        ("17 min wait not decimal", o17, cat(&[&ENT, &tlv6(3, b"abc")]), E::NotDecimal { field: F::RetryMinimumWaitInterval }),
        ("17 two domains", o17, cat(&[&ENT, &tlv6(0x81, b"x"), &tlv6(0x81, b"x")]), E::Duplicate { code: 0x81 }),
        // Option 125
        ("125 short enterprise", o125, vec![0, 0, 0x0d], E::MissingEnterprise { offset: 0, available: 3 }),
        ("125 no data-len", o125, ENT.to_vec(), E::MissingEnterprise { offset: 0, available: 4 }),
        ("125 data past end", o125, cat(&[&ENT, &[5, 1]]), E::Truncated { offset: 0, len: 5, available: 1 }),
        ("125 other enterprise past end", o125, vec![0, 0, 0, 9, 3, 1], E::Truncated { offset: 0, len: 3, available: 1 }),
        ("125 second block cut short", o125, cat(&[&block125(&[]), &[0, 0]]), E::MissingEnterprise { offset: 5, available: 2 }),
        ("125 two BBF blocks", o125, cat(&[&block125(&[]), &block125(&[])]), E::DuplicateEnterprise { enterprise: 3561 }),
        ("125 sub-option past end", o125, block125(b"\x01\x0600d09"), E::Truncated { offset: 5, len: 6, available: 5 }),
        ("125 lone sub-option code", o125, block125(&[2]), E::MissingLength { offset: 5 }),
        ("125 OUI too short", o125, block125(&tlv(1, b"00D09")), E::InvalidOui { field: F::DeviceManufacturerOui }),
        ("125 OUI not hex", o125, block125(&tlv(4, b"00D09G")), E::InvalidOui { field: F::GatewayManufacturerOui }),
        ("125 empty serial", o125, block125(&tlv(2, b"")), E::Empty { field: F::DeviceSerialNumber }),
        ("125 product class too long", o125, block125(&tlv(3, &[b'x'; 65])), E::TooLong { field: F::DeviceProductClass, len: 65, max: 64 }),
        ("125 serial not UTF-8", o125, block125(&tlv(5, &[0xff])), E::NotUtf8 { field: F::GatewaySerialNumber }),
        ("125 two product classes", o125, block125(&cat(&[&tlv(6, b"a"), &tlv(6, b"b")])), E::Duplicate { code: 6 }),
        // Option 16
        ("16 empty", o16, vec![], E::MissingEnterprise { offset: 0, available: 0 }),
        ("16 half a length", o16, cat(&[&ENT, &[0]]), E::MissingLength { offset: 4 }),
        ("16 item past end", o16, cat(&[&ENT, &[0, 12, b'd']]), E::Truncated { offset: 4, len: 12, available: 1 }),
        ("16 lying length", o16, cat(&[&ENT, &[0xff, 0xff]]), E::Truncated { offset: 4, len: 65535, available: 0 }),
    ]
}

#[test]
fn malformed_payloads_give_their_typed_error() {
    let cases = malformed();
    assert!(cases.len() >= 30);
    for (name, decode, payload, expected) in cases {
        assert_eq!(
            decode(&payload),
            Err(expected),
            "{name}: {}",
            hex::compact(&payload)
        );
    }
}

#[test]
fn errors_explain_themselves() {
    let e = AcsDiscovery::decode_option43(&tlv(4, b"999")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "CWMPRetryIntervalMultiplier is outside 1000..=65535"
    );
    let e = AcsDiscovery::decode_option43(b"\x01\x05ht").unwrap_err();
    assert_eq!(
        e.to_string(),
        "item at byte 0 declares 5 data bytes but only 2 follow"
    );
    let e = AcsDiscovery::decode_option43(&tlv(0x82, b"x")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cloud-management port is not a decimal number"
    );
}

// ---------------------------------------------------------------------------------------------
// Values with no faithful encoding

#[test]
fn unencodable_values_give_their_typed_error() {
    use EncodeError as E;
    use Field as F;
    let url = || Some("http://acs/".to_string());
    let base = || AcsDiscovery {
        url: url(),
        ..AcsDiscovery::default()
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, AcsDiscovery, Dialect, E)> = vec![
        ("nothing", AcsDiscovery::default(), Dialect::Bbf, E::NothingToEncode),
        ("empty URL", AcsDiscovery { url: Some(String::new()), ..base() }, Dialect::Bbf, E::Empty { field: F::AcsUrl }),
        ("URL with space", AcsDiscovery { url: Some("a b".into()), ..base() }, Dialect::H3c, E::InvalidCharacter { field: F::AcsUrl, character: ' ' }),
        ("URL with NUL", AcsDiscovery { url: Some("a\0".into()), ..base() }, Dialect::Bbf, E::InvalidCharacter { field: F::AcsUrl, character: '\0' }),
        ("URL too long", AcsDiscovery { url: Some("x".repeat(256)), ..base() }, Dialect::Bbf, E::TooLong { field: F::AcsUrl, len: 256, max: 255 }),
        ("credentials in BBF", AcsDiscovery { password: Some("p".into()), ..base() }, Dialect::Bbf, E::NotInLayout { field: F::Password, layout: "the BBF option 43 layout" }),
        ("credentials without URL", AcsDiscovery { username: Some("u".into()), ..AcsDiscovery::default() }, Dialect::H3c, E::CredentialsWithoutUrl),
        ("empty username", AcsDiscovery { username: Some(String::new()), ..base() }, Dialect::H3c, E::Empty { field: F::Username }),
        ("password with space", AcsDiscovery { password: Some("p q".into()), ..base() }, Dialect::H3c, E::InvalidCharacter { field: F::Password, character: ' ' }),
        ("code with newline", AcsDiscovery { provisioning_code: Some("a\n".into()), ..base() }, Dialect::Bbf, E::InvalidCharacter { field: F::ProvisioningCode, character: '\n' }),
        ("min wait zero", AcsDiscovery { retry_min_wait: Some(0), ..base() }, Dialect::Bbf, E::OutOfRange { field: F::RetryMinimumWaitInterval, value: 0, min: 1, max: 65535 }),
        ("multiplier 999", AcsDiscovery { retry_multiplier: Some(999), ..base() }, Dialect::Bbf, E::OutOfRange { field: F::RetryIntervalMultiplier, value: 999, min: 1000, max: 65535 }),
        ("64 AC addresses", AcsDiscovery { ac_addresses: vec![Ipv4Addr::LOCALHOST; 64], ..base() }, Dialect::H3c, E::TooLong { field: F::AcAddresses, len: 259, max: 255 }),
        ("domain too long", AcsDiscovery { cloud: CloudParams { domain: Some("d".repeat(254)), ..CloudParams::default() }, ..base() }, Dialect::Bbf, E::TooLong { field: F::CloudDomain, len: 254, max: 253 }),
        ("ping 5", AcsDiscovery { cloud: CloudParams { ping: Some(5), ..CloudParams::default() }, ..base() }, Dialect::Bbf, E::OutOfRange { field: F::CloudPing, value: 5, min: 10, max: 600 }),
        ("unknown pad code", AcsDiscovery { unknown: vec![(0, vec![])], ..base() }, Dialect::Bbf, E::InvalidUnknownCode { code: 0 }),
        ("unknown too long", AcsDiscovery { unknown: vec![(9, vec![0; 256])], ..base() }, Dialect::Bbf, E::TooLong { field: F::Other(9), len: 256, max: 255 }),
    ];
    for (name, value, dialect, expected) in cases {
        assert_eq!(value.encode_option43(dialect), Err(expected), "{name}");
    }

    let v6 = AcsDiscovery {
        username: Some("u".into()),
        ..base()
    };
    assert_eq!(
        v6.encode_option17(),
        Err(E::NotInLayout {
            field: F::Username,
            layout: "option 17"
        })
    );
    let v6 = AcsDiscovery {
        ac_addresses: vec![Ipv4Addr::LOCALHOST],
        ..base()
    };
    assert_eq!(
        v6.encode_option17(),
        Err(E::NotInLayout {
            field: F::AcAddresses,
            layout: "option 17"
        })
    );

    let bad_oui = GatewayAssociation {
        gateway_manufacturer_oui: Some("00D09".into()),
        ..GatewayAssociation::default()
    };
    assert_eq!(
        bad_oui.encode_option125(),
        Err(E::InvalidOui {
            field: F::GatewayManufacturerOui
        })
    );
    let empty_serial = GatewayAssociation {
        device_serial_number: Some(String::new()),
        ..GatewayAssociation::default()
    };
    assert_eq!(
        empty_serial.encode_option125(),
        Err(E::Empty {
            field: F::DeviceSerialNumber
        })
    );
    let too_long = VendorClass {
        enterprise: 1,
        data: vec![vec![0; 65536]],
    };
    assert_eq!(
        too_long.encode_option16(),
        Err(E::TooLong {
            field: F::VendorClassData,
            len: 65536,
            max: 65535
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Text with no control character; `space` allows the space character.
fn text(space: bool, max_chars: usize) -> BoxedStrategy<String> {
    let class = if space { "[^\\p{Cc}]" } else { "[^ \\p{Cc}]" };
    proptest::string::string_regex(&format!("{class}{{1,{max_chars}}}"))
        .unwrap()
        .boxed()
}

/// Option 43 codes outside the table, pad and end.
fn unknown_v4() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        (1u16..=254).prop_filter("known", |c| !matches!(c, 1..=4 | 0x80..=0x84)),
        vec(any::<u8>(), 0..16),
    )
}

fn unknown_v6() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        any::<u16>().prop_filter("known", |c| !matches!(c, 1..=4 | 0x81..=0x84)),
        vec(any::<u8>(), 0..16),
    )
}

prop_compose! {
    fn cloud()(
        domain in option::of(text(false, 40)),
        port in option::of(1u16..),
        keepalive in option::of(10u16..=600),
        ping in option::of(10u16..=600),
    ) -> CloudParams {
        CloudParams { domain, port, keepalive, ping }
    }
}

prop_compose! {
    /// Anything option 43 can carry in the H3C layout. Sizes keep sub-option 1 within 255
    /// bytes (40 chars of at most 4 bytes, plus two tokens of 10).
    fn discovery_h3c()(
        url in option::of(text(false, 40)),
        username in option::of(text(false, 10)),
        password in option::of(text(false, 10)),
        provisioning_code in option::of(text(true, 40).prop_union(Just(String::new()).boxed())),
        retry_min_wait in option::of(1u16..),
        retry_multiplier in option::of(1000u16..),
        cloud in cloud(),
        ac_addresses in vec(any::<[u8; 4]>().prop_map(Ipv4Addr::from), 0..8),
        unknown in vec(unknown_v4(), 0..4),
    ) -> AcsDiscovery {
        let has_url = url.is_some();
        AcsDiscovery {
            url,
            username: username.filter(|_| has_url),
            password: password.filter(|_| has_url),
            provisioning_code,
            retry_min_wait,
            retry_multiplier,
            cloud,
            ac_addresses,
            unknown,
        }
    }
}

fn is_empty(value: &AcsDiscovery) -> bool {
    *value == AcsDiscovery::default()
}

prop_compose! {
    fn discovery_v6()(
        base in discovery_h3c(),
        unknown in vec(unknown_v6(), 0..4),
    ) -> AcsDiscovery {
        AcsDiscovery {
            username: None,
            password: None,
            ac_addresses: vec![],
            unknown,
            ..base
        }
    }
}

prop_compose! {
    fn gateway()(
        device_manufacturer_oui in option::of("[0-9A-Fa-f]{6}"),
        device_serial_number in option::of(text(true, 10)),
        device_product_class in option::of(text(true, 10)),
        gateway_manufacturer_oui in option::of("[0-9A-F]{6}"),
        gateway_serial_number in option::of(text(true, 10)),
        gateway_product_class in option::of(text(true, 10)),
        unknown in vec((prop_oneof![7u8..=255, Just(0u8)], vec(any::<u8>(), 0..10)), 0..3),
    ) -> GatewayAssociation {
        GatewayAssociation {
            device_manufacturer_oui,
            device_serial_number,
            device_product_class,
            gateway_manufacturer_oui,
            gateway_serial_number,
            gateway_product_class,
            unknown,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn option43_h3c_round_trips(value in discovery_h3c()) {
        prop_assume!(!is_empty(&value));
        let bytes = value.encode_option43(Dialect::H3c).unwrap();
        prop_assert_eq!(AcsDiscovery::decode_option43(&bytes), Ok(value));
    }

    #[test]
    fn option43_bbf_round_trips(value in discovery_h3c()) {
        let value = AcsDiscovery { username: None, password: None, ..value };
        prop_assume!(!is_empty(&value));
        let bytes = value.encode_option43(Dialect::Bbf).unwrap();
        // Without credentials the two layouts are the same bytes.
        prop_assert_eq!(&bytes, &value.encode_option43(Dialect::H3c).unwrap());
        prop_assert_eq!(AcsDiscovery::decode_option43(&bytes), Ok(value));
    }

    #[test]
    fn option43_plain_url_round_trips(url in text(false, 60)) {
        // A URL starting with a printable character never looks like a TLV.
        let read = AcsDiscovery::decode_option43(url.as_bytes()).unwrap();
        prop_assert_eq!(read.url, Some(url));
    }

    #[test]
    fn option17_round_trips(value in discovery_v6()) {
        let bytes = value.encode_option17().unwrap();
        prop_assert_eq!(AcsDiscovery::decode_option17(&bytes), Ok(value));
    }

    #[test]
    fn option125_round_trips(value in gateway()) {
        let bytes = value.encode_option125().unwrap();
        prop_assert_eq!(GatewayAssociation::decode_option125(&bytes), Ok(Some(value)));
    }

    #[test]
    fn option125_skips_other_enterprises(
        value in gateway(),
        before in vec((any::<u32>().prop_filter("BBF", |e| *e != BBF_ENTERPRISE), vec(any::<u8>(), 0..20)), 0..3),
    ) {
        let mut payload = Vec::new();
        for (enterprise, data) in &before {
            payload.extend_from_slice(&enterprise.to_be_bytes());
            payload.push(u8::try_from(data.len()).unwrap());
            payload.extend_from_slice(data);
        }
        payload.extend(value.encode_option125().unwrap());
        prop_assert_eq!(GatewayAssociation::decode_option125(&payload), Ok(Some(value)));
    }

    #[test]
    fn option16_round_trips(enterprise in any::<u32>(), data in vec(vec(any::<u8>(), 0..40), 0..5)) {
        let value = VendorClass { enterprise, data };
        let bytes = value.encode_option16().unwrap();
        prop_assert_eq!(VendorClass::decode_option16(&bytes), Ok(value));
    }

    #[test]
    fn option60_always_marks_cwmp(class in ".{0,40}") {
        prop_assert!(is_cwmp_vendor_class(&encode_option60(&class)));
    }

    #[test]
    fn hex_round_trips(bytes in vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(hex::parse(&hex::colon_separated(&bytes)), Ok(bytes.clone()));
        prop_assert_eq!(hex::parse(&hex::compact(&bytes)), Ok(bytes.clone()));
        prop_assert_eq!(hex::parse(&hex::compact(&bytes).to_uppercase()), Ok(bytes));
    }

    #[test]
    fn decoders_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        let _ = AcsDiscovery::decode_option43(&bytes);
        let _ = AcsDiscovery::decode_option17(&bytes);
        let _ = GatewayAssociation::decode_option125(&bytes);
        let _ = VendorClass::decode_option16(&bytes);
        let _ = is_cwmp_vendor_class(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_near_misses(value in discovery_h3c(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        // Truncated and bit-flipped encodings reach deeper than random bytes do.
        prop_assume!(!is_empty(&value));
        let bytes = value.encode_option43(Dialect::H3c).unwrap();
        let _ = AcsDiscovery::decode_option43(&bytes[..cut.index(bytes.len() + 1)]);
        let mut flipped = bytes.clone();
        let i = flip.0.index(flipped.len());
        flipped[i] ^= flip.1;
        let _ = AcsDiscovery::decode_option43(&flipped);
        let mut v6 = BBF_ENTERPRISE.to_be_bytes().to_vec();
        v6.extend_from_slice(&flipped);
        let _ = AcsDiscovery::decode_option17(&v6);
    }

    #[test]
    fn hex_parse_never_panics(text in "[0-9a-fA-F: \\t\\n\\PC]{0,40}") {
        let _ = hex::parse(&text);
    }

    #[test]
    fn decode_then_encode_is_stable(bytes in vec(any::<u8>(), 0..300)) {
        // Whatever reads, writes; and what is written reads back the same.
        // (Not every read value writes: a plain URL may exceed one sub-option's 255 bytes.)
        if let Ok(value) = AcsDiscovery::decode_option43(&bytes)
            && let Ok(written) = value.encode_option43(Dialect::H3c)
        {
            prop_assert_eq!(AcsDiscovery::decode_option43(&written), Ok(value));
        }
        if let Ok(Some(value)) = GatewayAssociation::decode_option125(&bytes) {
            let written = value.encode_option125().unwrap();
            prop_assert_eq!(GatewayAssociation::decode_option125(&written), Ok(Some(value)));
        }
    }
}
