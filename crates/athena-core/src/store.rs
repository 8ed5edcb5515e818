//! The `Store` trait: where events, cursors and dead letters are kept.
//!
//! The engine only needs [`Store::load_cursor`], [`Store::load_state`], [`Store::stage_batch`]
//! with [`Store::commit_staged`] (or [`Store::commit_batch`] alone) and [`Store::record_run`];
//! the query methods serve the CLI's `events` and `status`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cursor::Cursor;
use crate::event::Event;
use crate::source::{Batch, SourceInfo, SourceState};

/// An event store.
///
/// The one promise a backend must keep: [`commit_batch`](Store::commit_batch) stores a batch's
/// events, its dead letters, its state changes and its cursor atomically. Inserting an event whose `(source_id, id)`
/// is already stored is not an error; it is counted as a duplicate and the stored event is kept.
pub trait Store: Send {
    /// The cursor saved by the last committed batch of `source_id`.
    fn load_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError>;

    /// The per-item state of `source_id`, as its committed batches left it.
    fn load_state(&mut self, source_id: &str) -> Result<SourceState, StoreError>;

    /// Stores a batch, its state changes and its cursor in one transaction.
    fn commit_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError>;

    /// Group commit: stores a batch inside the store's open transaction (opening one when none
    /// is open), where it stays, invisible and not durable, until [`Store::commit_staged`].
    /// A batch that fails is undone alone, so batches staged earlier (of this or other
    /// sources) still commit — unless its failure undid the whole transaction (SQLite does on
    /// some I/O errors): then the next [`Store::commit_staged`] fails, so that none of those
    /// batches is taken as stored. The report counts what the batch adds once committed.
    ///
    /// When a bulk sync outruns the store, the engine stages the batches that are already
    /// waiting and commits them together: one commit, and one rewrite of each index page it
    /// touches, for many batches. A batch's cursor is still stored with its events, so a crash
    /// loses whole batches from the newest back and their cursors with them.
    ///
    /// The default commits each batch at once ([`Store::commit_batch`]).
    fn stage_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        self.commit_batch(source, batch)
    }

    /// Commits every batch staged since the last commit; on failure none of them is stored.
    fn commit_staged(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Called when a sync's last batch has been handed over (a long-lived writer, as `serve`
    /// has, calls it after each run): commits what is staged and finishes whatever the store
    /// deferred to the end of the sync (the SQLite store builds indexes it left out during a
    /// bulk load). The default commits what is staged.
    fn finish_sync(&mut self) -> Result<(), StoreError> {
        self.commit_staged()
    }

    /// Records how a sync of a source ended (for `status`).
    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError>;

    /// Forgets a source's cursor and per-item state; returns whether there was a cursor.
    fn reset_cursor(&mut self, source_id: &str) -> Result<bool, StoreError>;

    /// Events matching `query`, newest first.
    fn query_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError>;

    /// Per-source status: cursor, counts, last run.
    fn sources_status(&self) -> Result<Vec<SourceStatus>, StoreError>;

    /// Every source the store knows, with the kinds of its events: what
    /// [`Self::sources_status`] says of them, which a store may answer more cheaply.
    fn kinds(&self) -> Result<Vec<crate::known::SourceKinds>, StoreError> {
        let status = self.sources_status()?;
        Ok(status.iter().map(Into::into).collect())
    }

    /// Stored dead letters, newest first; only `source`'s when given.
    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError>;

    /// The event `id` of `source_id` (`None`: not stored) and up to `limit` events related to
    /// it: about or mentioning a thing it is about or mentions (see [`links`](crate::links)).
    fn related(
        &self,
        source_id: &str,
        id: &str,
        limit: usize,
    ) -> Result<Option<crate::links::Related>, StoreError> {
        let _ = (source_id, id, limit);
        Err(StoreError::Query(
            "this store keeps no links between events".into(),
        ))
    }

    /// The work item naming each event's episode of linked events (see
    /// [`links::session_of`](crate::links::session_of)): an issue key or a GitHub issue or
    /// pull request it is about or mentions, itself or through the events about its things;
    /// `None` for an event linked to none, and for every event of a store keeping no links.
    fn sessions(&self, events: &[Event]) -> Result<Vec<Option<String>>, StoreError> {
        Ok(vec![None; events.len()])
    }

    /// Makes `people` (the config's `[[people]]`) the configured people, and works out every
    /// person again from the stored handles and joins with them pinned (see
    /// [`people`](crate::people)).
    fn set_people(&mut self, people: &[crate::people::PersonConfig]) -> Result<(), StoreError> {
        let _ = people;
        Ok(())
    }

    /// Every person the stored events name, with their handles.
    fn people(&self) -> Result<Vec<crate::people::Person>, StoreError> {
        Err(StoreError::Query("this store keeps no people".into()))
    }

    /// Finds every stored event's things and people again with `linker` (after the `[links]`
    /// settings changed, or to read the people of events stored before people were kept),
    /// replacing the links and people stored; returns how many events were read.
    fn relink(&mut self, linker: &crate::links::Linker) -> Result<u64, StoreError> {
        let _ = linker;
        Err(StoreError::Query(
            "this store keeps no links between events".into(),
        ))
    }

    /// Reads, once, the people of the events stored before people were kept: a store
    /// upgraded from before them has its events linked by the upgrade, which cannot read
    /// people (it knows no source types); the first sync or `serve` with `linker` does it
    /// (as `relink` would) and returns how many events it read, 0 when none were left unread.
    fn read_unread_people(&mut self, linker: &crate::links::Linker) -> Result<u64, StoreError> {
        let _ = linker;
        Ok(0)
    }

    /// What packs this store's batches on their sources' tasks, if it packs them (SQLite:
    /// see its `packed` module); asked once when an engine starts on the store.
    fn batch_packer(&self) -> Option<std::sync::Arc<dyn crate::BatchPacker>> {
        None
    }

    /// Makes the store smaller without changing anything it answers (`athena-ingest
    /// compact`; on SQLite: packs the events still kept as JSON text, training a source's
    /// dictionary where it has enough of them, then gives the space freed back to the file
    /// system).
    fn compact(&mut self) -> Result<Compacted, StoreError> {
        Err(StoreError::Query(
            "this store has no compact form: its own maintenance (VACUUM) keeps it".into(),
        ))
    }

    /// For moving a store (`athena-ingest copy`): up to `limit` stored events after the
    /// storing position `after` (0: from the first), in storing order, each with its position.
    fn export_events(&self, after: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        let _ = (after, limit);
        Err(StoreError::Query("this store cannot be copied from".into()))
    }

    /// For moving a store: everything but the events.
    fn export_rest(&self) -> Result<StoreRest, StoreError> {
        Err(StoreError::Query("this store cannot be copied from".into()))
    }

    /// For moving a store: stores `events` as they were stored elsewhere (their
    /// `ingested_at` kept; one already here is left as it is), in one transaction; returns
    /// how many were new.
    fn import_events(&mut self, events: &[Event]) -> Result<u64, StoreError> {
        let _ = events;
        Err(StoreError::Query("this store cannot be copied to".into()))
    }

    /// For moving a store: its cursors, runs, dead letters and state, in one transaction
    /// (replacing what this store has of the same sources and keys).
    fn import_rest(&mut self, rest: &StoreRest) -> Result<(), StoreError> {
        let _ = rest;
        Err(StoreError::Query("this store cannot be copied to".into()))
    }

    /// Its outbox, for feeds, if it can keep one.
    fn outbox(&mut self) -> Option<&mut dyn crate::outbox::Outbox> {
        None
    }
}

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Events packed that were JSON text.
    pub events_packed: u64,
    /// Sources given a dictionary.
    pub dictionaries_trained: u64,
    /// The store's size before, in bytes.
    pub bytes_before: u64,
    /// And after.
    pub bytes_after: u64,
}

/// A store's content but its events, as [`Store::export_rest`] gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreRest {
    /// Each source's cursor: (source id, source type, cursor, when it was saved).
    pub cursors: Vec<(String, String, Cursor, DateTime<Utc>)>,
    /// Each source's last run.
    pub runs: Vec<RunRecord>,
    /// Every dead letter, oldest first.
    pub dead_letters: Vec<StoredDeadLetter>,
    /// Every source's per-item state: (source id, key, value).
    pub state: Vec<(String, Vec<u8>, Vec<u8>)>,
}

/// A dead letter as stored: which source rejected it, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDeadLetter {
    /// The source.
    pub source_id: String,
    /// Where the input came from, why it was rejected, and the input.
    pub letter: crate::DeadLetter,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// What a batch commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Events newly stored.
    pub written: u64,
    /// Events whose id was already stored.
    pub duplicates: u64,
    /// Dead letters stored.
    pub dead_letters: u64,
}

/// How one source's sync ended, as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// Source id.
    pub source_id: String,
    /// Source type.
    pub source_type: String,
    /// When it ended (for `running`, when it started).
    pub finished_at: DateTime<Utc>,
    /// How it ended; [`RunStatus::Running`] from the start of a sync until its end is recorded.
    pub status: RunStatus,
    /// The error, if it failed.
    pub error: Option<String>,
    /// Its kind (`unauthorized`, `rate_limited`, `http`, `io`, `cursor`, `config`, `other`).
    pub error_kind: Option<String>,
}

/// How a source's run ended, as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunStatus {
    /// Read to the end.
    Ok,
    /// Failed; what was committed before the failure stays.
    Failed,
    /// Stopped by Ctrl-C after committing what was handed to the store.
    Interrupted,
    /// Started: recorded before anything is read, and replaced when the run ends.
    Running,
    /// Started and never recorded its end, while no sync holds the store: it was killed, or
    /// the store could not take the record (a full disk). Only reported, never stored.
    Unfinished,
}

impl RunStatus {
    const ALL: [RunStatus; 5] = [
        RunStatus::Ok,
        RunStatus::Failed,
        RunStatus::Interrupted,
        RunStatus::Running,
        RunStatus::Unfinished,
    ];

    /// `ok`, `failed`, `interrupted`, `running` or `unfinished`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Running => "running",
            RunStatus::Unfinished => "unfinished",
        }
    }

    /// The status [`RunStatus::as_str`] names.
    pub fn parse(text: &str) -> Option<Self> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl From<crate::engine::SourceStatusKind> for RunStatus {
    fn from(kind: crate::engine::SourceStatusKind) -> Self {
        match kind {
            crate::engine::SourceStatusKind::Ok => RunStatus::Ok,
            crate::engine::SourceStatusKind::Failed => RunStatus::Failed,
            crate::engine::SourceStatusKind::Interrupted => RunStatus::Interrupted,
        }
    }
}

/// A filter over stored events. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only these source ids.
    pub sources: Vec<String>,
    /// Only these kinds.
    pub kinds: Vec<String>,
    /// Actor contains this text (case-insensitive).
    pub actor: Option<String>,
    /// Occurred at or after.
    pub since: Option<DateTime<Utc>>,
    /// Occurred before.
    pub until: Option<DateTime<Utc>>,
    /// Only events that ended one of these ways (events without an outcome never match).
    pub outcomes: Vec<crate::Outcome>,
    /// Only events naming this person (doing it or named by it): one of their handles
    /// (`ada@corp.com`, `github:ada-l`), their person id, or a configured person's name
    /// (`Ada` for `person:Ada`) (see [`people`](crate::people)).
    pub person: Option<String>,
    /// Full-text query over title and body (see [`crate::search`]).
    pub search: Option<String>,
    /// How the search's words match: all of them (time order), or any (best match first).
    pub search_match: crate::search::SearchMatch,
    /// At most this many events.
    pub limit: Option<usize>,
}

/// What `status` shows for a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    /// Source id.
    pub source_id: String,
    /// Source type, if known.
    pub source_type: Option<String>,
    /// The saved cursor.
    pub cursor: Option<Cursor>,
    /// Events stored.
    pub events: u64,
    /// Dead letters stored.
    pub dead_letters: u64,
    /// When the last sync ended (or, if it never recorded its end, when it started).
    pub last_sync: Option<DateTime<Utc>>,
    /// How it ended: `ok`, `failed`, `interrupted`; `running` while a sync holds the store;
    /// `unfinished` when a sync started and never recorded its end (killed, or the store could
    /// not be written, as on a full disk).
    pub last_status: Option<RunStatus>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// The error's kind (see [`ErrorKind`](crate::ErrorKind)), if it failed.
    pub last_error_kind: Option<String>,
    /// The worker holding the source's lease, when workers share the store (PostgreSQL).
    pub worker: Option<String>,
    /// Its `priority`, when the caller read the config (the store does not keep it).
    pub priority: Option<i32>,
    /// The kinds of its stored events, the most frequent first (ties by name).
    pub kinds: Vec<KindCount>,
}

/// How many stored events of one source are of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCount {
    /// The kind: `commit`, `http_request`, …
    pub kind: String,
    /// Its events stored (duplicates not counted).
    pub events: u64,
}

/// Puts `kinds` in the order [`SourceStatus::kinds`] promises: the most frequent first, ties
/// by name.
pub fn sort_kinds(kinds: &mut [KindCount]) {
    kinds.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.kind.cmp(&b.kind)));
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the store for a sync.
    #[error("store is busy: another athena-ingest sync is using {} (try again when it has finished)", path.display())]
    Busy {
        /// The store file.
        path: PathBuf,
    },
    /// The path holds something that is not an athena-ingest store (another application's
    /// SQLite database, a file of another kind, a directory, a device): it is refused before
    /// anything is written to it or beside it.
    #[error("{} is not an athena-ingest store: {reason}", path.display())]
    NotAStore {
        /// The path as given.
        path: PathBuf,
        /// What it is instead, on one line.
        reason: String,
    },
    /// The store was written by a newer release, whose schema this one cannot read or write:
    /// the user's to fix (upgrade athena-ingest), like [`StoreError::NotAStore`].
    #[error("store {}: schema version {version} is newer than this release understands (it reads up to {supported}); upgrade athena-ingest", path.display())]
    NewerSchema {
        /// The store file.
        path: PathBuf,
        /// The schema version the file has.
        version: i64,
        /// The newest schema version this release reads.
        supported: i64,
    },
    /// The store's schema is damaged (a migration failed, a cursor is not JSON), or there is
    /// no store yet where one is read.
    #[error("store {}: {message}", path.display())]
    Schema {
        /// The store file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A batch was refused because an earlier batch of the same source failed in this run.
    #[error("batch refused: an earlier batch of source {source_id} failed to commit")]
    SourceFailed {
        /// The source.
        source_id: String,
    },
    /// A worker sharing the store no longer holds the source's lease: another worker has
    /// taken it (this one paused, or lost its connection, past the lease's time). Nothing of
    /// the batch was written; the worker must stop running the source.
    #[error("source {source_id}: this worker's lease was taken over (epoch {held}, now {current}): nothing written")]
    Fenced {
        /// The source.
        source_id: String,
        /// The lease epoch this worker held.
        held: i64,
        /// The lease's epoch in the store (0: no one holds it).
        current: i64,
    },
    /// The query cannot be run.
    #[error("invalid query: {0}")]
    Query(String),
    /// The search text cannot be read as search syntax: its text is advice for the user.
    #[error(transparent)]
    SearchSyntax(#[from] crate::search::SearchSyntaxError),
    /// A full-text query asks for more than a store runs (too many terms, `OR`s or
    /// prefixes): refused before it runs, saying which bound and what to do instead.
    #[error("search too costly: {0}")]
    TooCostly(String),
    /// A recall query was stopped before it finished: its time ran out, or it was
    /// cancelled (see [`QueryBudget`](crate::recall::QueryBudget)).
    #[error("{0}")]
    Interrupted(crate::recall::Spent),
    /// An error of the backend.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

#[cfg(test)]
mod run_status_tests {
    use super::*;
    use crate::engine::SourceStatusKind;

    #[test]
    fn run_statuses_are_stored_by_name_and_read_back() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunStatus::parse("exploded"), None);
        assert_eq!(
            RunStatus::from(SourceStatusKind::Interrupted).as_str(),
            "interrupted"
        );
    }
}
