//! Probe messages and replies, sans-IO, and the exchange over loopback.
