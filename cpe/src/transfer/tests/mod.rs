//! The executor against real loopback servers (the transport's scripted HTTP/1.1 server, TLS
//! with an rcgen CA, Digest), driven through the queue as the agent drives it. No sleeps:
//! timeouts run on paused tokio time.

mod download;
mod schedule;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use schemas::rpc::types::{TimeWindowStruct, TransferCompleteFaultStruct};
use schemas::rpc::{Download, FaultCode, ScheduleDownload, TransferComplete, Upload};
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use tempfile::TempDir;

use super::{
    Applied, Clock, Completion, Due, Executor, HookError, Job, TransferConfig, TransferFault,
    TransferHooks, TransferQueue,
};
use crate::transport::tests::support;

/// A fixed "now" for the queue and the executor's clock (2023-11-14T22:13:20Z).
pub(crate) const NOW: i64 = 1_700_000_000;

/// Writes every message as a CWMP 1.2 envelope and checks it with `validate-cwmp`. Skips, loudly,
/// only when xmllint is missing outside CI.
pub(crate) fn validate(bodies: &[Body]) {
    if let Some((valid, report)) = run_validator(bodies) {
        assert!(valid, "validate-cwmp refused:\n{report}");
    }
}

/// `validate-cwmp` over the messages written as CWMP 1.2 envelopes: whether all passed, and
/// its report (see [`schemas::testing::check_envelopes`]).
fn run_validator(bodies: &[Body]) -> Option<(bool, String)> {
    let envelopes: Vec<Vec<u8>> = bodies
        .iter()
        .map(|body| {
            Envelope::new(CwmpNamespace::V1_2, body.clone())
                .with_id("x")
                .write()
        })
        .collect();
    schemas::testing::check_envelopes(&envelopes)
}

#[test]
fn the_validator_refuses_codes_transfer_complete_may_not_carry() {
    let bad = TransferComplete {
        fault_struct: TransferCompleteFaultStruct {
            fault_code: 9013,
            fault_string: "Unsupported protocol for file transfer".into(),
        },
        ..TransferComplete::default()
    };
    if let Some((valid, report)) = run_validator(&[bad.into()]) {
        assert!(!valid, "9013 passed validation: {report}");
    }
    // What the transfer code builds for the same failure is valid.
    let mapped = TransferComplete {
        fault_struct: TransferFault::new(FaultCode::UnsupportedTransferProtocol, "ftp")
            .fault_struct(),
        ..TransferComplete::default()
    };
    validate(&[mapped.into()]);
}

/// A clock the test sets.
#[derive(Debug)]
pub(crate) struct TestClock(AtomicI64);

impl TestClock {
    pub(crate) fn at(now: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now)))
    }

    pub(crate) fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One hook call: which hook, the argument, and the file's bytes at call time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HookCall {
    pub(crate) hook: &'static str,
    pub(crate) path: Option<PathBuf>,
    pub(crate) instance: Option<u32>,
    pub(crate) contents: Vec<u8>,
}

/// Hooks that record their calls and answer what the test set.
#[derive(Debug)]
pub(crate) struct FakeHooks {
    pub(crate) calls: Mutex<Vec<HookCall>>,
    pub(crate) apply: Mutex<Result<Applied, HookError>>,
    pub(crate) export: Mutex<Result<Vec<u8>, HookError>>,
}

impl Default for FakeHooks {
    fn default() -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            apply: Mutex::new(Ok(Applied::Done)),
            export: Mutex::new(Ok(b"<config/>".to_vec())),
        }
    }
}

impl FakeHooks {
    pub(crate) fn calls(&self) -> Vec<HookCall> {
        self.calls.lock().unwrap().clone()
    }

    fn applied(&self, hook: &'static str, path: &Path) -> Result<Applied, HookError> {
        self.calls.lock().unwrap().push(HookCall {
            hook,
            path: Some(path.to_owned()),
            instance: None,
            contents: std::fs::read(path).unwrap(),
        });
        self.apply.lock().unwrap().clone()
    }

    fn exported(&self, hook: &'static str, instance: Option<u32>) -> Result<Vec<u8>, HookError> {
        let result = self.export.lock().unwrap().clone();
        self.calls.lock().unwrap().push(HookCall {
            hook,
            path: None,
            instance,
            contents: result.clone().unwrap_or_default(),
        });
        result
    }
}

impl TransferHooks for FakeHooks {
    async fn firmware_apply(&self, path: &Path) -> Result<Applied, HookError> {
        self.applied("firmware_apply", path)
    }

    async fn config_apply(&self, path: &Path) -> Result<Applied, HookError> {
        self.applied("config_apply", path)
    }

    async fn config_export(&self, instance: Option<u32>) -> Result<Vec<u8>, HookError> {
        self.exported("config_export", instance)
    }

    async fn log_export(&self, instance: Option<u32>) -> Result<Vec<u8>, HookError> {
        self.exported("log_export", instance)
    }
}

/// A queue, an executor with fake hooks and a test clock, and its directories.
pub(crate) struct Harness {
    pub(crate) queue: TransferQueue,
    pub(crate) executor: Executor<FakeHooks>,
    pub(crate) clock: Arc<TestClock>,
    pub(crate) dir: TempDir,
    /// Every completion produced, for schema validation.
    pub(crate) completions: Vec<Completion>,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with(support::config(), |_| {})
    }

    /// With a transport configuration and changes to the transfer configuration.
    pub(crate) fn with(
        transport: crate::transport::TransportConfig,
        configure: impl FnOnce(&mut TransferConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TransferConfig::new(dir.path().join("tmp"), dir.path().join("files"));
        configure(&mut config);
        let clock = TestClock::at(NOW);
        let executor = Executor::new(support::client(transport), config, FakeHooks::default())
            .with_clock(clock.clone());
        Self {
            queue: TransferQueue::new(),
            executor,
            clock,
            dir,
            completions: Vec::new(),
        }
    }

    pub(crate) fn hooks(&self) -> &FakeHooks {
        self.executor.hooks()
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    pub(crate) fn store_dir(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    /// Takes the job due at `now`, or panics.
    pub(crate) fn start(&mut self, now: i64) -> Job {
        match self.queue.poll_due(now) {
            Some(Due::Start(job)) => job,
            other => panic!("expected a job to start at {now}, got {other:?}"),
        }
    }

    /// Runs the job due at the clock's time to its completion.
    pub(crate) async fn run_due(&mut self) -> Completion {
        let now = self.clock.now();
        let job = self.start(now);
        let outcome = self.executor.run(&job).await;
        let completion = self
            .queue
            .finish(outcome, self.clock.now())
            .expect("a completion");
        self.completions.push(completion.clone());
        completion
    }

    /// Queues `request` at the clock's time and runs it to its completion.
    pub(crate) async fn download(&mut self, request: Download) -> Completion {
        self.queue.download(&request, self.clock.now()).unwrap();
        self.run_due().await
    }

    /// Queues `request` at the clock's time and runs it to its completion.
    pub(crate) async fn upload(&mut self, request: Upload) -> Completion {
        self.queue.upload(&request, self.clock.now()).unwrap();
        self.run_due().await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let bodies: Vec<Body> = self.completions.iter().map(Completion::body).collect();
            if !bodies.is_empty() {
                validate(&bodies);
            }
        }
    }
}

/// A Download of `file_type` from `url`.
pub(crate) fn download(key: &str, file_type: &str, url: &str) -> Download {
    Download {
        command_key: key.parse().unwrap(),
        file_type: file_type.into(),
        url: url.into(),
        ..Download::default()
    }
}

/// An Upload of `file_type` to `url`.
pub(crate) fn upload(key: &str, file_type: &str, url: &str) -> Upload {
    Upload {
        command_key: key.parse().unwrap(),
        file_type: file_type.into(),
        url: url.into(),
        ..Upload::default()
    }
}

/// A ScheduleDownload of a firmware image with `windows` (start, end, max retries).
pub(crate) fn schedule(key: &str, url: &str, windows: &[(u32, u32, i32)]) -> ScheduleDownload {
    ScheduleDownload {
        command_key: key.parse().unwrap(),
        file_type: "1 Firmware Upgrade Image".into(),
        url: url.into(),
        time_window_list: windows
            .iter()
            .map(|&(start, end, retries)| TimeWindowStruct {
                window_start: start,
                window_end: end,
                window_mode: "1 At Any Time".into(),
                user_message: String::new(),
                max_retries: retries,
            })
            .collect(),
        ..ScheduleDownload::default()
    }
}

/// The TransferComplete of a completion.
pub(crate) fn transfer_complete(completion: &Completion) -> &TransferComplete {
    match &completion.message {
        super::CompletionMessage::TransferComplete(message) => message,
        other => panic!("expected TransferComplete, got {other:?}"),
    }
}
