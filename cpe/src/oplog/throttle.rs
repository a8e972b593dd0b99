//! Throttling of identical lines: at most `limit` lines of one code per [`WINDOW`]; the rest are
//! counted, and the count comes out once the window is over (as smart licensing's call-home
//! rate-limits its repeated messages).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::{Code, LOG_THROTTLED};

/// The throttle's window: lines are counted per code per minute.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Lines of one code suppressed in a window that is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suppressed {
    /// The code of the suppressed lines.
    pub code: &'static Code,
    /// How many were suppressed.
    pub count: u64,
    /// The window they were counted in.
    pub window: Duration,
}

/// One code's current window.
#[derive(Debug)]
struct Window {
    code: &'static Code,
    start: Instant,
    admitted: u32,
    suppressed: u64,
}

impl Window {
    fn new(code: &'static Code, start: Instant) -> Self {
        Self {
            code,
            start,
            admitted: 0,
            suppressed: 0,
        }
    }
}

/// The sans-IO throttle: which lines go out, and what was suppressed. One entry per code seen
/// in the current window, so its size is bounded by [`super::CODES`].
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    windows: HashMap<&'static str, Window>,
    /// Counts of windows closed by a new line of their code, not reported yet: one per code.
    closed: Vec<Suppressed>,
}

impl Throttle {
    /// At most `limit` lines per code per `window`; `limit` 0 lets every line through.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            windows: HashMap::new(),
            closed: Vec::new(),
        }
    }

    /// Whether a line of `code` at `now` goes out; counts it either way.
    pub fn admit(&mut self, code: &'static Code, now: Instant) -> bool {
        if self.limit == 0 {
            return true;
        }
        let current = self
            .windows
            .entry(code.id)
            .or_insert_with(|| Window::new(code, now));
        if now.saturating_duration_since(current.start) >= self.window {
            let ended = std::mem::replace(current, Window::new(code, now));
            if ended.suppressed > 0 {
                match self.closed.iter_mut().find(|s| s.code.id == code.id) {
                    Some(earlier) => earlier.count += ended.suppressed,
                    None => self.closed.push(Suppressed {
                        code,
                        count: ended.suppressed,
                        window: self.window,
                    }),
                }
            }
        }
        if current.admitted < self.limit {
            current.admitted += 1;
            true
        } else {
            current.suppressed += 1;
            false
        }
    }

    /// The suppressed counts of every window over at `now`, each reported once; forgets those
    /// windows.
    pub fn take_due(&mut self, now: Instant) -> Vec<Suppressed> {
        let mut due = std::mem::take(&mut self.closed);
        let window = self.window;
        self.windows.retain(|_, current| {
            if now.saturating_duration_since(current.start) < window {
                return true;
            }
            if current.suppressed > 0 {
                due.push(Suppressed {
                    code: current.code,
                    count: current.suppressed,
                    window,
                });
            }
            false
        });
        due
    }
}

/// The [`Throttle`] installed with the subscriber: an event whose `code` field is one of
/// [`super::CODES`] is dropped when its code is over the limit. `LOG-4-THROTTLED` itself and
/// events without a code always pass.
#[derive(Debug)]
pub struct ThrottleLayer {
    throttle: Mutex<Throttle>,
}

impl ThrottleLayer {
    /// A layer around `throttle`.
    pub fn new(throttle: Throttle) -> Self {
        Self {
            throttle: Mutex::new(throttle),
        }
    }

    /// [`Throttle::take_due`].
    pub fn take_due(&self, now: Instant) -> Vec<Suppressed> {
        self.lock().take_due(now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: Subscriber> Layer<S> for ThrottleLayer {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        match event_code(event) {
            Some(code) if code.id != LOG_THROTTLED.id => self.lock().admit(code, super::now()),
            _ => true,
        }
    }
}

/// The code an event carries in its `code` field, if it is one of [`super::CODES`].
pub(super) fn event_code(event: &Event<'_>) -> Option<&'static Code> {
    /// Reads the `code` field.
    struct Find(Option<&'static Code>);
    impl Visit for Find {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "code" {
                self.0 = Code::find(value);
            }
        }
        fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
    }
    event.metadata().fields().field("code")?;
    let mut find = Find(None);
    event.record(&mut find);
    find.0
}
