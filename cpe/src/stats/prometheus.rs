//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then
//! samples `name{label="value",...} number`, one family after the other. Escaping follows the
//! format's rules: in HELP text `\` and newline become `\\` and `\n`; in label values `"` also
//! becomes `\"`. Both programs write their `/metrics` with [`Exposition`].

use std::fmt::Write as _;

use super::{DURATION_BUCKETS, Snapshot};

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// `_bucket{le=...}`, `_sum` and `_count` samples.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A page of the exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the family `name`: its HELP and TYPE lines. Its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let help = escape(help, false);
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample. `name` is the family's name, or for a histogram the family's name with
    /// `_bucket`, `_sum` or `_count`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape(text, true));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// The page.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Escapes HELP text (`\`, newline) or a label value (also `"`).
fn escape(text: &str, label: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

impl Snapshot {
    /// Writes the figures into `page`, as families named `<prefix>_messages_total` (labels
    /// `type` and `result` = `success` / `failed` / `fault` / `dropped`),
    /// `<prefix>_messages_inqueue`, `<prefix>_message_last_sent_timestamp_seconds`,
    /// `<prefix>_sessions_total` (`result` = `ok` / `failed`) and the histogram
    /// `<prefix>_session_duration_seconds`.
    pub fn write_prometheus(&self, prefix: &str, page: &mut Exposition) {
        let name = format!("{prefix}_messages_total");
        page.family(
            &name,
            Kind::Counter,
            "Outbound messages by type and result: success = answered at the transport level, \
             fault = answered with a remote fault (also counted in success), failed = no answer, \
             dropped = given up unsent.",
        );
        for row in &self.rows {
            let c = &row.counters;
            for (result, value) in [
                ("success", c.success),
                ("failed", c.failed),
                ("fault", c.faults),
                ("dropped", c.dropped),
            ] {
                page.sample(&name, &[("type", &row.message), ("result", result)], value);
            }
        }
        let name = format!("{prefix}_messages_inqueue");
        page.family(
            &name,
            Kind::Gauge,
            "Messages waiting to be sent now, by type.",
        );
        for row in &self.rows {
            page.sample(&name, &[("type", &row.message)], row.counters.inqueue);
        }
        let name = format!("{prefix}_message_last_sent_timestamp_seconds");
        page.family(
            &name,
            Kind::Gauge,
            "When the last message of the type was sent (Unix seconds); absent if never.",
        );
        for row in &self.rows {
            if let Some(at) = row.counters.last_sent {
                page.sample(&name, &[("type", &row.message)], at);
            }
        }
        let s = &self.sessions;
        let name = format!("{prefix}_sessions_total");
        page.family(&name, Kind::Counter, "CWMP sessions by how they ended.");
        page.sample(&name, &[("result", "ok")], s.ok);
        page.sample(&name, &[("result", "failed")], s.failed);
        let name = format!("{prefix}_session_duration_seconds");
        page.family(&name, Kind::Histogram, "How long CWMP sessions took.");
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (le, count) in DURATION_BUCKETS.iter().zip(&s.duration_buckets) {
            cumulative += count;
            page.sample(&bucket, &[("le", &le.to_string())], cumulative);
        }
        page.sample(&bucket, &[("le", "+Inf")], s.count());
        page.sample(&format!("{name}_sum"), &[], s.duration_sum_us as f64 / 1e6);
        page.sample(&format!("{name}_count"), &[], s.count());
    }
}
