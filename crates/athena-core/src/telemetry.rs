//! Everything the engine reports is one of these events, each logged in one place ([`emit`])
//! and counted in one place beside it ([`record`] into the caller's [`Metrics`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::SourceStatusKind;
use crate::metrics::{EventOutcome, Metrics, RunResult};
use crate::source::SourceStats;

/// Something that happened inside the engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum InternalEvent<'a> {
    /// A source is about to be read.
    SourceStarted {
        /// Source id.
        source_id: &'a str,
        /// Whether a cursor was loaded.
        resumed: bool,
    },
    /// A batch and its cursor were stored.
    BatchCommitted {
        /// Source id.
        source_id: &'a str,
        /// Events newly stored.
        events: u64,
        /// Events already stored.
        duplicates: u64,
        /// Dead letters stored.
        dead_letters: u64,
        /// The cursor now saved.
        cursor: &'a serde_json::Value,
        /// The newest `occurred_at` among the batch's events (stored or already there).
        newest: Option<DateTime<Utc>>,
    },
    /// A source failed; the others go on.
    SourceFailed {
        /// Source id.
        source_id: &'a str,
        /// The error.
        error: &'a str,
        /// Wall time of the run, when known (not for a source whose task panicked).
        duration: Option<Duration>,
    },
    /// A source finished or was interrupted.
    SourceFinished {
        /// Source id.
        source_id: &'a str,
        /// Events newly stored in this run.
        events: u64,
        /// Wall time.
        duration: Duration,
        /// `Ok` or `Interrupted`.
        status: SourceStatusKind,
    },
    /// A finished run's HTTP counters (API sources; the others sent no request).
    RequestsCounted {
        /// Source id.
        source_id: &'a str,
        /// The run's stats: `responses`, `retries` and `rate_limit_waits` are counted.
        stats: &'a SourceStats,
    },
    /// The store committed one group of batches (one transaction).
    StoreCommitted {
        /// Batches in the group.
        batches: usize,
        /// How long the commit took.
        duration: Duration,
    },
}

/// Counts the event into `metrics`, then logs it.
pub fn record(metrics: &Metrics, event: InternalEvent<'_>) {
    match &event {
        InternalEvent::SourceStarted { source_id, .. } => metrics.source_seen(source_id),
        InternalEvent::BatchCommitted {
            source_id,
            events,
            duplicates,
            dead_letters,
            newest,
            ..
        } => {
            metrics.add_events(source_id, EventOutcome::Written, *events);
            metrics.add_events(source_id, EventOutcome::Duplicate, *duplicates);
            metrics.add_events(source_id, EventOutcome::Invalid, *dead_letters);
            if let Some(newest) = newest {
                metrics.seed_newest(source_id, *newest);
            }
        }
        InternalEvent::RequestsCounted { source_id, stats } => metrics.add_http(source_id, stats),
        InternalEvent::SourceFailed {
            source_id,
            duration,
            ..
        } => metrics.run_finished(source_id, RunResult::Failed, *duration),
        InternalEvent::SourceFinished {
            source_id,
            duration,
            status,
            ..
        } => {
            let result = match status {
                SourceStatusKind::Ok => RunResult::Ok,
                SourceStatusKind::Failed => RunResult::Failed,
                SourceStatusKind::Interrupted => RunResult::Interrupted,
            };
            metrics.run_finished(source_id, result, Some(*duration));
        }
        InternalEvent::StoreCommitted { duration, .. } => metrics.store_committed(*duration),
    }
    emit(event);
}

/// Logs the event (a source, which holds no [`Metrics`], reports through this; the engine
/// through [`record`]).
pub fn emit(event: InternalEvent<'_>) {
    match event {
        InternalEvent::SourceStarted { source_id, resumed } => {
            tracing::info!(source = source_id, resumed, "sync started");
        }
        InternalEvent::BatchCommitted {
            source_id,
            events,
            duplicates,
            dead_letters,
            cursor,
            ..
        } => {
            tracing::debug!(source = source_id, events, duplicates, dead_letters, %cursor, "batch committed");
        }
        InternalEvent::SourceFailed {
            source_id, error, ..
        } => {
            tracing::error!(source = source_id, "{error}");
        }
        InternalEvent::SourceFinished {
            source_id,
            events,
            duration,
            status,
        } => {
            tracing::info!(
                source = source_id,
                events,
                duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                status = status.as_str(),
                "sync finished"
            );
        }
        InternalEvent::RequestsCounted { source_id, stats } => {
            if stats.requests > 0 {
                tracing::debug!(
                    source = source_id,
                    requests = stats.requests,
                    retries = stats.retries,
                    rate_limit_waits = stats.rate_limit_waits,
                    not_modified = stats.not_modified,
                    "requests counted"
                );
            }
        }
        InternalEvent::StoreCommitted { batches, duration } => {
            tracing::trace!(
                batches,
                duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
                "store committed"
            );
        }
    }
}
