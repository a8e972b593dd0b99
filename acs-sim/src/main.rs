//! `acs-sim`: an ACS for labs and test rigs (TR-069 / CWMP).
//!
//! The CWMP endpoint, the REST API and the lab arrive in their own steps; for now `lab` says
//! what it will run.

use clap::{Parser, Subcommand};

/// An ACS for labs and test rigs: speaks CWMP to many CPEs, takes GenieACS-style tasks, plays
/// the cloud-management server.
#[derive(Debug, Parser)]
#[command(name = "acs-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the zero-touch provisioning lab on loopback, with embedded defaults.
    Lab,
}

const LAB_PLAN: &str = "\
acs-sim lab: the zero-touch flow on one machine (work in progress)

  1. start the ACS (CWMP on 127.0.0.1:7547, REST API on 127.0.0.1:7557)
  2. start a DHCP server offering option 43 with the ACS URL and cloud parameters
  3. boot an in-process CPE: it learns its ACS from option 43 and informs 0 BOOTSTRAP, 1 BOOT
  4. provision it: GetParameterValues, SetParameterValues, re-point ManagementServer.URL
  5. watch it reconnect to the new ACS with 0 BOOTSTRAP and bring the cloud tunnel up

Available today: the CWMP codec (crate `schemas`); run the tests with `cargo test --workspace`.
";

fn main() {
    match Cli::parse().command {
        Command::Lab => print!("{LAB_PLAN}"),
    }
}
