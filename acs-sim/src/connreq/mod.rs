//! Connection Request client (TR-069 Amd 6 §3.2.2): an HTTP GET to the device's
//! ConnectionRequestURL, answering its Digest (or Basic, when allowed) challenge.
//!
//! The CPE MUST authenticate the request with Digest; it answers `200 OK` (or `204`) with an
//! empty body and then opens a session with `6 CONNECTION REQUEST`, or `503` when it limits
//! requests. [`kick`] looks the device up in the store; [`request`] is the bare exchange.
//!
//! When the URL cannot be reached (refused, unreachable, no answer in time: a device behind
//! NAT) and a [`crate::cloud::Cloud`] is attached to the ACS, [`kick`] asks the device through
//! its cloud tunnel instead (optType 104, this project's; issue 6) and says which [`Path`]
//! worked.

mod client;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::acs::Acs;
use crate::stats::AcsMessage;
use crate::store::{DeviceId, StoreError};

pub use client::request;

/// Why a Connection Request did not reach the device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnReqError {
    /// The store has no such device.
    #[error("unknown device {0}")]
    UnknownDevice(DeviceId),
    /// The device never reported a ConnectionRequestURL.
    #[error("device {0} has not reported a ConnectionRequestURL")]
    NoUrl(DeviceId),
    /// The ConnectionRequestURL is not an `http://host[:port]/path` URL.
    #[error("bad ConnectionRequestURL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {source}")]
    Unreachable {
        /// `host:port` of the URL.
        addr: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The device did not answer in time.
    #[error("no answer from {url} within {after:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The device asked for credentials and the ACS has none for it.
    #[error("{url} asks for authentication but no Connection Request credentials are known")]
    NoCredentials {
        /// The URL.
        url: String,
    },
    /// The device offered only Basic authentication and policy forbids it.
    #[error("{url} offers only Basic authentication, refused by policy (connreq allow_basic)")]
    BasicRefused {
        /// The URL.
        url: String,
    },
    /// The device's `WWW-Authenticate` could not be answered.
    #[error("cannot answer the challenge of {url}: {reason}")]
    BadChallenge {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The device answered 401 to the authenticated request.
    #[error("{url} refused the credentials (401 after authenticating)")]
    CredentialsRefused {
        /// The URL.
        url: String,
    },
    /// The device answered with another status (503: it limits Connection Requests).
    #[error("{url} answered {status}")]
    Rejected {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The HTTP exchange failed after connecting (connection reset, malformed response).
    #[error("HTTP exchange with {url} failed: {source}")]
    Http {
        /// The URL.
        url: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The store failed while looking the device up.
    #[error("device lookup failed: {0}")]
    Store(#[source] StoreError),
    /// The store lookup task died.
    #[error("device lookup failed: {0}")]
    Lookup(#[source] tokio::task::JoinError),
    /// The URL could not be reached, and the cloud tunnel did not carry the request either.
    #[error("{http}; through the cloud tunnel: {cloud}")]
    Tunnel {
        /// Why the HTTP request failed.
        http: Box<Self>,
        /// Why the tunnel did: the cloud's error, or the device's retCode.
        cloud: String,
    },
}

/// Which way a Connection Request reached the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// `GET` on its ConnectionRequestURL (TR-069 §3.2.2).
    Http,
    /// optType 104 on its cloud tunnel.
    Cloud,
}

impl Path {
    /// `http` or `cloud`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Cloud => "cloud",
        }
    }
}

/// Asks `device` to open a session now (TR-069 Amd 6 §3.2.2), with the credentials the ACS
/// provisioned for it, else `acs.config.connreq.fallback`; through the attached cloud when the
/// URL cannot be reached.
pub async fn kick(acs: &Acs, device: &DeviceId) -> Result<Path, ConnReqError> {
    let error = match kick_http(acs, device).await {
        Ok(()) => return Ok(Path::Http),
        Err(error) => error,
    };
    let unreachable = matches!(
        error,
        ConnReqError::Unreachable { .. } | ConnReqError::Timeout { .. }
    );
    let Some(cloud) = acs.cloud().filter(|_| unreachable) else {
        return Err(error);
    };
    let (_, _, serial) = device.parts();
    // Counted by the cloud ([`crate::cloud::Cloud::count_in`]).
    let answer = cloud
        .connection_request(&serial, acs.config.connreq.timeout)
        .await;
    let cloud = match answer {
        Ok(ret_code) if ret_code.is_ok() => return Ok(Path::Cloud),
        Ok(ret_code) => format!("the device answered retCode {}", ret_code.0),
        Err(cloud) => cloud.to_string(),
    };
    Err(ConnReqError::Tunnel {
        http: Box::new(error),
        cloud,
    })
}

async fn kick_http(acs: &Acs, device: &DeviceId) -> Result<(), ConnReqError> {
    let store = Arc::clone(&acs.store);
    let id = device.clone();
    let record = tokio::task::spawn_blocking(move || store.device(&id))
        .await
        .map_err(ConnReqError::Lookup)?
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ConnReqError::UnknownDevice(device.clone()),
            other => ConnReqError::Store(other),
        })?;
    let url = record
        .connection_request_url
        .filter(|url| !url.is_empty())
        .ok_or_else(|| ConnReqError::NoUrl(device.clone()))?;
    let config = &acs.config.connreq;
    let credentials = record.credentials.or_else(|| config.fallback.clone());
    acs.stats.attempt(AcsMessage::ConnectionRequest);
    let result = request(
        &url,
        credentials.as_ref(),
        config.allow_basic,
        config.timeout,
    )
    .await;
    if let Some(delivery) = crate::stats::connection_request(&result) {
        acs.stats.delivered(AcsMessage::ConnectionRequest, delivery);
    }
    result
}
