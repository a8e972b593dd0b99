//! Why an operation on the data model failed, and the CWMP fault each reason is answered with
//! (TR-069 Amd 6 Table 130 in §A.5; see also `../shared/PROTOCOL.md` §2.9).

use schemas::model::ActiveNotify;
use schemas::rpc::FaultCode;
use schemas::rpc::types::Notification;
use schemas::value::XsdType;

use super::backend::CommandError;

/// Why a value cannot be taken for a parameter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value is not of the parameter's type and its text does not read as one
    /// (fault 9006).
    #[error("`{text}` ({given}) is not a valid {expected}")]
    WrongType {
        /// The parameter's type.
        expected: XsdType,
        /// The `xsi:type` the value came with.
        given: String,
        /// The value's text.
        text: String,
    },
    /// A number outside the parameter's range (fault 9007).
    #[error("{value} is outside the allowed range {min}..={max}")]
    OutOfRange {
        /// The value's text.
        value: String,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A string longer than the parameter allows (fault 9007).
    #[error("the value is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// The value's length.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// A string that is not one of the parameter's enumerated values (fault 9007).
    #[error("`{value}` is not one of the allowed values {allowed:?}")]
    NotInEnumeration {
        /// The offending item.
        value: String,
        /// The allowed values.
        allowed: Vec<String>,
    },
    /// An `Alias` value that cannot be used (TR-069 Amd 6 §3.6.1; fault 9007).
    #[error("alias `{value}` is not usable: {reason}")]
    BadAlias {
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

impl ValueError {
    /// 9006 for a wrong type, 9007 for a value outside the parameter's bounds.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            Self::WrongType { .. } => FaultCode::InvalidParameterType,
            _ => FaultCode::InvalidParameterValue,
        }
    }
}

/// Why a read or change of the data model failed; [`ModelError::fault_code`] gives the CWMP
/// fault that answers it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No such parameter or object, a parameter named with a trailing dot or an object
    /// without one, or an instance that does not exist (fault 9005).
    #[error("`{name}` is not a parameter or object of this device")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// An instance wildcard `*` where none is allowed (Amd 6 §A.2.4 defines it for reading;
    /// we take it in GetParameterValues, GetParameterAttributes and SetParameterAttributes;
    /// fault 9005).
    #[error("`{name}`: an instance wildcard is not allowed here")]
    Wildcard {
        /// The name as given.
        name: String,
    },
    /// GetParameterNames with NextLevel true on a parameter (A.3.2.3; fault 9003).
    #[error("`{name}` is a parameter; NextLevel must be false")]
    NextLevelOnParameter {
        /// The name as given.
        name: String,
    },
    /// The same parameter twice in one SetParameterValues (A.3.2.1; fault 9003).
    #[error("`{name}` appears more than once")]
    Duplicate {
        /// The name as given.
        name: String,
    },
    /// SetParameterValues on a read-only parameter (fault 9008).
    #[error("`{name}` is not writable")]
    NotWritable {
        /// The name as given.
        name: String,
    },
    /// A value the parameter cannot take (fault 9006 or 9007).
    #[error("`{name}`: {error}")]
    Value {
        /// The name as given.
        name: String,
        /// Why.
        #[source]
        error: ValueError,
    },
    /// AddObject on something that is not a table allowing it (A.3.2.6; fault 9005).
    #[error("`{name}` is not a table that allows AddObject")]
    NotAddable {
        /// The name as given.
        name: String,
    },
    /// DeleteObject on something that is not an instance of a table allowing it (A.3.2.7;
    /// fault 9005).
    #[error("`{name}` is not an instance that DeleteObject may remove")]
    NotDeletable {
        /// The name as given.
        name: String,
    },
    /// AddObject on a full table (fault 9004).
    #[error("table `{name}` already has its maximum of {max} instances")]
    TableFull {
        /// The table.
        name: String,
        /// The limit.
        max: u32,
    },
    /// A Notification the parameter's rule forbids (A.3.2.4; fault 9009).
    #[error("`{name}`: notification {requested:?} refused ({rule:?} parameter)")]
    NotificationRejected {
        /// The parameter.
        name: String,
        /// The notification asked for.
        requested: Notification,
        /// The rule that forbids it.
        rule: ActiveNotify,
    },
    /// A backend command failed while applying a change (fault 9002).
    #[error("`{name}`: {error}")]
    Backend {
        /// The parameter.
        name: String,
        /// What failed.
        #[source]
        error: CommandError,
    },
}

impl ModelError {
    /// The CWMP fault that answers this error (TR-069 Amd 6 Table 130).
    pub fn fault_code(&self) -> FaultCode {
        match self {
            Self::InvalidName { .. }
            | Self::Wildcard { .. }
            | Self::NotAddable { .. }
            | Self::NotDeletable { .. } => FaultCode::InvalidParameterName,
            Self::NextLevelOnParameter { .. } | Self::Duplicate { .. } => {
                FaultCode::InvalidArguments
            }
            Self::NotWritable { .. } => FaultCode::NonWritableParameter,
            Self::Value { error, .. } => error.fault_code(),
            Self::TableFull { .. } => FaultCode::ResourcesExceeded,
            Self::NotificationRejected { .. } => FaultCode::NotificationRequestRejected,
            Self::Backend { .. } => FaultCode::InternalError,
        }
    }

    /// The parameter or object the error is about.
    pub fn name(&self) -> &str {
        match self {
            Self::InvalidName { name }
            | Self::Wildcard { name }
            | Self::NextLevelOnParameter { name }
            | Self::Duplicate { name }
            | Self::NotWritable { name }
            | Self::Value { name, .. }
            | Self::NotAddable { name }
            | Self::NotDeletable { name }
            | Self::TableFull { name, .. }
            | Self::NotificationRejected { name, .. }
            | Self::Backend { name, .. } => name,
        }
    }

    pub(crate) fn invalid(name: &str) -> Self {
        Self::InvalidName {
            name: name.to_owned(),
        }
    }
}

/// Why SetParameterValues applied nothing: one error per bad parameter, in request order
/// (A.3.2.1: the CPE answers fault 9003 with one SetParameterValuesFault each).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} parameter(s) refused, nothing applied", errors.len())]
pub struct SetValuesError {
    /// The reasons, one per refused parameter.
    pub errors: Vec<ModelError>,
}
