//! The client side of the cloud-management tunnel (ARCHITECTURE.md, "Cloud-management
//! tunnel"; the wire format is [`schemas::tunnel`]): a sans-IO [`Tunnel`] machine that
//! resolves the cloud, authenticates CAS-style, registers, opens the main WebSocket link and
//! one sub-link per local service module, keeps them alive, and reports the status table of
//! `display cloud-management state` ([`CloudStatus`]).
//!
//! The machine takes inputs and `now` and answers with [`Action`]s (resolve, connect, HTTP
//! request, open a WebSocket, send or close), [`Event`]s for the rest of the agent, and the
//! instant it wants to be woken at. Time and the back-off jitter are injected.

mod buffer;
mod driver;
mod machine;
mod status;
mod tally;

#[cfg(test)]
mod tests;

pub use buffer::{BufferCounters, BufferFull, Queued, SendBuffer};
pub use driver::{
    CloudClient, DriverConfig, DriverError, IO_TIMEOUT, SendRefused, Stopped, cloud_tls,
};
pub use machine::{
    Action, Backoff, Close, ConnectError, Event, HttpMethod, HttpResponse, HttpStep, Link,
    MAX_ADDRESSES, ResolveError, STEP_TIMEOUT, SendError, ServiceModule, Tunnel, TunnelConfig,
};
pub use status::{CloudStatus, StatusTable, render};
pub use tally::Record;
