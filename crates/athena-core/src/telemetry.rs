//! Everything the engine reports is one of these events: each is logged in one place and bumps
//! its counter, so logs and metrics never disagree.

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters, read by `serve`'s `/metrics` and by tests.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Batches committed.
    pub batches_committed: AtomicU64,
    /// Events newly stored.
    pub events_written: AtomicU64,
    /// Events already stored.
    pub duplicates: AtomicU64,
    /// Dead letters stored.
    pub dead_letters: AtomicU64,
    /// Sources that failed.
    pub source_failures: AtomicU64,
}

/// The process's counters.
pub static METRICS: Metrics = Metrics {
    batches_committed: AtomicU64::new(0),
    events_written: AtomicU64::new(0),
    duplicates: AtomicU64::new(0),
    dead_letters: AtomicU64::new(0),
    source_failures: AtomicU64::new(0),
};

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
    },
    /// A followed branch no longer contains its stored tip (a force-push); its new commits are
    /// stored, the old ones stay.
    BranchRewritten {
        /// Source id.
        source_id: &'a str,
        /// The branch.
        branch: &'a str,
        /// The stored tip.
        old: &'a str,
        /// The tip now.
        new: &'a str,
    },
    /// A source failed; the others go on.
    SourceFailed {
        /// Source id.
        source_id: &'a str,
        /// The error.
        error: &'a str,
    },
    /// A source finished or was interrupted.
    SourceFinished {
        /// Source id.
        source_id: &'a str,
        /// Events newly stored in this run.
        events: u64,
        /// Wall time.
        duration_ms: u64,
        /// `ok` or `interrupted`.
        status: &'a str,
    },
}

/// Logs the event and bumps its counters.
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
        } => {
            METRICS.batches_committed.fetch_add(1, Ordering::Relaxed);
            METRICS.events_written.fetch_add(events, Ordering::Relaxed);
            METRICS.duplicates.fetch_add(duplicates, Ordering::Relaxed);
            METRICS
                .dead_letters
                .fetch_add(dead_letters, Ordering::Relaxed);
            tracing::debug!(source = source_id, events, duplicates, dead_letters, %cursor, "batch committed");
        }
        InternalEvent::BranchRewritten {
            source_id,
            branch,
            old,
            new,
        } => {
            tracing::info!(
                source = source_id,
                branch,
                old,
                new,
                "branch was rewritten (force-push); storing its new commits"
            );
        }
        InternalEvent::SourceFailed { source_id, error } => {
            METRICS.source_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(source = source_id, "{error}");
        }
        InternalEvent::SourceFinished {
            source_id,
            events,
            duration_ms,
            status,
        } => {
            tracing::info!(
                source = source_id,
                events,
                duration_ms,
                status,
                "sync finished"
            );
        }
    }
}
