//! Uploads (TR-069 Amd 6 A.4.1.5) against loopback servers: the exact bytes with PUT or POST,
//! instance file types, and failures.

use schemas::rpc::{FaultCode, Upload};

use super::support::{Server, closed_port, config, md5_hex, reply, verify_digest_for};
use super::{Harness, transfer_complete, upload};
use crate::transfer::{HookError, UploadMethod};

fn binary() -> Vec<u8> {
    (0..=255u8).cycle().take(5000).collect()
}

async fn accepting() -> Server {
    Server::start(|_, _| reply("201 Created", &[], "")).await
}

#[tokio::test]
async fn upload_puts_the_exact_bytes_of_the_configuration() {
    let server = accepting().await;
    let mut h = Harness::new();
    *h.hooks().export.lock().unwrap() = Ok(binary());
    let completion = h
        .upload(upload(
            "backup",
            "1 Vendor Configuration File",
            &server.url("/backups/cpe1.cfg").to_string(),
        ))
        .await;
    assert_eq!(completion.fault(), None);
    let message = transfer_complete(&completion);
    assert_eq!(message.command_key.as_str(), "backup");
    assert_eq!(
        completion.events()[1].event_code,
        schemas::rpc::EventCode::Method("Upload".into())
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[0].target, "/backups/cpe1.cfg");
    assert_eq!(requests[0].body, binary());
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/octet-stream")
    );
    let calls = h.hooks().calls();
    assert_eq!((calls[0].hook, calls[0].instance), ("config_export", None));
}

#[tokio::test]
async fn upload_posts_when_configured_and_passes_instances() {
    let server = accepting().await;
    let mut h = Harness::with(config(), |c| {
        c.upload_method = UploadMethod::Post;
        c.upload_content_type = "text/plain".into();
    });
    *h.hooks().export.lock().unwrap() = Ok(b"kernel: eth0 up\n".to_vec());
    let url = server.url("/logs").to_string();
    let completion = h.upload(upload("log", "4 Vendor Log File 3", &url)).await;
    assert_eq!(completion.fault(), None);
    let completion = h
        .upload(upload("cfg", "3 Vendor Configuration File 2", &url))
        .await;
    assert_eq!(completion.fault(), None);

    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "POST"));
    assert_eq!(requests[0].body, b"kernel: eth0 up\n");
    assert_eq!(requests[0].header("content-type"), Some("text/plain"));
    let calls: Vec<_> = h
        .hooks()
        .calls()
        .iter()
        .map(|c| (c.hook, c.instance))
        .collect();
    assert_eq!(calls, [("log_export", Some(3)), ("config_export", Some(2))]);
}

#[tokio::test]
async fn upload_to_a_failing_or_absent_server_is_9011() {
    let failing = Server::start(|_, _| reply("500 Internal Server Error", &[], "disk full")).await;
    let port = closed_port().await;
    let mut h = Harness::new();
    for url in [
        failing.url("/up").to_string(),
        format!("http://127.0.0.1:{port}/up"),
    ] {
        let completion = h.upload(upload("u", "2 Vendor Log File", &url)).await;
        let fault = &transfer_complete(&completion).fault_struct;
        assert_eq!(fault.fault_code, 9011, "{url}");
        assert!(
            fault.fault_string.starts_with("Upload failure: "),
            "{}",
            fault.fault_string
        );
    }
}

#[tokio::test]
async fn upload_with_wrong_credentials_is_9012() {
    let server = Server::start(|request, _| {
        let verified = request
            .header("authorization")
            .map(|h| verify_digest_for("PUT", h, "right", md5_hex));
        match verified {
            Some(Ok(_)) => reply("204 No Content", &[], ""),
            _ => reply(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    "Digest realm=\"up\", qop=\"auth\", nonce=\"n\", algorithm=MD5",
                )],
                "",
            ),
        }
    })
    .await;
    let mut h = Harness::new();
    let url = server.url("/up").to_string();
    let with = |password: &str| Upload {
        username: "cpe".into(),
        password: password.into(),
        ..upload("u", "1 Vendor Configuration File", &url)
    };
    assert_eq!(h.upload(with("right")).await.fault(), None);
    assert_eq!(
        h.upload(with("wrong")).await.fault(),
        Some(FaultCode::TransferAuthenticationFailure)
    );
}

#[tokio::test]
async fn export_failures_and_oversized_files_are_reported_without_sending() {
    let server = accepting().await;
    let mut h = Harness::with(config(), |c| c.max_upload_size = 8);
    let url = server.url("/up").to_string();
    *h.hooks().export.lock().unwrap() = Err(HookError::Failed("no log yet".into()));
    let completion = h.upload(upload("u", "2 Vendor Log File", &url)).await;
    let fault = &transfer_complete(&completion).fault_struct;
    assert_eq!(fault.fault_code, 9011);
    assert!(
        fault.fault_string.contains("no log yet"),
        "{}",
        fault.fault_string
    );

    *h.hooks().export.lock().unwrap() = Ok(vec![b'x'; 9]);
    let completion = h.upload(upload("u", "2 Vendor Log File", &url)).await;
    assert_eq!(completion.fault(), Some(FaultCode::UploadFailure));
    assert!(server.requests().is_empty());
}
