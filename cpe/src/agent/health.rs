//! What the agent records about itself for `cpe status` and `cpe stop`, and the components
//! it reports from it ([`crate::health`]): the agent, CWMP, the Connection Request server
//! (TR-069 §3.2.2), the cloud tunnel, file transfers (Amd 6 A.3.2.8) and DHCP intake (§3.1).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use schemas::rpc::types::EventStruct;

use super::{Core, rfc3339, unix_seconds};
use crate::control::Response;
use crate::health::Component;
use crate::transfer::{
    DEFAULT_HOOK_TIMEOUT, DEFAULT_MAX_TRANSFER_TIME, EntryState, QueuedTransfer, TransferQueue,
};

/// The agent's record of what runs and what happened, kept in memory (a restart starts it over).
#[derive(Debug)]
pub(super) struct Activity {
    /// When the agent started.
    started: SystemTime,
    /// The CWMP session in progress.
    pub(super) session: Option<SessionInfo>,
    /// Where the Connection Request server listens (`address` and path); `None` once it
    /// stopped.
    connreq: Option<String>,
    /// The last DHCP intake: when, and why it was refused if it was.
    dhcp: Option<(SystemTime, Result<(), String>)>,
    /// The address the last session's connection reached: the ACS's, or the proxy's when one
    /// was used (the family happy eyeballs chose, [`crate::dial`]).
    pub(super) peer: Option<SocketAddr>,
}

/// A CWMP session in progress.
#[derive(Debug)]
pub(super) struct SessionInfo {
    /// Its number among the agent's sessions (the log's `session` field).
    pub(super) number: u64,
    /// The ACS URL it opened.
    pub(super) url: String,
    /// When it opened.
    pub(super) since: SystemTime,
    /// The event codes of its Inform.
    pub(super) events: Vec<String>,
}

impl SessionInfo {
    /// `CWMP session 7 with https://acs:7547/ in progress since 2024-...Z (events 1 BOOT, ...)`.
    pub(super) fn describe(&self) -> String {
        format!(
            "CWMP session {} with {} in progress since {} (events {})",
            self.number,
            self.url,
            rfc3339(self.since),
            self.events.join(", ")
        )
    }
}

impl Activity {
    /// The record of an agent starting now.
    pub(super) fn new() -> Self {
        Self {
            started: SystemTime::now(),
            session: None,
            connreq: None,
            dhcp: None,
            peer: None,
        }
    }

    /// A session opened with these Inform events.
    pub(super) fn session_opened(&mut self, number: u64, url: &str, events: &[EventStruct]) {
        self.session = Some(SessionInfo {
            number,
            url: url.to_owned(),
            since: SystemTime::now(),
            events: events.iter().map(|e| e.event_code.to_string()).collect(),
        });
    }

    /// The Connection Request server listens at `address` (`None`: it stopped).
    pub(super) fn connreq(&mut self, address: Option<String>) {
        self.connreq = address;
    }

    /// A DHCP intake was applied, or refused and why.
    pub(super) fn dhcp<T, E: ToString>(&mut self, result: &Result<T, E>) {
        let outcome = result.as_ref().map(|_| ()).map_err(ToString::to_string);
        self.dhcp = Some((SystemTime::now(), outcome));
    }
}

impl Core {
    /// Every component but the cloud tunnel's (which the tunnel's side reports), in the
    /// order of [`crate::health::COMPONENTS`] without it.
    pub(super) fn components(&self) -> [Component; 5] {
        [
            self.agent_component(),
            self.cwmp_component(),
            self.connreq_component(),
            transfers_component(&self.transfers, unix_seconds()),
            self.dhcp_component(),
        ]
    }

    fn agent_component(&self) -> Component {
        Component::new(
            "agent",
            format!(
                "running since {}, version {}",
                rfc3339(self.activity.started),
                env!("CARGO_PKG_VERSION")
            ),
            true,
        )
    }

    /// Unhealthy without an ACS URL, or when the last session failed.
    fn cwmp_component(&self) -> Component {
        let Some(url) = &self.state.acs_url else {
            return Component::new(
                "cwmp",
                "no ACS URL (waiting for DHCP, the configuration or `cpe set`)",
                false,
            );
        };
        let source = self.state.acs_url_source.map_or("-", |s| s.as_str());
        let (last, healthy) = match &self.state.last_session {
            Some((at, outcome)) => (format!("{at} {outcome}"), outcome == "ok"),
            None => ("none yet".to_owned(), true),
        };
        let next = self.events.poll_timeout().map_or_else(
            || "none scheduled".to_owned(),
            |t| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(t.unix_millis())),
        );
        let mut state = format!(
            "ACS {url} (from {source}); last session {last}; next session {next}; \
             {} consecutive failures",
            self.events.retry().retry_count()
        );
        if let Some(peer) = self.activity.peer {
            state.push_str(&format!("; last connection to {}", describe_peer(peer)));
        }
        if let Some(session) = &self.activity.session {
            state.push_str(&format!("; {}", session.describe()));
        }
        Component::new("cwmp", state, healthy)
    }

    fn connreq_component(&self) -> Component {
        match &self.activity.connreq {
            Some(address) => Component::new(
                "connection-request",
                format!("listening on {address}"),
                true,
            ),
            None => Component::new("connection-request", "stopped", false),
        }
    }

    /// Unhealthy when the last intake was refused.
    fn dhcp_component(&self) -> Component {
        match &self.activity.dhcp {
            None => Component::new("dhcp-intake", "none since the start", true),
            Some((at, Ok(()))) => {
                Component::new("dhcp-intake", format!("applied at {}", rfc3339(*at)), true)
            }
            Some((at, Err(reason))) => Component::new(
                "dhcp-intake",
                format!("refused at {}: {reason}", rfc3339(*at)),
                false,
            ),
        }
    }
}

/// Unhealthy when a transfer runs past its time limit (the transfer's and the hook's), or
/// waits for a retry after failing.
fn transfers_component(queue: &TransferQueue, now: i64) -> Component {
    let limit = i64::try_from((DEFAULT_MAX_TRANSFER_TIME + DEFAULT_HOOK_TIMEOUT).as_secs())
        .unwrap_or(i64::MAX);
    let (mut queued, mut running, mut problems) = (0, 0, Vec::new());
    for transfer in queue.iter() {
        match transfer.state() {
            EntryState::NotYetStarted => {
                queued += 1;
                if let Some((code, detail)) = transfer.last_fault() {
                    problems.push(format!(
                        "{} failed to start ({code} {detail}), retry at {}",
                        transfer_name(transfer),
                        rfc3339(unix_time(transfer.due_at().unwrap_or(now)))
                    ));
                }
            }
            EntryState::InProgress { started_at } | EntryState::Completed { started_at } => {
                running += 1;
                if now.saturating_sub(started_at) > limit {
                    problems.push(format!(
                        "{} stuck: running for {} s, past its limit of {limit} s",
                        transfer_name(transfer),
                        now - started_at
                    ));
                }
            }
        }
    }
    let mut state = format!("{queued} queued, {running} running");
    for problem in &problems {
        state.push_str(&format!("; {problem}"));
    }
    Component::new("transfers", state, problems.is_empty())
}

/// The wall-clock time of `seconds` since 1970 (the transfer queue's time).
/// `[::1]:7547 (IPv6)` / `127.0.0.1:7547 (IPv4)`: an address and its family, as `cpe status`
/// shows which one happy eyeballs (RFC 8305) settled on.
fn describe_peer(peer: SocketAddr) -> String {
    format!("{peer} ({})", family(peer.ip()))
}

/// `IPv6` or `IPv4`.
pub(super) fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() { "IPv6" } else { "IPv4" }
}

fn unix_time(seconds: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// `transfer 3 (Download of "1 Firmware Upgrade Image")`.
pub(super) fn transfer_name(transfer: &QueuedTransfer) -> String {
    format!(
        "transfer {} ({} of \"{}\")",
        transfer.id().value(),
        transfer
            .origin()
            .method_name()
            .unwrap_or("autonomous download"),
        transfer.payload().transfer_file_type()
    )
}

/// The status answer with the tunnel's component in its place, before the transfers'.
pub(super) fn with_cloud(mut response: Response, cloud: Component) -> Response {
    if let Response::Status(status) = &mut response {
        let at = status
            .components
            .iter()
            .position(|c| c.name == "transfers")
            .unwrap_or(status.components.len());
        status.components.insert(at, cloud);
    }
    response
}

#[cfg(test)]
mod tests {
    use schemas::rpc::types::TimeWindowStruct;
    use schemas::rpc::{Download, FaultCode, ScheduleDownload};

    use super::*;
    use crate::transfer::{Due, Outcome, TransferFault};

    const T0: i64 = 1_700_000_000;
    const URL: &str = "http://files.example/fw.bin";

    fn firmware() -> Download {
        Download {
            command_key: "fw".parse().unwrap(),
            file_type: "1 Firmware Upgrade Image".into(),
            url: URL.into(),
            ..Download::default()
        }
    }

    /// A queue whose one Download started at [`T0`].
    fn started_download() -> TransferQueue {
        let mut queue = TransferQueue::new();
        queue.download(&firmware(), T0).unwrap();
        assert!(matches!(queue.poll_due(T0), Some(Due::Start(_))));
        queue
    }

    #[test]
    fn a_transfer_within_its_limit_is_healthy() {
        let component = transfers_component(&started_download(), T0 + 60);
        assert_eq!(component.state, "0 queued, 1 running");
        assert!(component.healthy);
    }

    #[test]
    fn a_transfer_past_its_limit_is_stuck_and_named() {
        let limit = (DEFAULT_MAX_TRANSFER_TIME + DEFAULT_HOOK_TIMEOUT).as_secs() as i64;
        let component = transfers_component(&started_download(), T0 + limit + 1);
        assert!(!component.healthy);
        assert!(
            component.state.contains(
                "transfer 0 (Download of \"1 Firmware Upgrade Image\") stuck: running for"
            ),
            "{}",
            component.state
        );
    }

    #[test]
    fn a_transfer_waiting_for_a_retry_after_failing_is_unhealthy() {
        let mut queue = TransferQueue::new();
        let request = ScheduleDownload {
            command_key: "sd".parse().unwrap(),
            file_type: "1 Firmware Upgrade Image".into(),
            url: URL.into(),
            time_window_list: vec![TimeWindowStruct {
                window_start: 0,
                window_end: 3600,
                window_mode: "1 At Any Time".into(),
                user_message: String::new(),
                max_retries: 2,
            }],
            ..ScheduleDownload::default()
        };
        queue.schedule_download(&request, T0).unwrap();
        let Some(Due::Start(job)) = queue.poll_due(T0) else {
            panic!("the download starts");
        };
        let fault = TransferFault::new(FaultCode::from_code(9015), "connection refused");
        assert!(
            queue
                .finish(Outcome::failed(job.id, T0, T0, fault), T0)
                .is_none()
        );
        let component = transfers_component(&queue, T0 + 1);
        assert!(!component.healthy);
        assert!(
            component
                .state
                .starts_with("1 queued, 0 running; transfer 0 (ScheduleDownload of"),
            "{}",
            component.state
        );
        assert!(
            component
                .state
                .contains("failed to start (9015 connection refused)"),
            "{}",
            component.state
        );
    }

    #[test]
    fn a_refused_dhcp_intake_is_unhealthy_until_one_is_applied() {
        let mut activity = Activity::new();
        activity.dhcp::<(), _>(&Err("option 43: no URL"));
        assert_eq!(activity.dhcp.as_ref().map(|(_, r)| r.is_ok()), Some(false));
        activity.dhcp::<_, String>(&Ok(()));
        assert_eq!(activity.dhcp.as_ref().map(|(_, r)| r.is_ok()), Some(true));
    }
}
