//! `cpe`: a TR-069 (CWMP) CPE agent.
//!
//! The agent arrives in its own step; for now this binary only describes itself.

use clap::Parser;

/// A TR-069 CPE agent: learns its ACS from DHCP option 43, opens CWMP sessions, answers its
/// ACS, and keeps a cloud-management tunnel up.
#[derive(Debug, Parser)]
#[command(name = "cpe", version, about)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
    println!("cpe: the agent is not built yet; see `cpe --help` and the README");
}
