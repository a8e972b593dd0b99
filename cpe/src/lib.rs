//! A TR-069 (CWMP) CPE agent: data model, CWMP sessions, every ACS->CPE RPC, events and retries
//! that survive a crash, the HTTP(S) transport, and the Connection Request server.
//!
//! Protocol logic is sans-IO ([`session`], [`events`]); the async drivers ([`transport`],
//! [`connreq`]) are thin.

pub mod agent;
pub mod cloud;
pub mod config;
pub mod connreq;
pub mod control;
pub mod dial;
pub mod events;
pub mod health;
pub mod model;
pub mod net;
pub mod oplog;
pub mod persist;
pub mod rpc;
pub mod session;
pub mod snapshot;
pub mod stats;
pub mod transfer;
pub mod transport;
pub mod ztp;
