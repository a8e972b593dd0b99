//! `cpe cloud status|reset|unbind`, the real binary against a running agent whose tunnel does
//! not run (no cloud domain): the table's fields and wording, JSON in the same order, and
//! clear refusals. The established tunnel's table is tested with the cloud server in acs-sim.

use std::path::Path;
use std::process::Output;

use crate::support::cwmp::{cpe_binary, start_without_url};

async fn cpe(args: &[&str], dir: &Path) -> Output {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.extend(["--state-dir".to_owned(), dir.display().to_string()]);
    cpe_binary(args, Vec::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_status_prints_the_display_table_and_json_in_the_same_order() {
    let state = tempfile::tempdir().unwrap();
    let agent = start_without_url(state.path()).await;
    let out = cpe(&["cloud", "status"], state.path()).await;
    assert!(out.status.success(), "{out:?}");
    let expected = "\
Cloud connection state                      : Unconnected
Device state                                : Idle
Cloud server address                        : N/A
Cloud server domain name                    : N/A
Local port                                  : 443
Connected at                                : N/A
Duration                                    : N/A
Process state                               : DNS not parsed
Failure reason                              : N/A
Last down reason                            : N/A
Last down at                                : N/A
Last report failure reason                  : N/A
Last report failure at                      : N/A
Dropped packets after reaching buffer limit : 0
Total dropped packets                       : 0
Last report incomplete reason               : N/A
Last report incomplete at                   : N/A
Buffer full count                           : 0
";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    let out = cpe(&["cloud", "status", "--json"], state.path()).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["Cloud connection state"], "Unconnected");
    assert_eq!(json["Local port"], "443");
    let keys: Vec<&str> = expected
        .lines()
        .map(|l| l.split(" : ").next().unwrap().trim_end())
        .collect();
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "JSON keys in table order: {text}"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_unbind_without_a_tunnel_and_bad_codes_are_refused_clearly() {
    let state = tempfile::tempdir().unwrap();
    let agent = start_without_url(state.path()).await;
    let out = cpe(&["cloud", "reset"], state.path()).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not run") && err.contains("ServerDomain"),
        "{err}"
    );

    let out = cpe(&["cloud", "unbind", "has space"], state.path()).await;
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 to 64 printable"), "{err}");

    let long = "d".repeat(254);
    let set = format!("Device.X_EXAMPLE_CloudManagement.ServerDomain={long}");
    let out = cpe(&["set", &set], state.path()).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ServerDomain") && err.contains("253"), "{err}");
    agent.stop().await;
}
