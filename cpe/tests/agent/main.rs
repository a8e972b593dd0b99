//! The agent against a scripted ACS over loopback: one test binary.

mod driver;
mod support;
