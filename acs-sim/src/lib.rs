//! `acs_sim`: an ACS for labs and test rigs. Speaks CWMP to many CPEs, keeps devices, tasks and
//! faults in a store, and (in later steps) takes GenieACS-style tasks over REST.

pub mod session;
pub mod store;
