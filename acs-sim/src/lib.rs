//! `acs_sim`: an ACS for labs and test rigs. Speaks CWMP to many CPEs (`server`), keeps
//! devices, tasks and faults in a `store`, takes GenieACS-style tasks over REST (`nbi`),
//! provisions by `scenario`, sends Connection Requests (`connreq`) and serves `files`; `cloud`
//! simulates the cloud-management server of the tunnel.

pub mod acs;
pub mod backup;
pub mod cloud;
pub mod config;
pub mod connreq;
pub mod files;
pub mod health;
pub mod job;
pub mod lab;
pub mod nbi;
pub mod provision;
pub mod scenario;
pub mod server;
pub mod session;
pub mod stats;
pub mod store;
