//! Everything the engine reports is one of these events, each logged in one place. (Counters
//! for a metrics endpoint belong here too, beside the log line of the same event, once there is
//! an endpoint to read them.)

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

/// Logs the event.
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
