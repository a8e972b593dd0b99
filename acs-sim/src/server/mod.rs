//! The CWMP endpoint (TR-069 §3.4): HTTP and HTTPS listeners on hyper, one
//! [`crate::session::Session`] per CPE session, found by cookie or by connection.
