//! CWMP (TR-069) wire formats, with no I/O.
//!
//! - [`soap`]: the SOAP 1.1 envelope, read leniently over quick-xml's tokenizer (namespaces by
//!   URI, never by prefix; any CWMP namespace 1-0 to 1-2 and the non-standard 1-3/1-4) and
//!   written canonically with `quick_xml::Writer` and one declared prefix set, validating
//!   against the BBF schemas.
//! - [`rpc`]: every message of CWMP 1.0-1.4 in both directions, the SOAP Fault with its CWMP
//!   detail, and the fault codes.
//! - [`value`]: typed parameter values and `dateTime`.
//! - [`path`]: parameter names and partial paths.
//! - [`model`]: TR-181 data-model metadata (types, access, notification rules).
//! - [`tunnel`]: the cloud-management tunnel's JSON messages and status vocabulary.
//! - [`Limits`]: bounds on everything read from the wire.
//!
//! ```
//! use schemas::{Envelope, rpc::{Body, Inform}, soap::CwmpNamespace};
//!
//! let bytes = Envelope::new(CwmpNamespace::V1_2, Inform::default()).with_id("1").write();
//! let read = Envelope::parse(&bytes)?;
//! assert!(matches!(read.body, Body::Inform(_)));
//! # Ok::<(), schemas::SoapError>(())
//! ```

#![forbid(unsafe_code)]

pub mod dhcp;
mod limits;
pub mod model;
pub mod path;
pub mod rpc;
pub mod soap;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tunnel;
pub mod value;

pub use limits::Limits;
pub use rpc::Body;
pub use soap::{Envelope, SoapError};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
