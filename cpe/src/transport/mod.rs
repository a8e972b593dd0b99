//! The HTTP(S) client of a CWMP session: one connection per session (§3.4).
