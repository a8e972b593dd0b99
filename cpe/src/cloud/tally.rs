//! What the tunnel machine tells the call-home statistics ([`crate::stats`], ARCHITECTURE.md
//! "Call-home statistics and proxy"): the outcome of every message the device starts, as
//! [`Record`]s the driver copies into the agent's [`Stats`](crate::stats::Stats). The machine
//! stays sans-IO: it only queues records.
//!
//! The establishment message in progress (the lookup, connection and CAS steps are one
//! TunnelAuth until step 1 is answered; each HTTP step; the main link's WebSocket upgrade,
//! which carries the registration frame) is held until its answer, or counted Failed when
//! the attempt fails first.
//!
//! An answered frame (registration, keepalive, report, sub-connection list, unbinding) waits
//! here from its write until the cloud's answer of the same optType on the same link; answers
//! carry no sequence number, so they match the oldest one waiting. Frames still waiting when
//! their link goes away were not answered (Failed).

use std::collections::VecDeque;

use schemas::tunnel::{CloudMessage, DeviceMessage};

use super::Link;
use crate::stats::{Delivery, Message};

/// One fact for the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A message of this type is being sent now (its Last-sent).
    Attempt(Message),
    /// What came of one sent.
    Delivered(Message, Delivery),
    /// One was given up without being sent.
    Dropped(Message),
}

/// The row of a frame the device starts, or `None` for those not counted (pings, which are
/// never answered, and the answers to the cloud's own requests).
pub(super) fn row(message: &DeviceMessage) -> Option<Message> {
    match message {
        DeviceMessage::Register => Some(Message::TunnelRegister),
        DeviceMessage::Keepalive => Some(Message::TunnelKeepalive),
        DeviceMessage::Report(_) => Some(Message::TunnelReport),
        DeviceMessage::SubConnectionRequest => Some(Message::TunnelSubConnection),
        DeviceMessage::Unbind { .. } => Some(Message::TunnelUnbind),
        DeviceMessage::Ping
        | DeviceMessage::ConfigurationAnswer(_)
        | DeviceMessage::ConnectionRequestAnswer { .. } => None,
    }
}

/// The row a cloud frame answers, and whether it is a refusal (a non-zero retCode).
fn answers(message: &CloudMessage) -> Option<(Message, bool)> {
    match message {
        CloudMessage::RegisterAnswer { ret_code } => {
            Some((Message::TunnelRegister, !ret_code.is_ok()))
        }
        CloudMessage::KeepaliveAnswer { ret_code } => {
            Some((Message::TunnelKeepalive, !ret_code.is_ok()))
        }
        CloudMessage::ReportAnswer { ret_code } => Some((Message::TunnelReport, !ret_code.is_ok())),
        CloudMessage::SubConnectionAnswer { ret_code, .. } => {
            Some((Message::TunnelSubConnection, !ret_code.is_ok()))
        }
        CloudMessage::UnbindAnswer { ret_code } => Some((Message::TunnelUnbind, !ret_code.is_ok())),
        CloudMessage::Configuration(_) | CloudMessage::ConnectionRequest { .. } => None,
    }
}

/// The frames waiting for their answer and the records not yet taken.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// The establishment message waiting for its answer.
    step: Option<Message>,
    awaiting: Vec<(Link, Message)>,
    records: VecDeque<Record>,
}

impl Tally {
    /// The next record, oldest first.
    pub(super) fn poll(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// A message of type `row` is being sent (an HTTP step, a lookup or connection for one).
    pub(super) fn attempt(&mut self, row: Message) {
        self.records.push_back(Record::Attempt(row));
    }

    /// The establishment message `row` is being sent (in place of the one in progress, which
    /// it continues).
    pub(super) fn step(&mut self, row: Message) {
        self.attempt(row);
        self.step = Some(row);
    }

    /// The establishment message in progress got its answer (the caller counts it).
    pub(super) fn step_done(&mut self) {
        self.step = None;
    }

    /// The establishment attempt failed before the message in progress was answered.
    pub(super) fn step_failed(&mut self) {
        if let Some(row) = self.step.take() {
            self.delivered(row, Delivery::Failed);
        }
    }

    /// What came of a message that is not a frame (an HTTP step).
    pub(super) fn delivered(&mut self, row: Message, delivery: Delivery) {
        self.records.push_back(Record::Delivered(row, delivery));
    }

    /// A frame of type `row` given up before it was written.
    pub(super) fn dropped(&mut self, row: Message) {
        self.records.push_back(Record::Dropped(row));
    }

    /// A frame of type `row` is being written on `link`; it waits for its answer.
    pub(super) fn writing(&mut self, link: Link, row: Message) {
        self.attempt(row);
        self.awaiting.push((link, row));
    }

    /// The frame of type `row` being written on `link` was not written.
    pub(super) fn not_written(&mut self, link: Link, row: Message) {
        if let Some(at) = self.awaiting.iter().rposition(|w| *w == (link, row)) {
            self.awaiting.remove(at);
            self.delivered(row, Delivery::Failed);
        }
    }

    /// `message` arrived on `link`: the answer of the oldest frame of its type waiting there.
    pub(super) fn answer(&mut self, link: Link, message: &CloudMessage) {
        let Some((row, refused)) = answers(message) else {
            return;
        };
        if let Some(at) = self.awaiting.iter().position(|w| *w == (link, row)) {
            self.awaiting.remove(at);
            let delivery = if refused {
                Delivery::Fault
            } else {
                Delivery::Answered
            };
            self.delivered(row, delivery);
        }
    }

    /// The links `gone` selects went away: what waited there will not be answered.
    pub(super) fn gone(&mut self, gone: impl Fn(Link) -> bool) {
        let (lost, kept): (Vec<_>, Vec<_>) =
            self.awaiting.drain(..).partition(|(link, _)| gone(*link));
        self.awaiting = kept;
        for (_, row) in lost {
            self.delivered(row, Delivery::Failed);
        }
    }
}
