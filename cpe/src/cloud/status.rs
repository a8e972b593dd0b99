//! `cpe cloud status`: the values and the text of `display cloud-management state`
//! (ARCHITECTURE.md, "Cloud-management tunnel": same fields, same order, `N/A` where empty).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemas::tunnel::{
    ConnectionState, DeviceState, DownReason, FailureReason, NOT_AVAILABLE, ProcessState,
    ReportFailure, format_duration,
};
use schemas::value::DateTime;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Every field of the status table, as taken by
/// [`Tunnel::status`](super::Tunnel::status).
#[derive(Clone, Debug, PartialEq)]
pub struct CloudStatus {
    /// "Cloud connection state".
    pub connection_state: ConnectionState,
    /// "Device state".
    pub device_state: DeviceState,
    /// "Cloud server address": the address the domain resolved to.
    pub server_address: Option<IpAddr>,
    /// "Cloud server domain name".
    pub domain: String,
    /// "Local port": the configured TCP port.
    pub port: u16,
    /// "Connected at": when the main link was registered, while it is up.
    pub connected_at: Option<SystemTime>,
    /// "Duration": how long it has been up, at the time of the snapshot.
    pub duration: Option<Duration>,
    /// "Process state".
    pub process_state: ProcessState,
    /// "Failure reason".
    pub failure_reason: FailureReason,
    /// "Last down reason" and "Last down at".
    pub last_down: Option<(DownReason, SystemTime)>,
    /// "Last report failure reason" and "Last report failure at".
    pub last_report_failure: Option<(ReportFailure, SystemTime)>,
    /// "Dropped packets after reaching buffer limit".
    pub dropped_after_limit: u64,
    /// "Total dropped packets".
    pub total_dropped: u64,
    /// "Last report incomplete reason" and "Last report incomplete at".
    pub last_report_incomplete: Option<(ReportFailure, SystemTime)>,
    /// "Buffer full count".
    pub buffer_full_count: u64,
}

impl CloudStatus {
    /// The table of a tunnel that does not run (disabled, or no server domain configured):
    /// unconnected and idle, with the configured place.
    pub fn unconnected(domain: impl Into<String>, port: u16) -> Self {
        Self {
            connection_state: ConnectionState::Unconnected,
            device_state: DeviceState::Idle,
            server_address: None,
            domain: domain.into(),
            port,
            connected_at: None,
            duration: None,
            process_state: ProcessState::DnsNotParsed,
            failure_reason: FailureReason::NotAvailable,
            last_down: None,
            last_report_failure: None,
            dropped_after_limit: 0,
            total_dropped: 0,
            last_report_incomplete: None,
            buffer_full_count: 0,
        }
    }

    /// The table's rows, in order: field name and printed value.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        fn or_na<T>(value: Option<T>, f: impl FnOnce(T) -> String) -> String {
            value.map_or_else(|| NOT_AVAILABLE.to_owned(), f)
        }
        let reason =
            |v: &Option<(ReportFailure, SystemTime)>| or_na(v.as_ref(), |(r, _)| r.to_string());
        let at = |v: &Option<(ReportFailure, SystemTime)>| or_na(v.as_ref(), |(_, t)| time(*t));
        vec![
            ("Cloud connection state", self.connection_state.to_string()),
            ("Device state", self.device_state.to_string()),
            (
                "Cloud server address",
                or_na(self.server_address, |a| a.to_string()),
            ),
            (
                "Cloud server domain name",
                or_na(Some(&self.domain).filter(|d| !d.is_empty()), Clone::clone),
            ),
            ("Local port", self.port.to_string()),
            ("Connected at", or_na(self.connected_at, time)),
            ("Duration", or_na(self.duration, format_duration)),
            ("Process state", self.process_state.to_string()),
            ("Failure reason", self.failure_reason.to_string()),
            (
                "Last down reason",
                or_na(self.last_down, |(r, _)| r.to_string()),
            ),
            ("Last down at", or_na(self.last_down, |(_, t)| time(t))),
            (
                "Last report failure reason",
                reason(&self.last_report_failure),
            ),
            ("Last report failure at", at(&self.last_report_failure)),
            (
                "Dropped packets after reaching buffer limit",
                self.dropped_after_limit.to_string(),
            ),
            ("Total dropped packets", self.total_dropped.to_string()),
            (
                "Last report incomplete reason",
                reason(&self.last_report_incomplete),
            ),
            (
                "Last report incomplete at",
                at(&self.last_report_incomplete),
            ),
            ("Buffer full count", self.buffer_full_count.to_string()),
        ]
    }
}

/// Serialized as an object of the table's rows (field name to printed value), in order.
impl Serialize for CloudStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StatusTable::from(self).serialize(serializer)
    }
}

/// The status table as printed values, in order: what the control socket carries to
/// `cpe cloud status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusTable(pub Vec<(String, String)>);

impl From<&CloudStatus> for StatusTable {
    fn from(status: &CloudStatus) -> Self {
        Self(
            status
                .rows()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        )
    }
}

/// Serialized as an object (field name to printed value), in the table's order.
impl Serialize for StatusTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl StatusTable {
    /// The text `display cloud-management state` prints: one `name : value` line per field,
    /// names padded to one column.
    pub fn render(&self) -> String {
        let width = self.0.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        self.0
            .iter()
            .map(|(name, value)| format!("{name:<width$} : {value}\n"))
            .collect()
    }
}

/// The text `display cloud-management state` prints for `status` ([`StatusTable::render`]).
pub fn render(status: &CloudStatus) -> String {
    StatusTable::from(status).render()
}

/// A wall-clock time as UTC `xsd:dateTime` (whole seconds).
fn time(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok());
    secs.and_then(|secs| DateTime::from_unix(secs, 0))
        .map_or_else(|| NOT_AVAILABLE.to_owned(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::tunnel::ReportFailureReason;

    #[test]
    fn render_prints_every_field_in_table_order_with_na_and_durations() {
        let epoch = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let status = CloudStatus {
            connection_state: ConnectionState::Established,
            device_state: DeviceState::RequestSuccess,
            server_address: Some("192.0.2.7".parse().unwrap()),
            domain: "cloud.example".into(),
            port: 443,
            connected_at: Some(epoch),
            duration: Some(Duration::from_secs(121)),
            process_state: ProcessState::MessageReceived,
            failure_reason: FailureReason::NotAvailable,
            last_down: Some((DownReason::KeepaliveExpired, epoch)),
            last_report_failure: None,
            dropped_after_limit: 1,
            total_dropped: 2,
            last_report_incomplete: Some((ReportFailureReason::SendBufferIsFull.into(), epoch)),
            buffer_full_count: 3,
        };
        let text = render(&status);
        let expected = [
            ("Cloud connection state", "Established"),
            ("Device state", "Request_success"),
            ("Cloud server address", "192.0.2.7"),
            ("Cloud server domain name", "cloud.example"),
            ("Local port", "443"),
            ("Connected at", "2023-11-14T22:13:20Z"),
            ("Duration", "00d 00h 02m 01s"),
            ("Process state", "Message received"),
            ("Failure reason", "N/A"),
            ("Last down reason", "Keepalive expired"),
            ("Last down at", "2023-11-14T22:13:20Z"),
            ("Last report failure reason", "N/A"),
            ("Last report failure at", "N/A"),
            ("Dropped packets after reaching buffer limit", "1"),
            ("Total dropped packets", "2"),
            ("Last report incomplete reason", "Send buffer is full"),
            ("Last report incomplete at", "2023-11-14T22:13:20Z"),
            ("Buffer full count", "3"),
        ];
        let lines: Vec<(&str, &str)> = text
            .lines()
            .map(|line| {
                let (name, value) = line.split_once(" : ").unwrap();
                (name.trim_end(), value)
            })
            .collect();
        assert_eq!(lines, expected);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["Duration"], "00d 00h 02m 01s");
        assert_eq!(json["Last report failure at"], "N/A");
    }
}
