//! Bounds on what the reader accepts, so hostile input costs a typed error, not memory.

/// Limits applied while reading an envelope. Every one of them turns into a
/// [`SoapError`](crate::soap::SoapError) when exceeded; none of them panics or truncates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest envelope accepted, in bytes.
    pub max_body_bytes: usize,
    /// Deepest element nesting accepted (the Envelope is depth 1).
    pub max_depth: usize,
    /// Most namespace bindings in scope at once.
    pub max_namespace_bindings: usize,
    /// Most entries in one list (ParameterList, ParameterNames, ...).
    pub max_list_len: usize,
    /// Longest parameter value (`anySimpleType`), in bytes.
    pub max_value_len: usize,
    /// How far a string may exceed its XSD `maxLength` and still be read: 1 is exact, the
    /// default 4 accepts the overlong CommandKeys and names real devices send while still
    /// bounding every field.
    pub length_tolerance: usize,
}

impl Limits {
    /// The XSD's limits, applied exactly (a 33-character CommandKey is an error).
    pub const STRICT: Self = Self {
        length_tolerance: 1,
        ..Self::DEFAULT
    };

    /// The default: generous to real devices, bounded for hostile peers.
    pub const DEFAULT: Self = Self {
        max_body_bytes: 4 * 1024 * 1024,
        max_depth: 32,
        max_namespace_bindings: 64,
        max_list_len: 20_000,
        max_value_len: 64 * 1024,
        length_tolerance: 4,
    };

    /// The longest string accepted for a field whose XSD `maxLength` is `xsd_max`.
    pub(crate) fn string_cap(&self, xsd_max: Option<usize>) -> usize {
        match xsd_max {
            Some(max) => max
                .saturating_mul(self.length_tolerance)
                .min(self.max_value_len),
            None => self.max_value_len,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
