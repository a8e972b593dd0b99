//! The agent against a scripted ACS over loopback: one test binary.

mod acs_auth;
mod cloud_cli;
mod connreq;
mod dhcp_netns;
mod dhcp_probe;
mod dhcp_servers;
mod driver;
mod h3c_flow;
mod oplog;
mod reboot_command;
mod rpc_coverage;
mod snapshot;
mod state_files;
mod stats;
mod stop;
mod support;
mod tls;
mod transfers;
mod ztp;
