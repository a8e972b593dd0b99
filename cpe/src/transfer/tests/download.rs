//! Downloads (TR-069 Amd 6 A.3.2.8) against loopback servers: hooks, stored files, FileSize
//! checks, HTTP errors, Digest, TLS trust, unreachable servers.

use schemas::rpc::{Download, FaultCode};

use super::support::{
    Pki, Proxy, Reply, Server, closed_port, config, md5_hex, ok, reply, verify_digest_for,
};
use super::{Harness, NOW, download, transfer_complete};
use crate::transfer::{Applied, HookError};
use crate::transport::{ProxyConfig, ProxySettings, TlsSettings, TransportConfig};

const IMAGE: &str = "FWIMG\u{1}\u{2}version=2.0;payload=0123456789abcdef";
const FIRMWARE: &str = "1 Firmware Upgrade Image";

/// A server that serves `body` to every request.
async fn serving(body: &'static str) -> Server {
    Server::start(move |_, _| ok(body)).await
}

/// The files left in `dir` (none, or the directory is absent).
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn firmware_download_hands_the_checked_file_to_the_hook() {
    let server = serving(IMAGE).await;
    let mut h = Harness::new();
    *h.hooks().apply.lock().unwrap() = Ok(Applied::RebootRequired);
    let request = Download {
        file_size: IMAGE.len() as u32,
        target_file_name: "fw.img".into(),
        ..download("fw-1", FIRMWARE, &server.url("/images/fw.img").to_string())
    };
    let completion = h.download(request).await;

    assert_eq!(completion.fault(), None);
    assert!(completion.reboot_required);
    let message = transfer_complete(&completion);
    assert_eq!(message.command_key.as_str(), "fw-1");
    assert_eq!(message.fault_struct.fault_code, 0);
    assert_eq!(message.start_time.unix_seconds(), NOW);
    assert_eq!(message.complete_time.unix_seconds(), NOW);

    let calls = h.hooks().calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].hook, "firmware_apply");
    assert_eq!(calls[0].contents, IMAGE.as_bytes());
    let path = calls[0].path.as_ref().unwrap();
    assert!(path.starts_with(h.tmp_dir()), "{}", path.display());
    assert!(!path.exists(), "the temp file is removed after the hook");
    assert!(leftovers(&h.tmp_dir()).is_empty());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/images/fw.img");
}

#[tokio::test]
async fn configuration_file_goes_to_the_config_hook_and_its_verdict_counts() {
    let server = serving("<config version=\"7\"/>").await;
    let mut h = Harness::new();
    let url = server.url("/cfg.xml").to_string();
    let completion = h
        .download(download("cfg", "3 Vendor Configuration File", &url))
        .await;
    assert_eq!(completion.fault(), None);
    assert_eq!(h.hooks().calls()[0].hook, "config_apply");
    assert_eq!(h.hooks().calls()[0].contents, b"<config version=\"7\"/>");

    for (error, code) in [
        (HookError::Corrupted("bad XML".into()), 9018),
        (HookError::Authentication("bad signature".into()), 9019),
        (HookError::Denied("downgrade".into()), 9001),
        (HookError::Failed("flash busy".into()), 9010),
        (HookError::Internal("oops".into()), 9002),
    ] {
        *h.hooks().apply.lock().unwrap() = Err(error.clone());
        let completion = h
            .download(download("cfg", "3 Vendor Configuration File", &url))
            .await;
        let fault = &transfer_complete(&completion).fault_struct;
        assert_eq!(fault.fault_code, code, "{error:?}");
        assert!(
            fault.fault_string.contains(&error.to_string()),
            "{}",
            fault.fault_string
        );
    }
    assert!(leftovers(&h.tmp_dir()).is_empty());
}

#[tokio::test]
async fn other_types_are_stored_under_their_target_file_name() {
    let server = serving("<html>hello</html>").await;
    let mut h = Harness::new();
    let completion = h
        .download(Download {
            target_file_name: "index.html".into(),
            ..download("web", "2 Web Content", &server.url("/x").to_string())
        })
        .await;
    assert_eq!(completion.fault(), None);
    let stored = h.store_dir().join("index.html");
    assert_eq!(completion.stored_at.as_deref(), Some(stored.as_path()));
    assert_eq!(std::fs::read(&stored).unwrap(), b"<html>hello</html>");

    // Without a TargetFileName, a vendor file takes the URL's last path segment.
    let completion = h
        .download(download(
            "v",
            "X 00D09E Voice Prompts",
            &server.url("/prompts/en.tar?rev=3").to_string(),
        ))
        .await;
    assert_eq!(
        completion.stored_at.as_deref(),
        Some(h.store_dir().join("en.tar").as_path())
    );
    assert!(h.hooks().calls().is_empty(), "no hook for stored files");
    assert!(leftovers(&h.tmp_dir()).is_empty());
}

#[tokio::test]
async fn file_size_mismatches_are_9017_short_and_9018_long() {
    let server = serving("0123456789").await;
    let mut h = Harness::new();
    let url = server.url("/f").to_string();
    for (file_size, code) in [
        (20, FaultCode::IncompleteDownload),
        (5, FaultCode::CorruptedFile),
    ] {
        let completion = h
            .download(Download {
                file_size,
                ..download("size", FIRMWARE, &url)
            })
            .await;
        assert_eq!(completion.fault(), Some(code), "FileSize {file_size}");
    }
    assert!(
        h.hooks().calls().is_empty(),
        "a bad file never reaches the hook"
    );
    assert!(leftovers(&h.tmp_dir()).is_empty());
}

#[tokio::test]
async fn body_cut_short_is_9017() {
    let server = Server::start(|_, _| {
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes only").then_close()
    })
    .await;
    let mut h = Harness::new();
    let completion = h
        .download(download("cut", FIRMWARE, &server.url("/f").to_string()))
        .await;
    assert_eq!(completion.fault(), Some(FaultCode::IncompleteDownload));
    assert!(leftovers(&h.tmp_dir()).is_empty());
}

#[tokio::test]
async fn size_limit_of_the_device_is_9010() {
    let server = serving("more than sixteen bytes").await;
    let mut h = Harness::with(config(), |c| c.max_download_size = 16);
    let url = server.url("/f").to_string();
    let completion = h.download(download("big", FIRMWARE, &url)).await;
    assert_eq!(completion.fault(), Some(FaultCode::DownloadFailure));
    // An announced size over the limit fails before contacting the server.
    let completion = h
        .download(Download {
            file_size: 17,
            ..download("big", FIRMWARE, &url)
        })
        .await;
    assert_eq!(completion.fault(), Some(FaultCode::DownloadFailure));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn http_errors_map_to_transfer_faults() {
    let server = Server::start(|request, _| match request.target.as_str() {
        "/missing" => reply("404 Not Found", &[], "no"),
        "/forbidden" => reply("403 Forbidden", &[], "no"),
        _ => reply("503 Service Unavailable", &[], "later"),
    })
    .await;
    let mut h = Harness::new();
    for (path, code) in [("/missing", 9016), ("/forbidden", 9016), ("/busy", 9010)] {
        let completion = h
            .download(download("e", FIRMWARE, &server.url(path).to_string()))
            .await;
        let fault = &transfer_complete(&completion).fault_struct;
        assert_eq!(fault.fault_code, code, "{path}");
        assert!(fault.fault_string.contains(path), "{}", fault.fault_string);
    }
}

/// A file server demanding Digest for GET.
async fn digest_server() -> Server {
    Server::start(|request, _| {
        let verified = request
            .header("authorization")
            .map(|h| verify_digest_for("GET", h, "filepass", md5_hex));
        match verified {
            Some(Ok(params)) if params["username"] == "fileuser" => ok("protected content"),
            _ => reply(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    "Digest realm=\"files\", qop=\"auth\", nonce=\"abc\", algorithm=MD5",
                )],
                "",
            ),
        }
    })
    .await
}

#[tokio::test]
async fn digest_protected_download_works_with_the_right_credentials_only() {
    let server = digest_server().await;
    let mut h = Harness::new();
    let url = server.url("/secret.bin").to_string();
    let with = |password: &str| Download {
        username: "fileuser".into(),
        password: password.into(),
        target_file_name: "secret.bin".into(),
        ..download("d", "4 Tone File", &url)
    };

    let completion = h.download(with("filepass")).await;
    assert_eq!(completion.fault(), None);
    assert_eq!(
        std::fs::read(h.store_dir().join("secret.bin")).unwrap(),
        b"protected content"
    );

    let completion = h.download(with("wrong")).await;
    assert_eq!(
        completion.fault(),
        Some(FaultCode::TransferAuthenticationFailure)
    );
    let completion = h.download(download("d", "4 Tone File", &url)).await;
    assert_eq!(
        completion.fault(),
        Some(FaultCode::TransferAuthenticationFailure),
        "no credentials for a protected file"
    );
}

#[tokio::test]
async fn https_download_needs_a_trusted_certificate() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| ok(IMAGE)).await;
    let url = server.url("/fw.img").to_string();
    let with_ca = |ca_file| TransportConfig {
        tls: TlsSettings {
            ca_file: Some(ca_file),
            ..config().tls
        },
        ..config()
    };

    let mut trusted = Harness::with(with_ca(pki.ca_file.clone()), |_| {});
    let completion = trusted.download(download("tls", FIRMWARE, &url)).await;
    assert_eq!(completion.fault(), None);
    assert_eq!(trusted.hooks().calls()[0].contents, IMAGE.as_bytes());

    let mut untrusted = Harness::with(with_ca(pki.other_ca_file.clone()), |_| {});
    let completion = untrusted.download(download("tls", FIRMWARE, &url)).await;
    let fault = &transfer_complete(&completion).fault_struct;
    assert_eq!(fault.fault_code, 9012);
    assert!(
        fault.fault_string.contains("UnknownIssuer"),
        "{}",
        fault.fault_string
    );
    assert!(untrusted.hooks().calls().is_empty());
    assert_eq!(server.requests().len(), 1, "no request over untrusted TLS");
}

#[tokio::test]
async fn unreachable_server_is_9015() {
    let port = closed_port().await;
    let mut h = Harness::new();
    let completion = h
        .download(download(
            "gone",
            FIRMWARE,
            &format!("http://127.0.0.1:{port}/fw.img"),
        ))
        .await;
    let fault = &transfer_complete(&completion).fault_struct;
    assert_eq!(fault.fault_code, 9015);
    assert!(
        fault.fault_string.contains(&format!("127.0.0.1:{port}")),
        "{}",
        fault.fault_string
    );
    assert!(leftovers(&h.tmp_dir()).is_empty());
}

#[tokio::test]
async fn downloads_go_through_the_configured_proxy() {
    let pki = Pki::new();
    let plain = serving(IMAGE).await;
    let tls = Server::start_tls(pki.server_config(false), |_, _| ok(IMAGE)).await;
    let proxy = Proxy::start(None).await;
    let mut h = Harness::with(
        TransportConfig {
            proxy: ProxySettings::all(ProxyConfig {
                url: proxy.url(),
                credentials: None,
            }),
            tls: TlsSettings {
                ca_file: Some(pki.ca_file.clone()),
                ..config().tls
            },
            ..config()
        },
        |_| {},
    );
    for url in [plain.url("/a.img"), tls.url("/b.img")] {
        let completion = h.download(download("p", FIRMWARE, &url.to_string())).await;
        assert_eq!(completion.fault(), None, "{url}");
    }
    let seen: Vec<String> = proxy.seen().into_iter().map(|(line, _)| line).collect();
    assert_eq!(
        seen,
        [
            format!("GET http://127.0.0.1:{}/a.img HTTP/1.1", plain.port()),
            format!("CONNECT 127.0.0.1:{} HTTP/1.1", tls.port()),
        ]
    );
}

#[tokio::test]
async fn stale_temp_files_are_removed_at_boot() {
    let h = Harness::new();
    assert_eq!(h.executor.remove_stale_downloads().await.unwrap(), 0);
    std::fs::create_dir_all(h.tmp_dir()).unwrap();
    std::fs::write(h.tmp_dir().join("transfer-7.part"), b"half an image").unwrap();
    std::fs::write(h.tmp_dir().join("keep.txt"), b"not ours").unwrap();
    assert_eq!(h.executor.remove_stale_downloads().await.unwrap(), 1);
    assert_eq!(leftovers(&h.tmp_dir()), ["keep.txt"]);
}
