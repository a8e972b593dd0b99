//! CommandKey and ParameterKey (TR-069 Amd 6 A.3.2.1, A.3.2.8: `string(32)`).

use std::fmt;
use std::str::FromStr;

/// The longest CommandKey or ParameterKey the schemas allow.
pub const MAX_KEY_LEN: usize = 32;

/// A key longer than [`MAX_KEY_LEN`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key is {len} characters long, more than {MAX_KEY_LEN}")]
pub struct KeyTooLong {
    /// The key's length.
    pub len: usize,
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Built from a string of at most [`MAX_KEY_LEN`] characters. The reader accepts longer
        /// keys from the wire within [`Limits::length_tolerance`](crate::Limits), as real
        /// ACSes send them; [`Self::is_conformant`] tells them apart.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The key as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the key fits the schema's 32 characters.
            pub fn is_conformant(&self) -> bool {
                self.0.chars().count() <= MAX_KEY_LEN
            }

            /// A key of any length, as read from the wire (the reader bounds it with
            /// [`Limits::length_tolerance`](crate::Limits)) or from state stored after such a
            /// read. Build new keys with `parse`/`try_from`, which enforce the schema's 32.
            pub fn from_wire(s: String) -> Self {
                Self(s)
            }
        }

        impl FromStr for $name {
            type Err = KeyTooLong;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::try_from(s.to_owned())
            }
        }

        impl TryFrom<String> for $name {
            type Error = KeyTooLong;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                let len = s.chars().count();
                if len > MAX_KEY_LEN {
                    return Err(KeyTooLong { len });
                }
                Ok(Self(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

key_type!(
    /// The ACS's handle for a method call, echoed in `M <Method>` events and TransferComplete.
    CommandKey
);
key_type!(
    /// The ACS's handle for the configuration state, set by SetParameterValues, AddObject and
    /// DeleteObject and reported in `ManagementServer.ParameterKey`.
    ParameterKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_limited_to_32_characters() {
        assert!("a".repeat(32).parse::<CommandKey>().is_ok());
        assert_eq!(
            "a".repeat(33).parse::<ParameterKey>(),
            Err(KeyTooLong { len: 33 })
        );
        assert!(!CommandKey::from_wire("b".repeat(34)).is_conformant());
    }
}
