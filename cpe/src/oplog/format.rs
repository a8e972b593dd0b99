//! Text lines that start with the code: `CWMP-3-SESSION_FAILED: CWMP session failed error=...`,
//! as routers print `%FACILITY-SEVERITY-MNEMONIC: message`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

use super::Code;

/// An event's fields gathered as `CODE: message name=value ...`.
#[derive(Debug, Default)]
pub(super) struct CodedLine {
    /// The `code` field, when it is one of [`super::CODES`].
    pub(super) code: Option<&'static Code>,
    message: String,
    /// ` name=value` for every other field.
    rest: String,
}

impl Visit for CodedLine {
    fn record_str(&mut self, field: &Field, value: &str) {
        match (field.name(), Code::find(value)) {
            ("code", Some(code)) => self.code = Some(code),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Writing to a String cannot fail.
        let _ = match field.name() {
            "message" => write!(self.message, "{value:?}"),
            name => write!(self.rest, " {name}={value:?}"),
        };
    }
}

impl fmt::Display for CodedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = if self.message.is_empty() {
            self.rest.trim_start()
        } else {
            &self.rest
        };
        match self.code {
            Some(code) => write!(f, "{}: {}{rest}", code.id, self.message),
            None => write!(f, "{}{rest}", self.message),
        }
    }
}

/// The text formatter's fields ([`tracing_subscriber::fmt::Layer::fmt_fields`]): the code
/// first, then the message, then the other fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct CodeFirst;

impl<'w> MakeVisitor<Writer<'w>> for CodeFirst {
    type Visitor = CodeFirstVisitor<'w>;

    fn make_visitor(&self, writer: Writer<'w>) -> Self::Visitor {
        CodeFirstVisitor {
            writer,
            line: CodedLine::default(),
        }
    }
}

/// Gathers one event's fields and writes them when done.
#[derive(Debug)]
pub struct CodeFirstVisitor<'w> {
    writer: Writer<'w>,
    line: CodedLine,
}

impl Visit for CodeFirstVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.line.record_str(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.line.record_debug(field, value);
    }
}

impl VisitOutput<fmt::Result> for CodeFirstVisitor<'_> {
    fn finish(mut self) -> fmt::Result {
        write!(self.writer, "{}", self.line)
    }
}

impl VisitFmt for CodeFirstVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.line.rest
    }
}
