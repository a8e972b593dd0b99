//! The driver task: one loop owning the [`Tunnel`], selecting over the handles' commands,
//! the machine's timeout and the completions of the I/O it started.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::sleep_until;
use tracing::{Instrument, debug, debug_span};

use super::Command;
use super::http::{self, Exchange, Idle, Pool, Request, Sender};
use super::link::{self, LinkEvent, LinkHandle, Open};
use super::net::Egress;
use crate::cloud::{
    Action, ConnectError, Event, HttpResponse, HttpStep, Link, Record, ResolveError, SendError,
    Tunnel,
};
use crate::stats::{Message, MessageType, Stats};

/// The machine's clock: tokio's, so that tests can pause it.
pub(super) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// The end of an I/O operation the driver started.
#[derive(Debug)]
pub(super) enum Completion {
    Resolved {
        token: u64,
        result: Result<Vec<IpAddr>, ResolveError>,
    },
    Connected {
        token: u64,
        domain: String,
        /// The connection and the address it reached (the proxy's when one is used).
        result: Result<(Sender, SocketAddr), ConnectError>,
    },
    Http {
        token: u64,
        step: HttpStep,
        result: Result<HttpResponse, SendError>,
        idle: Option<Idle>,
    },
    Link {
        link: Link,
        id: u64,
        event: LinkEvent,
    },
}

/// The driver's state.
pub(super) struct Driver {
    tunnel: Tunnel,
    egress: Egress,
    events: mpsc::UnboundedSender<Event>,
    stats: Stats<Message>,
    done: mpsc::UnboundedSender<Completion>,
    completions: mpsc::UnboundedReceiver<Completion>,
    pool: Pool,
    /// The establishment step in flight (lookup, connect or HTTP request): its token and its
    /// task. Only its completion is taken; starting the next step aborts it.
    step: Option<(u64, AbortHandle)>,
    links: HashMap<Link, LinkHandle>,
    /// Tokens of steps and ids of links, never reused.
    counter: u64,
}

impl Driver {
    pub(super) fn new(
        tunnel: Tunnel,
        egress: Egress,
        events: mpsc::UnboundedSender<Event>,
        stats: Stats<Message>,
    ) -> Self {
        let (done, completions) = mpsc::unbounded_channel();
        Self {
            tunnel,
            egress,
            events,
            stats,
            done,
            completions,
            pool: Pool::default(),
            step: None,
            links: HashMap::new(),
            counter: 0,
        }
    }

    /// Runs until [`Command::Stop`] or until every handle is gone, then closes the links.
    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let span = debug_span!("cloud", domain = %self.tunnel.settings().domain());
        async move {
            loop {
                self.act();
                let deadline = self
                    .tunnel
                    .poll_timeout()
                    .map(tokio::time::Instant::from_std);
                tokio::select! {
                    command = commands.recv() => match command {
                        Some(Command::Stop) | None => break,
                        Some(command) => self.command(command),
                    },
                    Some(done) = self.completions.recv() => self.complete(done),
                    () = sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                        if deadline.is_some() => self.tunnel.handle_timeout(now()),
                }
            }
            debug!("stopping: closing the tunnel's links");
            if let Some((_, task)) = self.step.take() {
                task.abort();
            }
            self.tunnel.stop(now());
            self.count();
        }
        .instrument(span)
        .await;
    }

    /// Carries out the machine's actions and passes its events on.
    fn act(&mut self) {
        while let Some(action) = self.tunnel.poll_action() {
            self.execute(action);
        }
        while let Some(event) = self.tunnel.poll_event() {
            debug!(?event, "tunnel event");
            let _receiver_gone = self.events.send(event);
        }
        self.count();
    }

    /// Copies the machine's records into the statistics, and the Inqueue of its rows.
    fn count(&mut self) {
        while let Some(record) = self.tunnel.poll_record() {
            match record {
                Record::Attempt(row) => self.stats.attempt(row),
                Record::Delivered(row, delivery) => self.stats.delivered(row, delivery),
                Record::Dropped(row) => self.stats.dropped(row, 1),
            }
        }
        for row in Message::ALL.iter().copied().filter(|m| m.is_tunnel()) {
            self.stats.set_inqueue(row, self.tunnel.queued(row));
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Status(answer) => {
                let _caller_gone = answer.send(self.tunnel.status(now(), SystemTime::now()));
            }
            Command::Reconfigure(settings) => self.tunnel.reconfigure(settings, now()),
            Command::Reset => self.tunnel.reset(now()),
            Command::Send {
                link,
                message,
                answer,
            } => {
                let _caller_gone = answer.send(self.tunnel.send(link, message, now()));
            }
            Command::Stop => {}
        }
    }

    fn execute(&mut self, action: Action) {
        match action {
            Action::Resolve { domain } => {
                debug!(%domain, "resolving");
                self.pool.clear();
                let egress = self.egress.clone();
                self.step(|token| async move {
                    let result = egress.resolve(&domain).await;
                    Completion::Resolved { token, result }
                });
            }
            Action::Connect { addrs, domain } => {
                debug!(?addrs, %domain, "connecting");
                let egress = self.egress.clone();
                self.step(|token| async move {
                    let result = http::connect(&addrs, &domain, &egress).await;
                    Completion::Connected {
                        token,
                        domain,
                        result,
                    }
                });
            }
            Action::Http {
                step,
                method,
                url,
                content_type,
                body,
            } => {
                debug!(?step, %url, "HTTP request");
                let request = Request {
                    method,
                    url,
                    content_type,
                    body,
                };
                match self.pool.exchange(request) {
                    Ok(exchange) => self.http(step, exchange),
                    Err(e) => self.tunnel.handle_http(step, Err(e), now()),
                }
            }
            Action::OpenWebSocket { link, url, cookie } => {
                debug!(?link, %url, "opening a WebSocket link");
                if link == Link::Main {
                    // The HTTP steps are over.
                    self.pool.clear();
                }
                self.counter += 1;
                let open = Open {
                    link,
                    id: self.counter,
                    url,
                    cookie,
                };
                let handle = link::spawn(open, self.egress.clone(), self.done.clone());
                self.links.insert(link, handle);
            }
            Action::Send { link, text } => match self.links.get(&link) {
                // A link whose task has ended reports its close next.
                Some(handle) => _ = handle.send(text),
                None => {
                    let error = SendError::Io("the link is not open".to_owned());
                    self.tunnel.handle_sent(link, Err(error), now());
                }
            },
            Action::Close { link } => {
                debug!(?link, "closing");
                self.links.remove(&link);
            }
        }
    }

    fn http(&mut self, step: HttpStep, exchange: Exchange) {
        let egress = self.egress.clone();
        self.step(|token| async move {
            let (result, idle) = exchange.run(egress).await;
            Completion::Http {
                token,
                step,
                result,
                idle,
            }
        });
    }

    /// Starts the establishment step `task` makes of its token, in place of the one in
    /// flight.
    fn step<F>(&mut self, task: impl FnOnce(u64) -> F)
    where
        F: Future<Output = Completion> + Send + 'static,
    {
        if let Some((_, previous)) = self.step.take() {
            previous.abort();
        }
        self.counter += 1;
        let token = self.counter;
        let done = self.done.clone();
        let future = task(token);
        let handle = tokio::spawn(async move {
            let _driver_gone = done.send(future.await);
        });
        self.step = Some((token, handle.abort_handle()));
    }

    /// Whether `token` is the step in flight; it is then over.
    fn take_step(&mut self, token: u64) -> bool {
        let current = self.step.as_ref().is_some_and(|(t, _)| *t == token);
        if current {
            self.step = None;
        }
        current
    }

    fn complete(&mut self, completion: Completion) {
        match completion {
            Completion::Resolved { token, result } => {
                if self.take_step(token) {
                    self.tunnel.handle_resolved(result, now());
                }
            }
            Completion::Connected {
                token,
                domain,
                result,
            } => {
                if self.take_step(token) {
                    let result = result.map(|(sender, addr)| {
                        self.pool.connected(addr, domain, sender);
                        addr
                    });
                    self.tunnel.handle_connect(result, now());
                }
            }
            Completion::Http {
                token,
                step,
                result,
                idle,
            } => {
                if self.take_step(token) {
                    if let Some(idle) = idle {
                        self.pool.put(idle);
                    }
                    self.tunnel.handle_http(step, result, now());
                }
            }
            Completion::Link { link, id, event } => {
                if self.links.get(&link).is_none_or(|handle| handle.id != id) {
                    return;
                }
                self.link_event(link, event);
            }
        }
    }

    fn link_event(&mut self, link: Link, event: LinkEvent) {
        match event {
            LinkEvent::Connected(result) => {
                if let Err(e) = &result {
                    debug!(?link, error = %e, "WebSocket link not opened");
                    self.links.remove(&link);
                }
                self.tunnel.handle_connected(link, result, now());
            }
            LinkEvent::Frame(frame) => self.tunnel.handle_frame(link, &frame, now()),
            LinkEvent::Sent(result) => self.tunnel.handle_sent(link, result, now()),
            LinkEvent::Closed(close) => {
                debug!(?link, ?close, "WebSocket link closed");
                self.links.remove(&link);
                self.tunnel.handle_closed(link, close, now());
            }
        }
    }
}
