//! The agent: the sessions, the data model, events and retries, the Connection Request server
//! and persistence, wired together.

pub mod driver;
