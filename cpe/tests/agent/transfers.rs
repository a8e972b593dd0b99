//! File transfers against the running agent (TR-069 Amd 6 A.3.2.8 Download, A.4.1.5 Upload,
//! A.4.1.8 ScheduleDownload, A.4.1.9 CancelTransfer, A.4.1.1/A.4.1.7 queued transfers): the
//! ACS queues them, the agent moves the files over HTTP, and reports each with exactly one
//! TransferComplete and one `M Download` / `M Upload` after `7 TRANSFER COMPLETE`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::config::FileConfig;
use schemas::rpc::types::*;
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use tokio::sync::Notify;

use crate::support::acs::{HttpRequest, HttpResponse, ScriptedAcs};
use crate::support::{Running, agent_config, validate};

const FIRMWARE: &[u8] = b"\x7fELF pretend firmware image, 48 bytes long....";

#[derive(Default)]
struct Log {
    plan: VecDeque<Body>,
    answers: Vec<(&'static str, Body)>,
    outstanding: Option<&'static str>,
    transfer_completes: Vec<TransferComplete>,
    events: Vec<String>,
    uploads: Vec<Vec<u8>>,
    downloads: usize,
    sent: Vec<Vec<u8>>,
}

fn reply(id: &str, body: impl Into<Body>) -> HttpResponse {
    HttpResponse::xml(Envelope::new(CwmpNamespace::V1_2, body).with_id(id).write())
}

fn key(text: &str) -> CommandKey {
    text.parse().unwrap()
}

fn plan(base: &str) -> VecDeque<Body> {
    let download = |k: &str, path: &str, size: u32| Download {
        command_key: key(k),
        file_type: "1 Firmware Upgrade Image".into(),
        url: format!("{base}{path}"),
        file_size: size,
        ..Download::default()
    };
    let mut ftp = download("ftp-1", "", 0);
    ftp.url = "ftp://files.example.net/fw.bin".into();
    VecDeque::from([
        download("dl-1", "/files/fw.bin", FIRMWARE.len() as u32).into(),
        download("dl-404", "/files/missing.bin", 0).into(),
        Upload {
            command_key: key("ul-1"),
            file_type: "1 Vendor Configuration File".into(),
            url: format!("{base}/upload/cfg"),
            ..Upload::default()
        }
        .into(),
        ScheduleDownload {
            command_key: key("sd-1"),
            file_type: "1 Firmware Upgrade Image".into(),
            url: format!("{base}/files/fw.bin"),
            time_window_list: vec![TimeWindowStruct {
                window_start: 3600,
                window_end: 7200,
                window_mode: "1 At Any Time".into(),
                user_message: String::new(),
                max_retries: 0,
            }],
            ..ScheduleDownload::default()
        }
        .into(),
        GetAllQueuedTransfers {}.into(),
        CancelTransfer {
            command_key: key("sd-1"),
        }
        .into(),
        CancelTransfer {
            command_key: key("no-such"),
        }
        .into(),
        ftp.into(),
        GetQueuedTransfers {}.into(),
    ])
}

fn script(
    log: Arc<Mutex<Log>>,
    base: Arc<Mutex<String>>,
    progress: Arc<Notify>,
) -> impl FnMut(&HttpRequest) -> HttpResponse {
    move |request| {
        let mut log = log.lock().unwrap();
        if request.start.starts_with("GET /files/fw.bin") {
            log.downloads += 1;
            return HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: FIRMWARE.to_vec(),
                close: false,
            };
        }
        if request.start.starts_with("GET ") {
            return HttpResponse {
                status: 404,
                headers: Vec::new(),
                body: Vec::new(),
                close: false,
            };
        }
        if request.start.starts_with("PUT /upload/cfg") {
            log.uploads.push(request.body.clone());
            return HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
                close: false,
            };
        }
        if !request.body.is_empty() {
            log.sent.push(request.body.clone());
            match Envelope::parse(&request.body).unwrap().body {
                Body::Inform(inform) => {
                    let codes: Vec<String> = inform
                        .event
                        .iter()
                        .map(|e| format!("{}|{}", e.event_code, e.command_key))
                        .collect();
                    if codes.iter().any(|c| c.starts_with("0 BOOTSTRAP")) {
                        log.plan = plan(&base.lock().unwrap());
                    }
                    log.events.extend(codes);
                    return reply("i", InformResponse { max_envelopes: 1 });
                }
                Body::TransferComplete(tc) => {
                    log.transfer_completes.push(tc);
                    progress.notify_one();
                    return reply("tc", TransferCompleteResponse {});
                }
                answer => {
                    if let Some(name) = log.outstanding.take() {
                        log.answers.push((name, answer));
                    }
                }
            }
        }
        match log.plan.pop_front() {
            Some(body) => {
                log.outstanding = Some(body.name());
                reply("acs", body)
            }
            None => HttpResponse::no_content(),
        }
    }
}

fn fault_code(body: &Body) -> Option<FaultCode> {
    match body {
        Body::Fault(f) => f.detail.as_ref().map(|d| d.fault_code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_uploads_are_queued_moved_and_reported_once_each() {
    let log = Arc::new(Mutex::new(Log::default()));
    let base = Arc::new(Mutex::new(String::new()));
    let progress = Arc::new(Notify::new());
    let acs = ScriptedAcs::start(script(log.clone(), base.clone(), progress.clone())).await;
    *base.lock().unwrap() = acs.url.trim_end_matches("/acs").to_owned();
    let state = tempfile::tempdir().unwrap();
    let running = Running::start(agent_config(FileConfig::default(), &acs.url, state.path())).await;
    tokio::time::timeout(Duration::from_secs(30), async {
        while log.lock().unwrap().transfer_completes.len() < 3 {
            progress.notified().await;
        }
    })
    .await
    .expect("three transfers reported");
    running.stop().await;

    let log = log.lock().unwrap();
    let a = &log.answers;
    assert!(matches!(&a[0].1, Body::DownloadResponse(r) if r.status == Status::Pending));
    assert!(matches!(&a[1].1, Body::DownloadResponse(_)));
    assert!(matches!(&a[2].1, Body::UploadResponse(r) if r.status == Status::Pending));
    assert!(matches!(&a[3].1, Body::ScheduleDownloadResponse(_)));
    let Body::GetAllQueuedTransfersResponse(all) = &a[4].1 else {
        panic!("{:?}", a[4])
    };
    assert!(
        all.transfer_list
            .iter()
            .any(|t| t.command_key.as_str() == "sd-1")
    );
    assert!(matches!(&a[5].1, Body::CancelTransferResponse(_)));
    assert_eq!(
        fault_code(&a[6].1),
        Some(FaultCode::InvalidArguments),
        "unknown CommandKey"
    );
    assert_eq!(
        fault_code(&a[7].1),
        Some(FaultCode::UnsupportedTransferProtocol),
        "ftp://"
    );
    let Body::GetQueuedTransfersResponse(queued) = &a[8].1 else {
        panic!("{:?}", a[8])
    };
    assert!(
        queued
            .transfer_list
            .iter()
            .all(|t| t.command_key.as_str() != "sd-1"),
        "cancelled"
    );

    // The files moved.
    assert!(log.downloads >= 1);
    assert_eq!(log.uploads.len(), 1);
    let verdict = cpe::snapshot::verify(&log.uploads[0]);
    assert!(
        !verdict.corrupt,
        "the configuration is exported as the device's snapshot: {verdict:?}"
    );

    // One TransferComplete per transfer, with its CommandKey and outcome.
    let by_key = |k: &str| -> Vec<&TransferComplete> {
        log.transfer_completes
            .iter()
            .filter(|t| t.command_key.as_str() == k)
            .collect()
    };
    assert_eq!(by_key("dl-1").len(), 1);
    assert_eq!(by_key("dl-1")[0].fault_struct.fault(), None);
    assert_eq!(by_key("dl-404").len(), 1);
    assert_eq!(
        by_key("dl-404")[0].fault_struct.fault(),
        Some(FaultCode::FileAccessFailure)
    );
    assert_eq!(by_key("ul-1").len(), 1);
    assert_eq!(by_key("ul-1")[0].fault_struct.fault(), None);
    assert!(
        by_key("sd-1").is_empty(),
        "a cancelled transfer is not reported"
    );
    // 7 TRANSFER COMPLETE announced them, and each M event came exactly once.
    assert!(
        log.events
            .iter()
            .any(|e| e.starts_with("7 TRANSFER COMPLETE"))
    );
    for expected in ["M Download|dl-1", "M Download|dl-404", "M Upload|ul-1"] {
        let count = log.events.iter().filter(|e| *e == expected).count();
        assert_eq!(count, 1, "{expected} in {:?}", log.events);
    }
    validate(&log.sent);
}

/// Seconds since 1970 on the wall clock: the transfer queue's time.
fn unix_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

/// What the ACS of the two tests below saw.
#[derive(Default)]
struct Seen {
    /// Sessions opened.
    sessions: usize,
    /// The session whose Inform carried `M Download dl-1`.
    reported_in: Option<usize>,
    /// CommandKeys of the TransferCompletes.
    transfer_completes: Vec<String>,
    /// File requests.
    gets: usize,
    /// The answer to GetAllQueuedTransfers.
    queued: Option<GetAllQueuedTransfersResponse>,
    /// What the ACS still asks for in this session.
    plan: VecDeque<Body>,
    /// Everything the agent sent.
    sent: Vec<Vec<u8>>,
}

/// An ACS that serves [`FIRMWARE`] at `/files/fw.bin`, answers Informs and TransferCompletes,
/// asks in each session for what `plan(session, seen)` returns, and notifies `done` when a
/// session ends and `finished(seen)` holds.
fn planned_script(
    seen: Arc<Mutex<Seen>>,
    done: Arc<Notify>,
    plan: impl Fn(usize, &Seen) -> Vec<Body> + Send + 'static,
    finished: impl Fn(&Seen) -> bool + Send + 'static,
) -> impl FnMut(&HttpRequest) -> HttpResponse {
    move |request| {
        let mut seen = seen.lock().unwrap();
        if request.start.starts_with("GET /files/fw.bin") {
            seen.gets += 1;
            return HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: FIRMWARE.to_vec(),
                close: false,
            };
        }
        if !request.body.is_empty() {
            seen.sent.push(request.body.clone());
            match Envelope::parse(&request.body).unwrap().body {
                Body::Inform(inform) => {
                    seen.sessions += 1;
                    let reported = inform.event.iter().any(|e| {
                        e.event_code.as_str() == "M Download" && e.command_key.as_str() == "dl-1"
                    });
                    if reported && seen.reported_in.is_none() {
                        seen.reported_in = Some(seen.sessions);
                    }
                    let session = seen.sessions;
                    seen.plan = plan(session, &seen).into();
                    return reply("i", InformResponse { max_envelopes: 1 });
                }
                Body::TransferComplete(complete) => {
                    seen.transfer_completes
                        .push(complete.command_key.as_str().to_owned());
                    return reply("tc", TransferCompleteResponse {});
                }
                Body::GetAllQueuedTransfersResponse(queued) => seen.queued = Some(queued),
                _ => {}
            }
        }
        match seen.plan.pop_front() {
            Some(body) => reply("acs", body),
            None => {
                if finished(&seen) {
                    done.notify_one();
                }
                HttpResponse::no_content()
            }
        }
    }
}

/// A Download of [`FIRMWARE`] from `base`.
fn firmware_download(base: &str, command_key: &str) -> Download {
    Download {
        command_key: key(command_key),
        file_type: "1 Firmware Upgrade Image".into(),
        url: format!("{base}/files/fw.bin"),
        file_size: FIRMWARE.len() as u32,
        ..Download::default()
    }
}

/// A transfer whose TransferComplete is already pending when the agent starts is over: the
/// agent stopped after saving its completion and before saving the queue without it. It is not
/// run again, so it is reported once; run again, it was reported a second time once the first
/// TransferComplete had been delivered (found by `tests/crash.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_whose_completion_was_saved_before_a_stop_is_not_run_again() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(Notify::new());
    let script = planned_script(
        seen.clone(),
        done.clone(),
        |_, _| vec![GetAllQueuedTransfers {}.into()],
        |seen| seen.queued.is_some(),
    );
    let acs = ScriptedAcs::start(script).await;
    let base = acs.url.trim_end_matches("/acs");

    // What a stop between the saves of a finished download leaves: its TransferComplete pending
    // in agent.json, the queue still holding it in progress.
    let state = tempfile::tempdir().unwrap();
    let now = unix_now();
    let mut queue = cpe::transfer::TransferQueue::new();
    queue
        .download(&firmware_download(base, "dl-1"), now)
        .unwrap();
    let Some(cpe::transfer::Due::Start(job)) = queue.poll_due(now) else {
        panic!("the download is due");
    };
    cpe::persist::save(&state.path().join("transfers.json"), &queue).unwrap();
    let complete = TransferComplete {
        command_key: key("dl-1"),
        fault_struct: TransferCompleteFaultStruct::success(),
        start_time: schemas::value::DateTime::from_unix(now, 0).unwrap(),
        complete_time: schemas::value::DateTime::from_unix(now, 0).unwrap(),
    };
    let envelope = Envelope::new(CwmpNamespace::V1_2, Body::from(complete)).write();
    let mut agent = serde_json::to_value(cpe::agent::AgentState::default()).unwrap();
    agent["pending_messages"] = serde_json::json!([{
        "transfer": job.id.value(),
        "envelope": String::from_utf8(envelope).unwrap(),
    }]);
    cpe::persist::save(&state.path().join("agent.json"), &agent).unwrap();

    let running = Running::start(agent_config(FileConfig::default(), &acs.url, state.path())).await;
    tokio::time::timeout(Duration::from_secs(30), done.notified())
        .await
        .expect("a session with GetAllQueuedTransfers");
    running.stop().await;

    let seen = seen.lock().unwrap();
    assert_eq!(seen.transfer_completes, ["dl-1"], "reported once");
    let queued = seen.queued.as_ref().unwrap();
    assert!(queued.transfer_list.is_empty(), "{queued:?}");
    assert_eq!(seen.gets, 0, "the file was not fetched again");
    validate(&seen.sent);
}

/// A transfer that ends while sessions follow each other without a pause (each one asks for a
/// Reboot, after which the next opens at once) is recorded between two of them and reported
/// in the next; it used to wait until the agent had nothing else to do (found by
/// `tests/crash.rs`, where the queue filled up with transfers done but not recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_ending_between_back_to_back_sessions_is_reported_in_the_next_one() {
    /// Sessions that ask for a Reboot, at most.
    const CHAIN: usize = 12;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(Notify::new());
    let base = Arc::new(Mutex::new(String::new()));
    let script = {
        let base = base.clone();
        planned_script(
            seen.clone(),
            done.clone(),
            move |session, seen| {
                let reboot = Reboot {
                    command_key: key(&format!("rb-{session}")),
                };
                match session {
                    1 => vec![
                        firmware_download(&base.lock().unwrap(), "dl-1").into(),
                        reboot.into(),
                    ],
                    _ if session <= CHAIN && seen.reported_in.is_none() => vec![reboot.into()],
                    _ => Vec::new(),
                }
            },
            |seen| seen.reported_in.is_some(),
        )
    };
    let acs = ScriptedAcs::start(script).await;
    *base.lock().unwrap() = acs.url.trim_end_matches("/acs").to_owned();
    let state = tempfile::tempdir().unwrap();
    let running = Running::start(agent_config(FileConfig::default(), &acs.url, state.path())).await;
    tokio::time::timeout(Duration::from_secs(30), done.notified())
        .await
        .expect("M Download reported");
    running.stop().await;

    let seen = seen.lock().unwrap();
    let reported_in = seen.reported_in.unwrap();
    // Session 2 starts the download; it ends during session 2 or, on a slow host, one of the
    // next few.
    assert!(
        reported_in <= 6,
        "M Download came in session {reported_in}, after {CHAIN} back-to-back sessions"
    );
    assert_eq!(seen.transfer_completes, ["dl-1"]);
    assert_eq!(seen.gets, 1);
    validate(&seen.sent);
}
