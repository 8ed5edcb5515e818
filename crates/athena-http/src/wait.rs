//! What the client says when it is about to wait (a retry's backoff, a rate limit's reset) and
//! when the wait is over: tracing events of one [`TARGET`], written and read here only, so a
//! front end can show them (the CLI's progress bars) without the client knowing who listens.

use std::fmt;
use std::time::Duration;

use tracing::field::{Field, Visit};

/// The tracing target of every [`WaitNotice`].
pub const TARGET: &str = "athena_http::wait";

/// A wait of one source's client, as its tracing event says it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitNotice {
    /// The client sleeps `wait` before its next request to `api`.
    Waiting {
        /// The source whose request waits.
        source_id: String,
        /// The API's host (and port, when not the scheme's).
        api: String,
        /// How long.
        wait: Duration,
        /// Why.
        why: WaitReason,
    },
    /// The wait is over: the request goes again.
    Over {
        /// The source whose request waited.
        source_id: String,
    },
}

/// Why a client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// Before retry `attempt` of at most `of`.
    Retry {
        /// 1-based.
        attempt: u32,
        /// The retries this failure gets at most.
        of: u32,
    },
    /// For a rate limit to reset (or the server's `Retry-After`).
    RateLimit,
}

impl WaitNotice {
    /// Logs the notice (`detail`: the failure retried, if any): a retry at debug level, a
    /// rate-limit wait at info, the end of a wait at trace. The client says its own waits;
    /// anything else that waits on an API may say its waits the same way.
    pub fn emit(&self, detail: &str) {
        match self {
            WaitNotice::Waiting {
                source_id,
                api,
                wait,
                why: WaitReason::Retry { attempt, of },
            } => tracing::debug!(
                target: TARGET,
                source = source_id.as_str(),
                api = api.as_str(),
                wait_ms = millis(*wait),
                attempt = *attempt,
                of = *of,
                "retry {attempt} of {of} in {} ms: {detail}",
                wait.as_millis()
            ),
            WaitNotice::Waiting {
                source_id,
                api,
                wait,
                why: WaitReason::RateLimit,
            } => tracing::info!(
                target: TARGET,
                source = source_id.as_str(),
                api = api.as_str(),
                wait_ms = millis(*wait),
                "rate limited; waiting {:.0} s{detail}",
                wait.as_secs_f64().ceil()
            ),
            WaitNotice::Over { source_id } => {
                tracing::trace!(target: TARGET, source = source_id.as_str(), over = true, "wait over")
            }
        }
    }

    /// The notice an event of [`TARGET`] carries; `None` for any other event.
    pub fn from_event(event: &tracing::Event<'_>) -> Option<WaitNotice> {
        if event.metadata().target() != TARGET {
            return None;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let source_id = fields.source?;
        if fields.over {
            return Some(WaitNotice::Over { source_id });
        }
        let why = match (fields.attempt, fields.of) {
            (Some(attempt), Some(of)) => WaitReason::Retry {
                attempt: u32::try_from(attempt).ok()?,
                of: u32::try_from(of).ok()?,
            },
            _ => WaitReason::RateLimit,
        };
        Some(WaitNotice::Waiting {
            source_id,
            api: fields.api?,
            wait: Duration::from_millis(fields.wait_ms?),
            why,
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The fields of a notice's event, as they are recorded.
#[derive(Default)]
struct Fields {
    source: Option<String>,
    api: Option<String>,
    wait_ms: Option<u64>,
    attempt: Option<u64>,
    of: Option<u64>,
    over: bool,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "source" => self.source = Some(value.to_string()),
            "api" => self.api = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "wait_ms" => self.wait_ms = Some(value),
            "attempt" => self.attempt = Some(value),
            "of" => self.of = Some(value),
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "over" {
            self.over = value;
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}
