//! `cpe dhcp probe` against a real dnsmasq across a veth pair in network namespaces (netlab):
//! DHCPINFORM, DHCPDISCOVER and the DHCPv6 Information-request each lead the agent, started
//! afterwards in the CPE's namespace, to open its first session with `0 BOOTSTRAP` at the ACS
//! URL dnsmasq gave, with the provisioning code in its Inform (TR-069 §3.1, §3.7.1.5); the
//! probe's errors name their cause.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Output;

use netlab::{CPE_IF, Dnsmasq, SERVER_V4, SERVER_V6, Testbed};
use schemas::rpc::EventCode;

use crate::support::Running;
use crate::support::acs::ScriptedAcs;
use crate::support::cwmp::{PC, events, no_url_config, script, value, wait_informs};
use crate::support::readme::snippet;

/// The provisioning code of the README's snippets.
const CODE: &str = "ZTP-LAB";

/// A scripted ACS listening on `addr` inside the server's namespace.
fn acs_in_server(testbed: &Testbed, addr: IpAddr) -> ScriptedAcs {
    let listener = testbed
        .server()
        .run(move || TcpListener::bind(SocketAddr::new(addr, 0)))
        .unwrap()
        .unwrap();
    ScriptedAcs::start_on(listener, script(None))
}

/// dnsmasq with the README's snippets: vendor class `dslforum.org` gets option 43 (BBF form)
/// and enterprise 3561 gets DHCPv6 option 17, both naming the ACS at `authority`
/// (`host:port`) and [`CODE`]. Returns dnsmasq and the URL it gives.
fn dnsmasq(testbed: &Testbed, authority: &str) -> (Dnsmasq, String) {
    let mut lines = snippet("dnsmasq-bbf", authority);
    lines.extend(snippet("dnsmasq-v6", authority));
    let url = format!("http://{authority}/cwmp");
    (Dnsmasq::start(testbed, &lines).unwrap(), url)
}

/// Waits until the CPE's end of the veth pair has carrier, so the first request is not lost
/// (and retransmitted seconds later).
async fn link_up(testbed: &Testbed) {
    for _ in 0..500 {
        let out = testbed
            .cpe()
            .command("cat")
            .arg(format!("/sys/class/net/{CPE_IF}/operstate"))
            .output()
            .unwrap();
        if out.stdout.starts_with(b"up") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{CPE_IF} never came up");
}

/// Runs `cpe dhcp probe --iface cpe0 --state-dir DIR ARGS` in the CPE's namespace.
async fn probe(testbed: &Testbed, dir: &Path, args: &[&str]) -> Output {
    let mut command = testbed.cpe().command(env!("CARGO_BIN_EXE_cpe"));
    command
        .args(["dhcp", "probe", "--iface", CPE_IF, "--state-dir"])
        .arg(dir)
        .args(args)
        .env_remove("CPE_STATE_DIR");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Starts the agent of `dir` on a thread inside the CPE's namespace; it stops when the returned
/// sender is dropped or sent to.
fn agent_in_cpe(
    testbed: &Testbed,
    dir: PathBuf,
) -> (tokio::sync::oneshot::Sender<()>, netlab::NsThread<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = testbed
        .cpe()
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let agent = Running::start(no_url_config(&dir)).await;
                let _ = stopped.await;
                agent.stop().await;
            });
        })
        .unwrap();
    (stop, thread)
}

/// One probe case: where the ACS listens, what the probe prints, and what the CPE's side
/// needs before the agent can reach the ACS.
struct Case {
    acs: IpAddr,
    transport: &'static str,
    args: &'static [&'static str],
    before_agent: fn(&Testbed),
}

/// The whole path: the probe (no agent running: saved for its next start), then the agent's
/// first session.
async fn probe_then_bootstrap(testbed: &Testbed, case: Case) {
    let acs = acs_in_server(testbed, case.acs);
    let authority = acs
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/acs");
    let (dnsmasq, url) = dnsmasq(testbed, authority);
    let state = tempfile::tempdir().unwrap();
    link_up(testbed).await;

    let json = case.args.contains(&"--json");
    let out = probe(testbed, state.path(), case.args).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "probe failed: {stderr}\ndnsmasq:\n{}",
        dnsmasq.log()
    );
    if json {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["transport"], case.transport);
        assert_eq!(report["url"], url.as_str());
        assert_eq!(report["provisioning_code"], CODE);
        assert!(stderr.contains("no agent running"), "{stderr}");
    } else {
        assert!(
            stdout.contains(&format!("transport:          {}", case.transport)),
            "{stdout}"
        );
        assert!(stdout.contains(&url) && stdout.contains(CODE), "{stdout}");
        assert!(stdout.contains("no agent running"), "{stdout}");
    }
    if case.transport == "dhcpv4-discover" {
        let log = dnsmasq.log();
        assert!(log.contains("DHCPOFFER"), "{log}");
        assert!(
            !log.contains("DHCPREQUEST"),
            "a lease was requested:\n{log}"
        );
    }

    (case.before_agent)(testbed);
    let (stop, thread) = agent_in_cpe(testbed, state.path().to_owned());
    let inform = wait_informs(&acs, 1).await.remove(0);
    let _ = stop.send(());
    tokio::task::spawn_blocking(move || thread.join().expect("the agent thread ends"))
        .await
        .unwrap();
    assert!(
        events(&inform).contains(&EventCode::Bootstrap),
        "{:?}",
        events(&inform)
    );
    // The ACS listens only at the address and port dnsmasq named: the Inform came there.
    assert!(acs.requests()[0].start.starts_with("POST /cwmp "));
    assert_eq!(value(&inform, PC).as_deref(), Some(CODE));
}

fn nothing(_: &Testbed) {}

fn add_cpe_v4(testbed: &Testbed) {
    testbed.add_cpe_address().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcpinform_from_an_addressed_interface_leads_to_bootstrap_at_the_dnsmasq_url() {
    let Some(testbed) = Testbed::for_test_with("dhcpinform_probe", &["dnsmasq"]) else {
        return;
    };
    testbed.add_cpe_address().unwrap();
    let case = Case {
        acs: IpAddr::V4(SERVER_V4),
        transport: "dhcpv4-inform",
        args: &[],
        before_agent: nothing,
    };
    probe_then_bootstrap(&testbed, case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcpdiscover_without_an_address_takes_no_lease_and_leads_to_bootstrap() {
    let Some(testbed) = Testbed::for_test_with("dhcpdiscover_probe", &["dnsmasq"]) else {
        return;
    };
    // The agent reaches the ACS once the interface has an address (the system's business).
    let case = Case {
        acs: IpAddr::V4(SERVER_V4),
        transport: "dhcpv4-discover",
        args: &["--json"],
        before_agent: add_cpe_v4,
    };
    probe_then_bootstrap(&testbed, case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcpv6_information_request_leads_to_bootstrap_at_the_option_17_url() {
    let Some(testbed) = Testbed::for_test_with("dhcpv6_probe", &["dnsmasq"]) else {
        return;
    };
    // After SLAAC, say: stateless DHCPv6 answers what the address did not.
    let status = testbed
        .cpe()
        .command("ip")
        .args(["addr", "add", "fd00:cafe::2/64", "dev", CPE_IF, "nodad"])
        .status()
        .unwrap();
    assert!(status.success());
    let case = Case {
        acs: IpAddr::V6(SERVER_V6),
        transport: "dhcpv6",
        args: &["--v6", "--json"],
        before_agent: nothing,
    };
    probe_then_bootstrap(&testbed, case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_errors_name_their_cause_and_exit_non_zero() {
    let Some(testbed) = Testbed::for_test_with("probe_errors", &["dnsmasq"]) else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let dnsmasq = Dnsmasq::start(&testbed, &[]).unwrap();
    link_up(&testbed).await;
    let out = probe(&testbed, state.path(), &["--print-only"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "answered but sent no option 43 (is it configured for vendor class dslforum.org?)"
        ),
        "{stderr}\ndnsmasq:\n{}",
        dnsmasq.log()
    );
    drop(dnsmasq);

    let out = probe(
        &testbed,
        state.path(),
        &["--attempts", "1", "--timeout", "1"],
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no DHCP answer after 1 attempt(s) in 1 s"),
        "{stderr}"
    );

    let down = testbed
        .cpe()
        .command("ip")
        .args(["link", "set", CPE_IF, "down"])
        .status()
        .unwrap();
    assert!(down.success());
    let out = probe(&testbed, state.path(), &[]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("interface {CPE_IF} is down")),
        "{stderr}"
    );

    let mut missing = testbed.cpe().command(env!("CARGO_BIN_EXE_cpe"));
    missing.args(["dhcp", "probe", "--iface", "nosuch0"]);
    let out = tokio::task::spawn_blocking(move || missing.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such interface: nosuch0"));
    assert!(!state.path().join(cpe::ztp::hook::PENDING_FILE).exists());
}
