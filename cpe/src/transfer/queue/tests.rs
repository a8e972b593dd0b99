//! The queue without I/O: validation faults, limits, listings, cancellation, DelaySeconds and
//! time windows on injected time, retries, recovery and persistence.

use schemas::rpc::types::{EventStruct, TransferState};
use schemas::rpc::{CancelTransfer, EventCode, FaultCode};
use schemas::value::DateTime;
use schemas::{Body, Envelope};

use super::*;
use crate::transfer::tests::{NOW, download, schedule, transfer_complete, upload, validate};

const URL: &str = "http://files.example.com/fw.bin";

fn started(queue: &mut TransferQueue, now: i64) -> Job {
    match queue.poll_due(now) {
        Some(Due::Start(job)) => job,
        other => panic!("expected a start at {now}, got {other:?}"),
    }
}

fn success(job: &Job, end: i64) -> Outcome {
    Outcome {
        id: job.id,
        start_time: job.started_at,
        complete_time: end,
        result: Ok(Delivered::default()),
    }
}

fn failure(job: &Job, end: i64, code: FaultCode) -> Outcome {
    Outcome::failed(
        job.id,
        job.started_at,
        end,
        TransferFault::new(code, "test"),
    )
}

fn fault_code(error: RequestError) -> u32 {
    schemas::rpc::Fault::from(error).fault_code.code()
}

#[test]
fn download_is_accepted_with_status_1_and_unknown_times() {
    let mut queue = TransferQueue::new();
    let response = queue
        .download(&download("k1", "1 Firmware Upgrade Image", URL), NOW)
        .unwrap();
    assert_eq!(response.status, Status::Pending);
    assert!(response.start_time.is_unknown());
    assert!(response.complete_time.is_unknown());
    assert_eq!(queue.len(), 1);
    validate(&[Body::from(response)]);
}

#[test]
fn request_arguments_are_checked() {
    let mut queue = TransferQueue::new();
    let refused = |queue: &mut TransferQueue, file_type: &str, url: &str| {
        fault_code(
            queue
                .download(&download("k", file_type, url), NOW)
                .unwrap_err(),
        )
    };
    let fw = "1 Firmware Upgrade Image";
    assert_eq!(refused(&mut queue, fw, "ftp://files.example.com/fw"), 9013);
    assert_eq!(refused(&mut queue, fw, "TFTP://files/fw"), 9013);
    assert_eq!(refused(&mut queue, fw, ""), 9003);
    assert_eq!(refused(&mut queue, fw, "   "), 9003);
    assert_eq!(refused(&mut queue, fw, "files.example.com/fw"), 9003);
    assert_eq!(refused(&mut queue, fw, "http://user:pw@files/fw"), 9003);
    assert_eq!(refused(&mut queue, fw, "http://files:0/fw"), 9003);
    assert_eq!(refused(&mut queue, "6 Stored Firmware Image", URL), 9003);
    assert_eq!(refused(&mut queue, "", URL), 9003);
    let upload_refused = fault_code(
        queue
            .upload(&upload("k", "5 Vendor Dump", URL), NOW)
            .unwrap_err(),
    );
    assert_eq!(upload_refused, 9003);
    let ftp_upload = queue
        .upload(
            &upload("k", "1 Vendor Configuration File", "ftp://h/x"),
            NOW,
        )
        .unwrap_err();
    assert_eq!(fault_code(ftp_upload), 9013);
    assert!(queue.is_empty());
}

#[test]
fn target_file_name_must_be_plain_only_for_stored_files() {
    let mut queue = TransferQueue::new();
    for bad in ["../etc/passwd", "a/b", "..", "x\ny", "c:\\boot.ini"] {
        let request = Download {
            target_file_name: bad.into(),
            ..download("k", "2 Web Content", URL)
        };
        let error = queue.download(&request, NOW).unwrap_err();
        assert!(
            matches!(error, RequestError::InvalidTargetFileName(_)),
            "{bad:?}: {error:?}"
        );
    }
    // A firmware image goes to the hook; its TargetFileName is not used as a path.
    let firmware = Download {
        target_file_name: "/tmp/fw.bin".into(),
        ..download("k", "1 Firmware Upgrade Image", URL)
    };
    queue.download(&firmware, NOW).unwrap();
    let tone = Download {
        target_file_name: "ring tone.wav".into(),
        ..download("k", "4 Tone File", URL)
    };
    queue.download(&tone, NOW).unwrap();
}

#[test]
fn overlong_command_key_from_the_wire_is_refused() {
    let key = "k".repeat(40);
    let xml = format!(
        r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"
            xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap-env:Body><cwmp:Download>
            <CommandKey>{key}</CommandKey><FileType>1 Firmware Upgrade Image</FileType>
            <URL>{URL}</URL><Username/><Password/><FileSize>0</FileSize>
            <TargetFileName/><DelaySeconds>0</DelaySeconds><SuccessURL/><FailureURL/>
            </cwmp:Download></soap-env:Body></soap-env:Envelope>"#
    );
    let Body::Download(request) = Envelope::parse(xml.as_bytes()).unwrap().body else {
        panic!("not a Download");
    };
    let error = TransferQueue::new().download(&request, NOW).unwrap_err();
    assert_eq!(error, RequestError::CommandKeyTooLong { len: 40 });
    assert_eq!(fault_code(error), 9003);
}

#[test]
fn seventeenth_transfer_is_refused_with_9004() {
    let mut queue = TransferQueue::new();
    for i in 0..MAX_QUEUED {
        if i % 2 == 0 {
            queue
                .download(
                    &download(&format!("d{i}"), "1 Firmware Upgrade Image", URL),
                    NOW,
                )
                .unwrap();
        } else {
            queue
                .upload(&upload(&format!("u{i}"), "2 Vendor Log File", URL), NOW)
                .unwrap();
        }
    }
    let error = queue
        .download(&download("one-more", "1 Firmware Upgrade Image", URL), NOW)
        .unwrap_err();
    assert_eq!(error, RequestError::QueueFull);
    assert_eq!(fault_code(error), 9004);
    let error = queue
        .schedule_download(&schedule("s", URL, &[(0, 60, 0)]), NOW)
        .unwrap_err();
    assert_eq!(fault_code(error), 9004);
    assert_eq!(queue.len(), 16);
    // Room again once one is cancelled.
    queue
        .cancel(&CancelTransfer {
            command_key: "d0".parse().unwrap(),
        })
        .unwrap();
    queue
        .download(&download("one-more", "1 Firmware Upgrade Image", URL), NOW)
        .unwrap();
}

#[test]
fn cancel_removes_pending_and_refuses_started_transfers() {
    let mut queue = TransferQueue::new();
    let fw = "1 Firmware Upgrade Image";
    queue.download(&download("a", fw, URL), NOW).unwrap();
    queue
        .download(
            &Download {
                delay_seconds: 600,
                ..download("b", fw, URL)
            },
            NOW,
        )
        .unwrap();
    queue
        .download(
            &Download {
                delay_seconds: 900,
                ..download("b", fw, URL)
            },
            NOW,
        )
        .unwrap();
    let cancel = |key: &str| CancelTransfer {
        command_key: key.parse().unwrap(),
    };

    // Both pending "b" transfers go; no completion will ever be produced for them.
    queue.cancel(&cancel("b")).unwrap();
    assert_eq!(queue.len(), 1);

    let error = queue.cancel(&cancel("nope")).unwrap_err();
    assert_eq!(fault_code(error), 9003);

    let job = started(&mut queue, NOW);
    assert_eq!(job.command_key.as_str(), "a");
    let error = queue.cancel(&cancel("a")).unwrap_err();
    assert_eq!(error, RequestError::CancelNotPermitted("a".into()));
    assert_eq!(fault_code(error), 9021);
    assert_eq!(queue.len(), 1, "a refused cancel changes nothing");
    assert!(queue.finish(success(&job, NOW + 5), NOW + 5).is_some());
    assert!(queue.is_empty());
}

#[test]
fn listings_show_states_file_types_and_origins() {
    let mut queue = TransferQueue::new();
    queue
        .download(
            &Download {
                file_size: 1234,
                target_file_name: "page.html".into(),
                ..download("web", "2 Web Content", URL)
            },
            NOW,
        )
        .unwrap();
    queue
        .upload(&upload("log", "4 Vendor Log File 2", URL), NOW + 1)
        .unwrap();
    queue
        .download(&download("fw", "1 Firmware Upgrade Image", URL), NOW + 2)
        .unwrap();
    queue
        .autonomous_download(
            AutonomousDownload {
                file_type: DownloadFileType::RingerFile,
                url: URL.parse().unwrap(),
                credentials: None,
                file_size: 0,
                target_file_name: "ring.wav".into(),
                delay_seconds: 3600,
            },
            NOW,
        )
        .unwrap();

    let web = started(&mut queue, NOW + 10);
    let log = started(&mut queue, NOW + 10);
    assert_eq!(log.command_key.as_str(), "log");
    assert!(queue.mark_completed(web.id));
    assert!(!queue.mark_completed(web.id), "already completed");

    let all = queue.all_queued_transfers();
    let rows: Vec<_> = all
        .transfer_list
        .iter()
        .map(|t| {
            (
                t.command_key.as_str(),
                t.state,
                t.is_download,
                t.file_type.as_str(),
                t.file_size,
                t.target_file_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "web",
                TransferState::Completed,
                true,
                "2 Web Content",
                1234,
                "page.html"
            ),
            (
                "log",
                TransferState::InProgress,
                false,
                "7 Vendor Log File 2",
                0,
                ""
            ),
            (
                "fw",
                TransferState::NotYetStarted,
                true,
                "1 Firmware Upgrade Image",
                0,
                ""
            ),
            (
                "",
                TransferState::NotYetStarted,
                true,
                "5 Ringer File",
                0,
                "ring.wav"
            ),
        ]
    );
    // GetQueuedTransfers lists only what the ACS asked for.
    let acs: Vec<_> = queue
        .queued_transfers()
        .transfer_list
        .iter()
        .map(|t| (t.command_key.as_str().to_owned(), t.state))
        .collect();
    assert_eq!(
        acs,
        [
            ("web".to_owned(), TransferState::Completed),
            ("log".to_owned(), TransferState::InProgress),
            ("fw".to_owned(), TransferState::NotYetStarted),
        ]
    );
    assert_eq!(queue.in_progress(), 2);
    validate(&[
        queue.all_queued_transfers().into(),
        queue.queued_transfers().into(),
    ]);
}

#[test]
fn delay_seconds_are_honoured() {
    let mut queue = TransferQueue::new();
    assert_eq!(queue.poll_timeout(), None);
    queue
        .download(
            &Download {
                delay_seconds: 30,
                ..download("late", "1 Firmware Upgrade Image", URL)
            },
            NOW,
        )
        .unwrap();
    queue
        .upload(
            &Upload {
                delay_seconds: 10,
                ..upload("early", "1 Vendor Configuration File", URL)
            },
            NOW,
        )
        .unwrap();
    assert_eq!(queue.poll_timeout(), Some(NOW + 10));
    assert!(queue.poll_due(NOW + 9).is_none());
    let first = started(&mut queue, NOW + 10);
    assert_eq!(first.command_key.as_str(), "early");
    assert_eq!(first.started_at, NOW + 10);
    assert_eq!(first.deadline, None);
    assert_eq!(queue.poll_timeout(), Some(NOW + 30));
    assert!(queue.poll_due(NOW + 29).is_none());
    let second = started(&mut queue, NOW + 31);
    assert_eq!(second.command_key.as_str(), "late");
    assert_eq!(queue.poll_timeout(), None, "nothing waits while both run");
    assert!(queue.poll_due(NOW + 1000).is_none());
}

#[test]
fn credentials_travel_with_the_job_but_not_into_debug_output() {
    let mut queue = TransferQueue::new();
    let request = Download {
        username: "fileuser".into(),
        password: "hunter2".into(),
        ..download("k", "1 Firmware Upgrade Image", URL)
    };
    queue.download(&request, NOW).unwrap();
    assert!(!format!("{queue:?}").contains("hunter2"));
    let job = started(&mut queue, NOW);
    let credentials = job.credentials.unwrap();
    assert_eq!(
        (credentials.username.as_str(), credentials.password.as_str()),
        ("fileuser", "hunter2")
    );
}

#[test]
fn time_windows_are_validated() {
    let mut queue = TransferQueue::new();
    let mut refused = |windows: &[(u32, u32, i32)]| {
        fault_code(
            queue
                .schedule_download(&schedule("s", URL, windows), NOW)
                .unwrap_err(),
        )
    };
    assert_eq!(refused(&[]), 9003);
    assert_eq!(refused(&[(100, 50, 0)]), 9003);
    assert_eq!(refused(&[(0, 100, 0), (50, 200, 0)]), 9003);
    assert_eq!(refused(&[(200, 300, 0), (0, 100, 0)]), 9003);
    assert_eq!(refused(&[(0, 100, -2)]), 9003);
    let mut confirm = schedule("s", URL, &[(0, 100, 0)]);
    confirm.time_window_list[0].window_mode = "4 Confirmation Needed".into();
    let error = queue.schedule_download(&confirm, NOW).unwrap_err();
    assert!(matches!(error, RequestError::UnsupportedWindowMode(_)));
    assert!(queue.is_empty());
    // Adjacent windows and a zero-length window are fine.
    queue
        .schedule_download(&schedule("s", URL, &[(0, 100, 0), (100, 100, -1)]), NOW)
        .unwrap();
}

#[test]
fn scheduled_download_starts_inside_its_window_with_the_window_end_as_deadline() {
    let mut queue = TransferQueue::new();
    let response = queue
        .schedule_download(&schedule("s", URL, &[(100, 200, 0)]), NOW)
        .unwrap();
    validate(&[response.into()]);
    assert_eq!(queue.poll_timeout(), Some(NOW + 100));
    assert!(queue.poll_due(NOW + 99).is_none());
    let job = started(&mut queue, NOW + 150);
    assert_eq!(job.deadline, Some(NOW + 200));
    let completion = queue.finish(success(&job, NOW + 160), NOW + 160).unwrap();
    let message = transfer_complete(&completion);
    assert_eq!(message.command_key.as_str(), "s");
    assert_eq!(
        message.start_time,
        DateTime::from_unix(NOW + 150, 0).unwrap()
    );
    assert_eq!(
        completion.events(),
        [
            EventStruct::new(EventCode::TransferComplete),
            EventStruct {
                event_code: EventCode::Method("ScheduleDownload".into()),
                command_key: "s".parse().unwrap(),
            },
        ]
    );
    validate(&[completion.body()]);
}

#[test]
fn a_window_that_passed_unused_completes_with_9020() {
    let mut queue = TransferQueue::new();
    queue
        .schedule_download(&schedule("late", URL, &[(10, 20, 3), (30, 40, 0)]), NOW)
        .unwrap();
    // The agent was down through both windows (or busy with another transfer).
    let Some(Due::Missed(completion)) = queue.poll_due(NOW + 41) else {
        panic!("expected the missed transfer");
    };
    let message = transfer_complete(&completion);
    assert_eq!(message.fault_struct.fault_code, 9020);
    assert_eq!(
        message.fault_struct.fault(),
        Some(FaultCode::TimeWindowMissed)
    );
    assert!(message.start_time.is_unknown(), "it never started");
    assert_eq!(
        message.complete_time,
        DateTime::from_unix(NOW + 41, 0).unwrap()
    );
    assert!(queue.is_empty());
    validate(&[completion.body()]);
}

#[test]
fn a_passed_first_window_moves_to_the_second() {
    let mut queue = TransferQueue::new();
    queue
        .schedule_download(&schedule("s", URL, &[(10, 20, 0), (100, 200, 0)]), NOW)
        .unwrap();
    assert!(queue.poll_due(NOW + 50).is_none());
    assert_eq!(queue.poll_timeout(), Some(NOW + 100));
    assert_eq!(queue.get(TransferId(0)).unwrap().windows().len(), 1);
    let job = started(&mut queue, NOW + 100);
    assert_eq!(job.deadline, Some(NOW + 200));
}

#[test]
fn failed_attempts_are_retried_within_and_across_windows() {
    let mut queue = TransferQueue::new();
    queue
        .schedule_download(&schedule("s", URL, &[(0, 1000, 1), (5000, 6000, 0)]), NOW)
        .unwrap();
    // Window 1: the first attempt and its one retry, WINDOW_RETRY_DELAY apart.
    let job = started(&mut queue, NOW);
    assert!(
        queue
            .finish(
                failure(&job, NOW + 5, FaultCode::FileServerUnreachable),
                NOW + 5
            )
            .is_none()
    );
    assert_eq!(queue.poll_timeout(), Some(NOW + 5 + WINDOW_RETRY_DELAY));
    assert!(queue.poll_due(NOW + 6).is_none());
    let job = started(&mut queue, NOW + 5 + WINDOW_RETRY_DELAY);
    assert!(
        queue
            .finish(
                failure(&job, NOW + 70, FaultCode::FileServerUnreachable),
                NOW + 70
            )
            .is_none()
    );
    // Window 1 is used up: wait for window 2.
    assert_eq!(queue.poll_timeout(), Some(NOW + 5000));
    let job = started(&mut queue, NOW + 5000);
    assert_eq!(queue.get(job.id).unwrap().attempts(), 3);
    let completion = queue
        .finish(
            failure(&job, NOW + 5001, FaultCode::FileAccessFailure),
            NOW + 5001,
        )
        .unwrap();
    // The last real failure is reported, not 9020.
    assert_eq!(completion.fault(), Some(FaultCode::FileAccessFailure));
    assert!(queue.is_empty());
    validate(&[completion.body()]);
}

#[test]
fn a_retry_beyond_the_window_end_falls_to_the_next_window_or_fails() {
    let mut queue = TransferQueue::new();
    queue
        .schedule_download(&schedule("s", URL, &[(0, 30, 5)]), NOW)
        .unwrap();
    let job = started(&mut queue, NOW);
    let completion = queue
        .finish(
            failure(&job, NOW + 1, FaultCode::IncompleteDownload),
            NOW + 1,
        )
        .expect("the retry would start after the only window");
    assert_eq!(completion.fault(), Some(FaultCode::IncompleteDownload));
}

#[test]
fn finished_download_reports_transfer_complete_and_events() {
    let mut queue = TransferQueue::new();
    queue
        .download(&download("fw-42", "1 Firmware Upgrade Image", URL), NOW)
        .unwrap();
    let job = started(&mut queue, NOW + 1);
    let outcome = Outcome {
        result: Ok(Delivered {
            bytes: 10,
            reboot_required: true,
            stored_at: None,
        }),
        ..success(&job, NOW + 20)
    };
    let completion = queue.finish(outcome, NOW + 20).unwrap();
    assert!(completion.reboot_required);
    assert_eq!(completion.origin, Origin::Download);
    assert_eq!(completion.fault(), None);
    let message = transfer_complete(&completion);
    assert_eq!(message.command_key.as_str(), "fw-42");
    assert_eq!(message.fault_struct.fault_code, 0);
    assert_eq!(message.fault_struct.fault_string, "");
    assert_eq!(message.start_time.to_string(), "2023-11-14T22:13:21Z");
    assert_eq!(message.complete_time.to_string(), "2023-11-14T22:13:40Z");
    assert_eq!(
        completion.events(),
        [
            EventStruct::new(EventCode::TransferComplete),
            EventStruct {
                event_code: EventCode::Method("Download".into()),
                command_key: "fw-42".parse().unwrap(),
            },
        ]
    );
    // A stale or repeated outcome is ignored.
    assert!(queue.finish(success(&job, NOW + 21), NOW + 21).is_none());
    validate(&[completion.body()]);
}

#[test]
fn failed_upload_reports_its_fault_and_m_upload() {
    let mut queue = TransferQueue::new();
    queue
        .upload(&upload("up", "2 Vendor Log File", URL), NOW)
        .unwrap();
    let job = started(&mut queue, NOW);
    let completion = queue
        .finish(failure(&job, NOW + 3, FaultCode::UploadFailure), NOW + 3)
        .unwrap();
    let message = transfer_complete(&completion);
    assert_eq!(message.fault_struct.fault_code, 9011);
    assert_eq!(message.fault_struct.fault_string, "Upload failure: test");
    assert_eq!(
        completion.events()[1].event_code,
        EventCode::Method("Upload".into())
    );
    validate(&[completion.body()]);
}

#[test]
fn autonomous_download_reports_autonomous_transfer_complete() {
    let mut queue = TransferQueue::new();
    let id = queue
        .autonomous_download(
            AutonomousDownload {
                file_type: DownloadFileType::ToneFile,
                url: URL.parse().unwrap(),
                credentials: None,
                file_size: 77,
                target_file_name: "tone.wav".into(),
                delay_seconds: 0,
            },
            NOW,
        )
        .unwrap();
    // Not the ACS's: CancelTransfer with its (empty) CommandKey does not touch it.
    assert!(
        queue
            .cancel(&CancelTransfer {
                command_key: CommandKey::default(),
            })
            .is_err()
    );
    let job = started(&mut queue, NOW);
    assert_eq!(job.id, id);
    let completion = queue.finish(success(&job, NOW + 2), NOW + 2).unwrap();
    assert_eq!(
        completion.events(),
        [EventStruct::new(EventCode::AutonomousTransferComplete)]
    );
    let CompletionMessage::AutonomousTransferComplete(message) = &completion.message else {
        panic!("expected AutonomousTransferComplete");
    };
    assert_eq!(message.transfer_url, URL);
    assert_eq!(message.file_type, "4 Tone File");
    assert_eq!(message.file_size, 77);
    assert!(message.is_download);
    validate(&[completion.body()]);
}

#[test]
fn recover_restarts_interrupted_transfers_and_reports_applied_ones() {
    let mut queue = TransferQueue::new();
    let fw = "1 Firmware Upgrade Image";
    queue.download(&download("applied", fw, URL), NOW).unwrap();
    queue.download(&download("cut", fw, URL), NOW).unwrap();
    queue
        .download(&download("waiting", fw, URL), NOW + 1)
        .unwrap();
    let applied = started(&mut queue, NOW);
    let cut = started(&mut queue, NOW);
    assert_eq!(cut.command_key.as_str(), "cut");
    queue.mark_completed(applied.id);

    // Power cut; the agent reloads the persisted queue.
    let mut queue: TransferQueue =
        serde_json::from_str(&serde_json::to_string(&queue).unwrap()).unwrap();
    let completions = queue.recover(NOW + 300);
    assert_eq!(completions.len(), 1);
    let message = transfer_complete(&completions[0]);
    assert_eq!(message.command_key.as_str(), "applied");
    assert_eq!(message.fault_struct.fault_code, 0);
    assert_eq!(message.start_time, DateTime::from_unix(NOW, 0).unwrap());
    let states: Vec<_> = queue.iter().map(|e| e.state()).collect();
    assert_eq!(
        states,
        [EntryState::NotYetStarted, EntryState::NotYetStarted]
    );
    let again = started(&mut queue, NOW + 300);
    assert_eq!(again.command_key.as_str(), "cut");
    assert_eq!(queue.get(again.id).unwrap().attempts(), 2);
    validate(&[completions[0].body()]);
}

#[test]
fn persistence_round_trips_every_kind_of_entry() {
    let mut queue = TransferQueue::new();
    queue
        .download(
            &Download {
                username: "u".into(),
                password: "p".into(),
                file_size: 99,
                target_file_name: "x.bin".into(),
                delay_seconds: 5,
                ..download("d", "X 00D09E Bootloader", "https://[::1]:8443/f?x=1")
            },
            NOW,
        )
        .unwrap();
    queue
        .schedule_download(&schedule("s", URL, &[(0, 100, -1), (200, 300, 4)]), NOW)
        .unwrap();
    queue
        .upload(&upload("u", "3 Vendor Configuration File 2", URL), NOW)
        .unwrap();
    let job = started(&mut queue, NOW);
    assert_eq!(job.command_key.as_str(), "s");
    assert!(
        queue
            .finish(
                failure(&job, NOW + 1, FaultCode::FileAccessFailure),
                NOW + 1
            )
            .is_none()
    );
    let upload = started(&mut queue, NOW + 1);
    assert_eq!(upload.command_key.as_str(), "u");

    let json = serde_json::to_string_pretty(&queue).unwrap();
    assert!(json.contains("\"X 00D09E Bootloader\""), "{json}");
    assert!(json.contains("\"https://[::1]:8443/f?x=1\""), "{json}");
    let loaded: TransferQueue = serde_json::from_str(&json).unwrap();
    assert_eq!(loaded, queue);
    assert_eq!(loaded.all_queued_transfers(), queue.all_queued_transfers());
    // Ids keep counting after a reload.
    let mut loaded = loaded;
    let id = loaded
        .autonomous_download(
            AutonomousDownload {
                file_type: DownloadFileType::WebContent,
                url: URL.parse().unwrap(),
                credentials: None,
                file_size: 0,
                target_file_name: String::new(),
                delay_seconds: 0,
            },
            NOW,
        )
        .unwrap();
    assert_eq!(id.value(), 3);
}

#[test]
fn damaged_persisted_queues_are_refused() {
    let mut queue = TransferQueue::new();
    queue
        .download(&download("a", "1 Firmware Upgrade Image", URL), NOW)
        .unwrap();
    let good: serde_json::Value = serde_json::to_value(&queue).unwrap();

    let mut too_many = good.clone();
    let entry = too_many["entries"][0].clone();
    too_many["entries"] = serde_json::Value::Array(vec![entry; 17]);
    too_many["next_id"] = 100.into();
    let error = serde_json::from_value::<TransferQueue>(too_many).unwrap_err();
    assert!(error.to_string().contains("more than 16"), "{error}");

    let mut duplicate = good.clone();
    let entry = duplicate["entries"][0].clone();
    duplicate["entries"] = serde_json::Value::Array(vec![entry.clone(), entry]);
    assert!(serde_json::from_value::<TransferQueue>(duplicate).is_err());

    let mut stale_next = good.clone();
    stale_next["next_id"] = 0.into();
    assert!(serde_json::from_value::<TransferQueue>(stale_next).is_err());

    let mut bad_type = good.clone();
    bad_type["entries"][0]["payload"]["Download"]["file_type"] = "9 Mystery".into();
    assert!(serde_json::from_value::<TransferQueue>(bad_type).is_err());

    let mut bad_url = good.clone();
    bad_url["entries"][0]["url"] = "ftp://x/y".into();
    assert!(serde_json::from_value::<TransferQueue>(bad_url).is_err());

    let mut long_key = good;
    long_key["entries"][0]["command_key"] = "k".repeat(33).into();
    assert!(serde_json::from_value::<TransferQueue>(long_key).is_err());
}
