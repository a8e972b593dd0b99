//! The README's option-43 snippets for ISC Kea and ISC dhcpd, run by the real servers in a
//! network namespace (netlab) and read by the real busybox udhcpc with the shipped hook script
//! in the other: what each server sends is what the agent takes (TR-069 §3.1, PROTOCOL.md
//! §4.2 for the H3C form). dnsmasq's snippets go further, to the agent's first session
//! (`dhcp_netns.rs`).

use std::path::Path;

use cpe::ztp::Intake;
use cpe::ztp::hook::PENDING_FILE;
use netlab::{CPE_IF, Dhcpd, Kea, SERVER_V4, Testbed};

use crate::support::readme::snippet;

/// The ACS the snippets name, in the testbed (nothing needs to listen: only the lease counts).
fn acs() -> String {
    format!("{SERVER_V4}:7547")
}

/// One lease by busybox udhcpc on the CPE side, whose shipped hook saves the intake in
/// `state_dir` (no agent runs); the intake saved.
fn lease_through_the_hook(
    testbed: &Testbed,
    state_dir: &Path,
    server_log: impl Fn() -> String,
) -> Intake {
    let hook = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/udhcpc-hook.sh");
    // `-B`: broadcast replies. Without it udhcpc never sees a unicast OFFER on a veth pair
    // whose client end has no address yet (measured with dnsmasq).
    let out = testbed
        .cpe()
        .command("busybox")
        .args([
            "udhcpc",
            "-i",
            CPE_IF,
            "-V",
            "dslforum.org",
            "-O",
            "43",
            "-B",
        ])
        .args(["-q", "-n", "-t", "5", "-T", "1", "-s"])
        .arg(&hook)
        .env("CPE_BIN", env!("CARGO_BIN_EXE_cpe"))
        .env("CPE_STATE_DIR", state_dir)
        .output()
        .unwrap();
    let saved: Option<Intake> = cpe::persist::load(&state_dir.join(PENDING_FILE)).unwrap();
    saved.unwrap_or_else(|| {
        panic!(
            "no intake saved\n--- udhcpc ---\n{}{}\n--- server ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server_log()
        )
    })
}

fn assert_bbf(intake: &Intake) {
    assert_eq!(
        intake.url.as_deref(),
        Some(&*format!("http://{}/cwmp", acs()))
    );
    assert_eq!(intake.provisioning_code.as_deref(), Some("ZTP-LAB"));
    assert_eq!(intake.retry_min_wait, Some(5));
    assert_eq!(intake.retry_multiplier, Some(2000));
    assert_eq!(intake.username, None);
}

fn assert_h3c(intake: &Intake) {
    assert_eq!(
        intake.url.as_deref(),
        Some(&*format!("http://{}/cwmp", acs()))
    );
    assert_eq!(intake.username.as_deref(), Some("cpe-admin"));
    assert_eq!(intake.password.as_deref(), Some("s3cret"));
}

/// Runs the README's `{server}-bbf` and `{server}-h3c` snippets on a server that `start`
/// starts (and `log` reads), each in a fresh testbed, and checks what the hook saved.
fn readme_snippets<S>(
    server: &str,
    program: &'static str,
    start: fn(&Testbed, &[String]) -> Result<S, netlab::Error>,
    log: fn(&S) -> String,
) {
    for (form, check) in [("bbf", assert_bbf as fn(&Intake)), ("h3c", assert_h3c)] {
        let name = format!("{server}-{form}");
        let Some(testbed) = Testbed::for_test_with(&name, &[program, "busybox"]) else {
            return;
        };
        let running = start(&testbed, &snippet(&name, &acs())).unwrap();
        let state = tempfile::tempdir().unwrap();
        check(&lease_through_the_hook(&testbed, state.path(), || {
            log(&running)
        }));
    }
}

#[test]
fn the_readme_kea_snippets_give_the_agent_its_acs() {
    readme_snippets("kea", "kea-dhcp4", Kea::start, Kea::log);
}

#[test]
fn the_readme_dhcpd_snippets_give_the_agent_its_acs() {
    readme_snippets("dhcpd", "dhcpd", Dhcpd::start, Dhcpd::log);
}
