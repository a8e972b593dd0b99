//! Errors of the DHCP option codecs: [`DecodeError`] for what arrives off the wire,
//! [`EncodeError`] for values that have no faithful encoding.

use super::Field;

/// Why an option payload could not be read. Offsets count from the first byte of the option's
/// data (after the DHCP option code and length), so a log line points at the offending byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A sub-option or item header is cut short: a code with no length after it (RFC 2132 §2
    /// TLV), or fewer than the four header bytes of a DHCPv6 sub-option (RFC 8415 §21.17), or a
    /// lone byte where an option 16 item's two-byte length belongs.
    #[error("header at byte {offset} is cut short before its length")]
    MissingLength {
        /// Where the header starts.
        offset: usize,
    },
    /// A sub-option, option 125 enterprise block or option 16 item declares more data than
    /// the payload holds.
    #[error("item at byte {offset} declares {len} data bytes but only {available} follow")]
    Truncated {
        /// Where the item's header starts.
        offset: usize,
        /// The declared length.
        len: usize,
        /// The bytes actually left after the header.
        available: usize,
    },
    /// Fewer than the four bytes of an enterprise number (RFC 3925 §4, RFC 8415 §21.16/§21.17),
    /// or of an option 125 enterprise block's header (enterprise number and data-len).
    #[error("enterprise header at byte {offset} is cut short: {available} bytes left")]
    MissingEnterprise {
        /// Where the enterprise number starts.
        offset: usize,
        /// The bytes left.
        available: usize,
    },
    /// A DHCPv6 vendor option names another enterprise than the Broadband Forum's.
    #[error("enterprise number {found}, expected {expected}")]
    EnterpriseMismatch {
        /// The enterprise number this decoder reads ([`BBF_ENTERPRISE`](super::BBF_ENTERPRISE)).
        expected: u32,
        /// The enterprise number in the payload.
        found: u32,
    },
    /// Option 125 carries two blocks for the same enterprise (RFC 3925 §4: an enterprise
    /// number appears at most once).
    #[error("enterprise {enterprise} appears twice in option 125")]
    DuplicateEnterprise {
        /// The repeated enterprise number.
        enterprise: u32,
    },
    /// A known sub-option appears twice; which one holds is ambiguous.
    #[error("sub-option {code:#04x} appears twice")]
    Duplicate {
        /// The repeated sub-option code.
        code: u16,
    },
    /// A field that must hold something is empty (the ACS URL, the cloud domain, a serial
    /// number).
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: Field,
    },
    /// A field with a binary layout has a length the layout does not allow (H3C sub-option
    /// 0x80: `0000 <count>` then `count` IPv4 addresses).
    #[error("{field} has a length of {len}, which its layout does not allow")]
    BadLength {
        /// The field.
        field: Field,
        /// The sub-option's length.
        len: usize,
    },
    /// H3C sub-option 0x80 names a server type other than `0000` (AC addresses).
    #[error("AC address list has server type {found:#06x}, expected 0x0000")]
    AcServerType {
        /// The server type found.
        found: u16,
    },
    /// A text field is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    NotUtf8 {
        /// The field.
        field: Field,
    },
    /// A text field holds a control character, or a space where none may be (a URL, a domain).
    #[error("{field} holds the character {character:?}")]
    InvalidCharacter {
        /// The field.
        field: Field,
        /// The first offending character.
        character: char,
    },
    /// A text field is longer than its data-model type allows.
    #[error("{field} is {len} bytes long, more than {max}")]
    TooLong {
        /// The field.
        field: Field,
        /// Its length in bytes.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// Sub-option 1 splits into more space-separated tokens than `URL username password`
    /// (H3C layout, at most 3) or than a bare URL (DHCPv6 option 17, 1).
    #[error("ACS parameter has {found} space-separated tokens, at most {max} allowed")]
    TooManyTokens {
        /// The number of tokens.
        found: usize,
        /// The most allowed.
        max: usize,
    },
    /// A numeric field is not ASCII decimal text.
    #[error("{field} is not a decimal number")]
    NotDecimal {
        /// The field.
        field: Field,
    },
    /// A numeric field is outside its range.
    #[error("{field} is outside {min}..={max}")]
    OutOfRange {
        /// The field.
        field: Field,
        /// The least allowed.
        min: u16,
        /// The most allowed.
        max: u16,
    },
    /// An OUI is not six hexadecimal digits (TR-069 Annex F).
    #[error("{field} is not six hexadecimal digits")]
    InvalidOui {
        /// The field.
        field: Field,
    },
}

/// Why a value could not be encoded. An encoder that succeeds produces bytes its decoder reads
/// back as the same value; anything that would not survive the trip is refused here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Nothing to put in the option. An empty option 43 reads as an empty plain URL.
    #[error("no field is set, so the option would be empty")]
    NothingToEncode,
    /// A text field is empty where the decoder would read it as absent or refuse it.
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: Field,
    },
    /// A text field holds a control character, or a space where none may be.
    #[error("{field} holds the character {character:?}")]
    InvalidCharacter {
        /// The field.
        field: Field,
        /// The first offending character.
        character: char,
    },
    /// A field is longer than its sub-option's length byte(s), or its data-model type, allow.
    #[error("{field} is {len} bytes long, more than {max}")]
    TooLong {
        /// The field.
        field: Field,
        /// Its encoded length in bytes.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// A numeric field is outside its range.
    #[error("{field} is {value}, outside {min}..={max}")]
    OutOfRange {
        /// The field.
        field: Field,
        /// The value.
        value: u16,
        /// The least allowed.
        min: u16,
        /// The most allowed.
        max: u16,
    },
    /// An OUI is not six hexadecimal digits.
    #[error("{field} is not six hexadecimal digits")]
    InvalidOui {
        /// The field.
        field: Field,
    },
    /// A username or password without an ACS URL: sub-option 1 starts with the URL.
    #[error("credentials without an ACS URL")]
    CredentialsWithoutUrl,
    /// The chosen layout has no place for this field: credentials exist only in the H3C
    /// option 43 layout, AC addresses only in option 43.
    #[error("{field} has no place in {layout}")]
    NotInLayout {
        /// The field.
        field: Field,
        /// The layout asked for, e.g. "the BBF option 43 layout".
        layout: &'static str,
    },
    /// An entry of `unknown` uses a code the encoder writes itself, a reserved code (pad 0x00,
    /// end 0xff) or one that does not fit the sub-option code width.
    #[error("sub-option code {code:#04x} cannot be written as an unknown sub-option")]
    InvalidUnknownCode {
        /// The code.
        code: u16,
    },
}
