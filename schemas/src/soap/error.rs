//! Errors of the SOAP envelope reader.

/// Why an envelope could not be read. Each variant names what was wrong and, where it helps,
/// the element it was found in, so a CPE can answer with fault 9003 / an ACS with 8003 and a log
/// line that explains itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoapError {
    /// The body is larger than [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
    #[error("envelope is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The limit.
        max: usize,
        /// The body's length.
        len: usize,
    },
    /// The body is not UTF-8 (CWMP requires UTF-8).
    #[error("envelope is not valid UTF-8 (near byte {position})")]
    NotUtf8 {
        /// Byte offset of the piece holding the invalid sequence.
        position: u64,
    },
    /// The XML itself is malformed.
    #[error("malformed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset where the problem was detected.
        position: u64,
        /// quick-xml's description.
        message: String,
    },
    /// A DOCTYPE was present: DTDs and external entities are refused.
    #[error("DOCTYPE declarations are refused (no DTDs, no external entities)")]
    DtdRefused,
    /// An entity reference other than the five predefined ones or a character reference.
    #[error("unknown entity reference `&{0};`")]
    UnknownEntity(String),
    /// The input ended with elements still open.
    #[error("envelope ends with {open} element(s) still open")]
    UnexpectedEof {
        /// How many elements were open.
        open: usize,
    },
    /// Elements nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("elements nest deeper than the limit of {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More namespace bindings in scope than
    /// [`Limits::max_namespace_bindings`](crate::Limits::max_namespace_bindings).
    #[error("more than {max} namespace bindings in scope")]
    TooManyNamespaces {
        /// The limit.
        max: usize,
    },
    /// The root element is not a SOAP 1.1 `Envelope`.
    #[error("root element `{name}` is not a SOAP 1.1 Envelope (namespace {namespace})")]
    NotSoapEnvelope {
        /// The root element's qualified name.
        name: String,
        /// Its namespace, or `none`.
        namespace: String,
    },
    /// The Envelope has no `Body`.
    #[error("envelope has no SOAP Body")]
    MissingBody,
    /// The Body has no child element.
    #[error("SOAP Body is empty (an empty HTTP POST carries no envelope)")]
    EmptyBody,
    /// The Body's element is not a CWMP method or SOAP Fault.
    #[error("`{name}` in namespace {namespace} is not a CWMP message")]
    UnknownMessage {
        /// The element's local name.
        name: String,
        /// Its namespace, or `none`.
        namespace: String,
    },
    /// A string is longer than its schema allows (with the configured tolerance).
    #[error("`{element}` is {len} bytes long, more than the limit of {max}")]
    TooLong {
        /// The element holding the string.
        element: String,
        /// The limit.
        max: usize,
        /// The string's length, as far as it was read.
        len: usize,
    },
    /// A list has more entries than allowed.
    #[error("`{element}` has more than {max} entries")]
    TooMany {
        /// The list element.
        element: String,
        /// The limit.
        max: usize,
    },
    /// Text that is not a valid value of the element's type.
    #[error("`{element}` holds `{text}`, which is not a valid {expected}")]
    InvalidValue {
        /// The element.
        element: String,
        /// The offending text (cut to 64 characters).
        text: String,
        /// What was expected, e.g. `unsignedInt`.
        expected: &'static str,
    },
    /// An element where only text may stand.
    #[error("element `{child}` inside `{parent}`, which holds only text")]
    UnexpectedElement {
        /// The text-only element.
        parent: String,
        /// The child found in it.
        child: String,
    },
}

impl SoapError {
    /// Builds [`SoapError::InvalidValue`], cutting long text.
    pub(crate) fn invalid(element: &str, text: &str, expected: &'static str) -> Self {
        Self::InvalidValue {
            element: element.to_owned(),
            text: text.chars().take(64).collect(),
            expected,
        }
    }
}

impl From<quick_xml::Error> for SoapError {
    fn from(e: quick_xml::Error) -> Self {
        Self::Xml {
            position: 0,
            message: e.to_string(),
        }
    }
}
