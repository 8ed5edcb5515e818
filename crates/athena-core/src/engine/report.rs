//! What a sync reports: each source's status and counts, added up as its batches commit.
//! A source's counts include only the batches the store has confirmed as committed.

use super::SyncOptions;
use crate::error::{ErrorKind, SourceError};
use crate::source::{Progress, SourceInfo, SourceStats};
use crate::store::{CommitReport, StoreError};

/// How a source's sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceStatusKind {
    /// Read to the end.
    Ok,
    /// Failed; what was committed before the failure stays.
    Failed,
    /// Stopped by Ctrl-C after committing the batches already handed to the store.
    Interrupted,
}

impl SourceStatusKind {
    /// `ok`, `failed` or `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatusKind::Ok => "ok",
            SourceStatusKind::Failed => "failed",
            SourceStatusKind::Interrupted => "interrupted",
        }
    }
}

/// The result of one source's sync.
#[derive(Debug, Clone)]
pub struct SourceReport {
    /// Source identity.
    pub info: SourceInfo,
    /// How it ended.
    pub status: SourceStatusKind,
    /// Events newly stored.
    pub events_written: u64,
    /// Events already stored.
    pub duplicates: u64,
    /// Dead letters stored.
    pub invalid: u64,
    /// The error, when it failed.
    pub error: Option<String>,
    /// What kind of error, when it failed.
    pub error_kind: Option<ErrorKind>,
    /// Counters, including the source's own.
    pub stats: SourceStats,
}

/// Why a source stopped: its kind and the message (secrets masked by the driver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    /// A failure of the engine or the store rather than of the source.
    pub fn other(message: String) -> Self {
        Failure {
            kind: ErrorKind::Other,
            message,
        }
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        Failure {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// The result of a sync.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// One report per source, in config order.
    pub sources: Vec<SourceReport>,
}

impl SyncReport {
    /// Whether every source finished without error.
    pub fn all_ok(&self) -> bool {
        self.sources
            .iter()
            .all(|s| s.status == SourceStatusKind::Ok)
    }

    /// The report as `sync --format json` prints it (and the Python package's `Store.sync`
    /// returns it): `{"sources": [{"id", "type", "status", "events_written", "duplicates",
    /// "invalid", "error", "error_kind", "duration_ms", "requests", "retries",
    /// "not_modified", "rate_limit_waits"}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let sources: Vec<serde_json::Value> = (self.sources.iter())
            .map(|s| {
                serde_json::json!({
                    "id": s.info.id,
                    "type": s.info.source_type,
                    "status": s.status.as_str(),
                    "events_written": s.events_written,
                    "duplicates": s.duplicates,
                    "invalid": s.invalid,
                    "error": s.error,
                    "error_kind": s.error_kind.map(|k| k.as_str()),
                    "duration_ms": s.stats.duration.as_millis() as u64,
                    // Beyond DESIGN's shape: what an API source spent.
                    "requests": s.stats.requests,
                    "retries": s.stats.retries,
                    "not_modified": s.stats.not_modified,
                    "rate_limit_waits": s.stats.rate_limit_waits,
                })
            })
            .collect();
        serde_json::json!({ "sources": sources })
    }
}

/// Counts a committed batch (or returns why it was not stored).
pub(super) fn take_commit(
    result: Result<CommitReport, StoreError>,
    progress: Option<Progress>,
    info: &SourceInfo,
    options: &SyncOptions,
    report: &mut SourceReport,
) -> Result<(), Failure> {
    match result {
        Ok(c) => {
            report.events_written += c.written;
            report.duplicates += c.duplicates;
            report.invalid += c.dead_letters;
            options
                .observer
                .batch_committed(info, report.events_written, progress);
            Ok(())
        }
        Err(e) => Err(Failure::other(format!(
            "source {}: storing a batch: {e}",
            info.id
        ))),
    }
}
