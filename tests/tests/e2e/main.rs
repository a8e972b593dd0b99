//! End-to-end tests over loopback, one binary: each module drives real sockets.

mod cloud;
mod cwmp_over_http;
mod session_pair;
