//! Zero-touch provisioning over loopback (TR-069 §3.1, PROTOCOL.md §2.2 and §4.2): DHCP
//! option 43 handed to an agent with no ACS URL, through the code `cpe dhcp hook` runs and
//! through the real binary with udhcpc's environment; the precedence of the ACS and the CLI
//! over DHCP; H3C credentials used for HTTP authentication; the sources surviving a restart.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::control::{self, Request, Response, Status};
use cpe::ztp::hook::{self, Delivery};
use schemas::dhcp::{AcsDiscovery, Dialect, hex};
use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::*;

use crate::support::acs::ScriptedAcs;
use crate::support::auth::{self, Scheme};
use crate::support::cwmp::{
    PC, cpe_binary, events, informs, script, source, start_without_url, status, value, wait_informs,
};

const URL: &str = "Device.ManagementServer.URL";

/// Waits until `count` sessions have completed.
async fn sessions_ok(dir: &Path, count: u64) -> Status {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Response::Status(s)) = control::request(dir, &Request::Status).await
                && s.sessions_ok >= count
                && !s.in_session
            {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the sessions completed")
}

/// Option 43 as udhcpc exports it (`$opt43`, compact hex).
fn opt43(discovery: &AcsDiscovery, dialect: Dialect) -> String {
    hex::compact(&discovery.encode_option43(dialect).unwrap())
}

fn bbf(url: &str, provisioning_code: Option<&str>) -> String {
    let discovery = AcsDiscovery {
        url: Some(url.to_owned()),
        provisioning_code: provisioning_code.map(str::to_owned),
        ..AcsDiscovery::default()
    };
    opt43(&discovery, Dialect::Bbf)
}

/// What `cpe dhcp hook bound` does with `$opt43`, in process: read, decode, deliver.
async fn hook_in_process(dir: &Path, opt43: &str) -> Delivery {
    let value = opt43.to_owned();
    let call = hook::read_call(Some("bound"), move |name| {
        (name == "opt43").then(|| value.clone())
    })
    .unwrap();
    let intake = hook::decode(&call).unwrap().expect("option 43");
    hook::deliver(dir, &intake).await.unwrap()
}

/// Runs the real binary as udhcpc runs its hook script: `$1` and `$opt43`.
async fn hook_binary(dir: &Path, event: &str, opt43: &str) -> Output {
    let args = [
        "dhcp",
        "hook",
        "--state-dir",
        &dir.display().to_string(),
        event,
    ]
    .map(str::to_owned)
    .to_vec();
    let env = [("opt43", opt43), ("interface", "eth0")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
    cpe_binary(args, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcp_points_an_agent_without_a_url_at_its_acs_and_a_new_url_bootstraps_again() {
    let first = ScriptedAcs::start(script(None)).await;
    let second = ScriptedAcs::start(script(None)).await;
    let state = tempfile::tempdir().unwrap();
    let agent = start_without_url(state.path()).await;
    assert_eq!(status(state.path()).await.acs_url, None);

    let delivered = hook_in_process(state.path(), &bbf(&first.url, Some("PC-ZTP-1"))).await;
    assert!(matches!(delivered, Delivery::Applied(_)), "{delivered:?}");
    let inform = &wait_informs(&first, 1).await[0];
    let codes = events(inform);
    assert!(codes.contains(&EventCode::Bootstrap), "{codes:?}");
    // ProvisioningCode is a forced Inform parameter (TR-181).
    assert_eq!(value(inform, PC).as_deref(), Some("PC-ZTP-1"));
    let after = sessions_ok(state.path(), 1).await;
    assert_eq!(after.acs_url.as_deref(), Some(first.url.as_str()));
    assert_eq!(after.acs_url_source.as_deref(), Some("dhcp"));
    assert_eq!(source(&after, URL), "dhcp");
    assert_eq!(source(&after, PC), "dhcp");
    assert_eq!(
        source(
            &after,
            "Device.ManagementServer.CWMPRetryMinimumWaitInterval"
        ),
        "profile"
    );

    // A renewal with the same URL is no news: no event, no session.
    hook_in_process(state.path(), &bbf(&first.url, Some("PC-ZTP-1"))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let same = status(state.path()).await;
    assert!(same.pending_events.is_empty(), "{:?}", same.pending_events);
    assert_eq!(same.sessions_ok, 1);
    assert_eq!(informs(&first).len(), 1);

    // A renewal with a new URL: 0 BOOTSTRAP at the new ACS.
    hook_in_process(state.path(), &bbf(&second.url, None)).await;
    let inform = &wait_informs(&second, 1).await[0];
    assert!(events(inform).contains(&EventCode::Bootstrap));
    assert_eq!(value(inform, PC).as_deref(), Some("PC-ZTP-1"));
    let after = sessions_ok(state.path(), 2).await;
    assert_eq!(after.acs_url.as_deref(), Some(second.url.as_str()));
    assert_eq!(informs(&first).len(), 1);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_the_acs_set_holds_against_a_later_dhcp_renewal() {
    let second = ScriptedAcs::start(script(None)).await;
    let third = ScriptedAcs::start(script(None)).await;
    let first = ScriptedAcs::start(script(Some(
        SetParameterValues {
            parameter_list: vec![ParameterValueStruct::new(URL, second.url.as_str())],
            parameter_key: "repoint".parse().unwrap(),
        }
        .into(),
    )))
    .await;
    let state = tempfile::tempdir().unwrap();
    let agent = start_without_url(state.path()).await;
    hook_in_process(state.path(), &bbf(&first.url, None)).await;
    let inform = &wait_informs(&second, 1).await[0];
    assert!(events(inform).contains(&EventCode::Bootstrap));
    let after = sessions_ok(state.path(), 2).await;
    assert_eq!(after.acs_url.as_deref(), Some(second.url.as_str()));
    assert_eq!(after.acs_url_source.as_deref(), Some("acs"));

    let Delivery::Applied(summary) = hook_in_process(state.path(), &bbf(&third.url, None)).await
    else {
        panic!("the agent runs");
    };
    assert!(summary.contains("kept: set by acs"), "{summary}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(third.requests().is_empty());
    let after = status(state.path()).await;
    assert_eq!(after.acs_url.as_deref(), Some(second.url.as_str()));
    assert_eq!(source(&after, URL), "acs");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h3c_credentials_from_the_real_hook_answer_a_digest_challenge() {
    let passed = Arc::new(Mutex::new(0));
    let acs = ScriptedAcs::start(auth::require(
        Scheme::Digest,
        &[("1234", "5678")],
        passed.clone(),
        script(None),
    ))
    .await;
    let state = tempfile::tempdir().unwrap();
    let agent = start_without_url(state.path()).await;
    // PROTOCOL.md §4.2: sub-option 1 = `URL 0x20 username 0x20 password`.
    let discovery = AcsDiscovery {
        url: Some(acs.url.clone()),
        username: Some("1234".into()),
        password: Some("5678".into()),
        ..AcsDiscovery::default()
    };
    let out = hook_binary(state.path(), "bound", &opt43(&discovery, Dialect::H3c)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Device.ManagementServer.Username = 1234 (dhcp)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("5678"),
        "the password is not printed: {stdout}"
    );
    let after = sessions_ok(state.path(), 1).await;
    assert!(
        *passed.lock().unwrap() >= 2,
        "Inform and empty POST authenticated"
    );
    assert_eq!(source(&after, "Device.ManagementServer.Username"), "dhcp");
    assert_eq!(after.sessions_failed, 0);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_option_43_is_refused_with_its_reason_and_nothing_applied() {
    let state = tempfile::tempdir().unwrap();
    // No agent running: nothing is saved for it either.
    let out = hook_binary(state.path(), "bound", "0127 6874").await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("option 43") && stderr.contains("$opt43") && stderr.contains("declares"),
        "{stderr}"
    );
    assert!(!state.path().join(hook::PENDING_FILE).exists());

    let agent = start_without_url(state.path()).await;
    for bad in ["01zz", "0127 6874", &bbf("ftp://acs.example/", None)] {
        let out = hook_binary(state.path(), "renew", bad).await;
        assert!(!out.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("option 43"), "{stderr}");
    }
    let ftp = hook_binary(state.path(), "bound", &bbf("ftp://acs.example/", None)).await;
    assert!(
        String::from_utf8_lossy(&ftp.stderr).contains("not a usable ACS URL"),
        "{}",
        String::from_utf8_lossy(&ftp.stderr)
    );
    let after = status(state.path()).await;
    assert_eq!(after.acs_url, None);
    assert_eq!(source(&after, URL), "default");

    // Events without a lease are nothing to do.
    for event in ["deconfig", "leasefail", "nak"] {
        let out = hook_binary(state.path(), event, "").await;
        assert!(out.status.success(), "{event}");
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_while_stopped_is_applied_at_start_and_the_sources_survive_a_restart() {
    let first = ScriptedAcs::start(script(None)).await;
    let second = ScriptedAcs::start(script(None)).await;
    let state = tempfile::tempdir().unwrap();
    let out = hook_binary(state.path(), "bound", &bbf(&first.url, Some("PC-7"))).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no agent running"));
    assert!(state.path().join(hook::PENDING_FILE).exists());

    let agent = start_without_url(state.path()).await;
    assert!(!state.path().join(hook::PENDING_FILE).exists());
    let inform = &wait_informs(&first, 1).await[0];
    assert!(events(inform).contains(&EventCode::Bootstrap));
    assert_eq!(value(inform, PC).as_deref(), Some("PC-7"));
    sessions_ok(state.path(), 1).await;

    // The local CLI re-points the CPE: that holds against DHCP.
    let set = Request::Set {
        values: vec![(URL.to_owned(), second.url.clone())],
    };
    assert_eq!(
        control::request(state.path(), &set).await.unwrap(),
        Response::Done
    );
    let inform = &wait_informs(&second, 1).await[0];
    assert!(events(inform).contains(&EventCode::Bootstrap));
    sessions_ok(state.path(), 2).await;
    agent.stop().await;

    let agent = start_without_url(state.path()).await;
    let after = status(state.path()).await;
    assert_eq!(after.acs_url.as_deref(), Some(second.url.as_str()));
    assert_eq!(source(&after, URL), "cli");
    assert_eq!(source(&after, PC), "dhcp");
    let Delivery::Applied(summary) = hook_in_process(state.path(), &bbf(&first.url, None)).await
    else {
        panic!("the agent runs");
    };
    assert!(summary.contains("kept: set by cli"), "{summary}");
    // `cpe status` prints the sources.
    let out = tokio::task::spawn_blocking({
        let dir = state.path().to_owned();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_cpe"))
                .args(["status", "--state-dir"])
                .arg(dir)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Value sources:") && stdout.contains(PC) && stdout.contains("cli"),
        "{stdout}"
    );
    agent.stop().await;
    // Only the boot Inform of the restart reached the second ACS; none went back to the first.
    assert_eq!(informs(&first).len(), 1);
}

/// Runs one of the shipped hook scripts with `sh`, the binary under test as `cpe`.
fn run_script(script: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let mut command = std::process::Command::new("sh");
    command
        .arg(path)
        .args(args)
        .env("CPE_BIN", env!("CARGO_BIN_EXE_cpe"))
        .env("CPE_STATE_DIR", dir)
        .env_remove("reason");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// A script, its arguments and its environment.
type ScriptCall<'a> = (&'a str, &'a [&'a str], Vec<(&'a str, &'a str)>);

#[test]
fn the_shipped_hook_scripts_hand_the_lease_on() {
    let option = bbf("http://acs.example:7547/", Some("PC-S"));
    let colon = hex::colon_separated(&hex::parse(&option).unwrap());
    let cases: [ScriptCall<'_>; 2] = [
        (
            "udhcpc-hook.sh",
            &["bound"],
            vec![("opt43", option.as_str())],
        ),
        (
            "dhclient-hook.sh",
            &[],
            vec![
                ("reason", "RENEW"),
                ("new_vendor_encapsulated_options", colon.as_str()),
            ],
        ),
    ];
    for (script, args, env) in cases {
        let state = tempfile::tempdir().unwrap();
        let out = run_script(script, state.path(), args, &env);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let saved: Option<cpe::ztp::Intake> =
            cpe::persist::load(&state.path().join(hook::PENDING_FILE)).unwrap();
        let saved = saved.unwrap_or_else(|| panic!("{script} saved nothing"));
        assert_eq!(saved.url.as_deref(), Some("http://acs.example:7547/"));
        assert_eq!(saved.provisioning_code.as_deref(), Some("PC-S"));
    }
    // Events without a lease pass through.
    let state = tempfile::tempdir().unwrap();
    let out = run_script("udhcpc-hook.sh", state.path(), &["deconfig"], &[]);
    assert!(out.status.success());
    assert!(!state.path().join(hook::PENDING_FILE).exists());
}
