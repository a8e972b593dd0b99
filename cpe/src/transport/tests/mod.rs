//! Tests against real servers on loopback: scripted HTTP/1.1 servers, a TLS server with an
//! rcgen CA, and a tiny proxy. No sleeps: timeouts run on paused tokio time.

mod auth;
mod files;
mod limits;
mod proxy;
mod redirect;
mod session;
pub(crate) mod support;
mod tls;
