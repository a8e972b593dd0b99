//! The Connection Request server (§3.2.2).
