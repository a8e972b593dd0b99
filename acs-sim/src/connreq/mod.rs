//! Connection Request client (TR-069 §3.2.2): an HTTP GET to the device's
//! ConnectionRequestURL, answering its Digest (or Basic, when allowed) challenge.

use crate::acs::Acs;
use crate::store::DeviceId;

/// Why a Connection Request did not reach the device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnReqError {
    /// Not built yet.
    #[error("connection requests are not available")]
    Unavailable,
}

/// Asks `device` to open a session now.
pub async fn kick(_acs: &Acs, _device: &DeviceId) -> Result<(), ConnReqError> {
    Err(ConnReqError::Unavailable)
}
