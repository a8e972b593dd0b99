//! Why a profile does not load: always with the file, the line and the field.

use schemas::value::XsdType;

/// A profile that cannot be loaded: where, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {kind}")]
pub struct ProfileError {
    /// The file name the profile was loaded from (or given for a string).
    pub file: String,
    /// The 1-based line; 0 when the problem is the whole file.
    pub line: usize,
    /// The entry and field, e.g. ``Device.X_EXAMPLE_CloudManagement.ServerPort `value` ``.
    pub field: String,
    /// What is wrong.
    pub kind: ProfileErrorKind,
}

/// What is wrong with a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileErrorKind {
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Io(#[source] std::io::Error),
    /// Not TOML, or not the profile's structure (unknown or mistyped key).
    #[error("{0}")]
    Syntax(String),
    /// Not a CSV file of the genieacs-sim layout.
    #[error("{0}")]
    Csv(String),
    /// A name that is not a parameter, object or instance path.
    #[error("`{name}` is not a valid name: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A vendor segment not of the TR-106 form `X_<OUI or vendor>_<Name>`.
    #[error(
        "`{segment}` is not a TR-106 vendor name (X_<OUI or vendor>_<Name>, e.g. X_EXAMPLE_Port)"
    )]
    BadVendorName {
        /// The segment.
        segment: String,
    },
    /// Names under more than one root object.
    #[error("the profile already has root `{first}`; one root per profile")]
    SecondRoot {
        /// The first root seen.
        first: String,
    },
    /// Nothing in the profile.
    #[error("the profile declares no parameters")]
    Empty,
    /// An unknown `type`.
    #[error(
        "unknown type `{given}` (allowed: string, int, unsignedInt, long, unsignedLong, boolean, dateTime, base64, hexBinary)"
    )]
    UnknownType {
        /// What was given.
        given: String,
    },
    /// A parameter with no type from TR-181 metadata nor from the profile.
    #[error("`{name}` has no TR-181 metadata; declare its `type` in a [[parameter]] entry")]
    MissingType {
        /// The parameter.
        name: String,
    },
    /// A vendor parameter without one of the fields vendor parameters must declare.
    #[error("vendor parameter `{name}` must declare `{field}`")]
    VendorMissing {
        /// The parameter.
        name: String,
        /// The missing field.
        field: &'static str,
    },
    /// A `type` that differs from the one TR-181 gives the standard parameter.
    #[error("type {declared} conflicts with TR-181's {standard} for this parameter")]
    TypeConflict {
        /// The profile's type.
        declared: XsdType,
        /// TR-181's type.
        standard: XsdType,
    },
    /// A value that does not read as the parameter's type.
    #[error("`{value}` is not a valid {ty}")]
    BadValue {
        /// The value's text.
        value: String,
        /// The parameter's type.
        ty: XsdType,
    },
    /// A value outside the parameter's bounds.
    #[error("{0}")]
    OutOfBounds(#[source] crate::model::ValueError),
    /// A number outside what the field allows.
    #[error("{value} is outside the allowed range {min}..={max}")]
    FieldRange {
        /// The value.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A word the field does not know.
    #[error("unknown value `{given}` (allowed: {allowed})")]
    UnknownWord {
        /// What was given.
        given: String,
        /// The allowed words.
        allowed: String,
    },
    /// Two fields that cannot be used together.
    #[error("`{0}` cannot be combined with `{1}`")]
    Conflict(&'static str, &'static str),
    /// A parameter or object declared twice.
    #[error("declared twice (first at line {first})")]
    Duplicate {
        /// The line of the first declaration.
        first: usize,
    },
    /// A name that does not fit the tree built from the other names.
    #[error("{0}")]
    Shape(String),
    /// An alias used twice in one table (TR-069 Amd 6 §3.6.1).
    #[error("alias `{alias}` is already used by another instance of the table")]
    DuplicateAlias {
        /// The alias.
        alias: String,
    },
}
