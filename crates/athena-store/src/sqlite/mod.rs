//! `SqliteStore`: the `Store` trait on one SQLite file (bundled SQLite, WAL).
//! A batch's events, dead letters, state changes and cursor commit in one transaction.
//!
//! - `open`: opening for a sync, for reading only, or plainly; configuring and migrating.
//! - `write`: staging batches in a group-commit transaction and committing it; runs; reset;
//!   `insert`: its events insert, with the values bound in place.
//! - `bulk`: a bulk load's time indexes, dropped while a sync writes and rebuilt at its end.
//! - `checkpoint`: the thread that checkpoints the WAL during a sync.
//! - `query`: the reads: events, sources' status, dead letters, cursors and state.
//! - `fts`: search text as an FTS5 query, and FTS5's refusals as advice;
//! - `search`: how a full-text condition is written, by how many events match;
//!   `search_cost`: the bounds a full-text query must keep before it runs.
//!
//! The tests sit in `tests/`, one file per module above except `checkpoint`.

use std::path::{Path, PathBuf};

use athena_core::{
    Batch, CommitReport, Cursor, Event, EventQuery, RunRecord, SourceInfo, SourceState,
    SourceStatus, Store, StoreError, StoredDeadLetter,
};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::lock::SyncLock;

mod bulk;
mod checkpoint;
mod compact;
mod copy;
mod fts;
mod insert;
pub(crate) mod links;
mod open;
mod outbox;
mod packed;
mod packer;
pub use packed::readable_events;
pub(crate) mod people;
mod query;
mod search;
pub mod search_cost;
mod write;

#[cfg(test)]
mod tests;

use bulk::BulkLoad;
use checkpoint::Checkpointer;
use write::Staged;

/// The SQLite event store.
pub struct SqliteStore {
    conn: Connection,
    /// The path as the caller named it (for messages).
    path: PathBuf,
    /// The same with symlinks resolved: what is opened and locked.
    resolved: PathBuf,
    /// Copies the WAL into the database on another thread during a sync.
    checkpointer: Option<Checkpointer>,
    /// The open group-commit transaction, if batches are staged (see `Store::stage_batch`).
    staged: Option<Staged>,
    /// Why the group's transaction was rolled back as a whole while staging a batch: its
    /// commit then fails, so no batch of it is taken as stored.
    lost_group: Option<String>,
    /// Set when opened for a sync: what decides whether the time indexes wait for its end.
    bulk: Option<BulkLoad>,
    /// The plans of recent full-text queries (see `search`): a query paged through, or asked
    /// again, is not counted again.
    search_plans: search::PlanCache,
    /// Whether each batch that stores events writes an outbox entry (`Outbox::keep_outbox`).
    keep_outbox: bool,
    /// The dictionaries of packed events met so far (see `packed`).
    codec: std::sync::Mutex<packed::Codec>,
    _lock: Option<SyncLock>,
}

impl SqliteStore {
    /// The codec of packed events, for a writer holding the store whole.
    fn codec_mut(&mut self) -> &mut packed::Codec {
        self.codec.get_mut().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn backend(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("store {}: {e}", path.display()).into())
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite connection, for the recall pool's progress handler.
    pub(crate) fn connection_handle(&self) -> &Connection {
        &self.conn
    }
}

impl Store for SqliteStore {
    fn load_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError> {
        self.select_cursor(source_id)
    }

    fn load_state(&mut self, source_id: &str) -> Result<SourceState, StoreError> {
        self.select_state(source_id)
    }

    fn commit_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        let staged = self.stage_batch(source, batch);
        self.commit_staged()?;
        staged
    }

    fn stage_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        self.stage_in_group(source, batch)
    }

    fn commit_staged(&mut self) -> Result<(), StoreError> {
        self.commit_group()
    }

    fn finish_sync(&mut self) -> Result<(), StoreError> {
        self.finish_bulk_load()
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.upsert_run(run)
    }

    fn reset_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        self.delete_cursor(source_id)
    }

    fn query_events(&self, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.select_events(q)
    }

    fn sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        self.select_sources_status()
    }

    fn kinds(&self) -> Result<Vec<athena_core::known::SourceKinds>, StoreError> {
        self.select_kinds()
    }

    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        self.select_dead_letters(source, limit)
    }

    fn related(
        &self,
        source_id: &str,
        id: &str,
        limit: usize,
    ) -> Result<Option<athena_core::links::Related>, StoreError> {
        crate::related::related(self, source_id, id, limit)
    }

    fn sessions(&self, events: &[Event]) -> Result<Vec<Option<String>>, StoreError> {
        crate::related::sessions(self, events)
    }

    fn read_unread_people(
        &mut self,
        linker: &athena_core::links::Linker,
    ) -> Result<u64, StoreError> {
        self.read_unread_people(linker)
    }

    fn batch_packer(&self) -> Option<std::sync::Arc<dyn athena_core::BatchPacker>> {
        match packer::SourcePacker::new(&self.conn) {
            Ok(p) => Some(std::sync::Arc::new(p)),
            // A store that cannot say its dictionaries packs on its writer as before.
            Err(e) => {
                tracing::warn!(store = %self.path.display(), "packing on the writer: {e}");
                None
            }
        }
    }

    fn compact(&mut self) -> Result<athena_core::Compacted, StoreError> {
        self.compact_all()
    }

    fn relink(&mut self, linker: &athena_core::links::Linker) -> Result<u64, StoreError> {
        self.relink_all(linker)
    }

    fn set_people(
        &mut self,
        people: &[athena_core::people::PersonConfig],
    ) -> Result<(), StoreError> {
        self.configure_people(people)
    }

    fn people(&self) -> Result<Vec<athena_core::people::Person>, StoreError> {
        self.select_people()
    }

    fn export_events(&self, after: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select_export(after, limit)
    }

    fn export_rest(&self) -> Result<athena_core::StoreRest, StoreError> {
        self.select_rest()
    }

    fn import_events(&mut self, events: &[Event]) -> Result<u64, StoreError> {
        self.insert_imported(events)
    }

    fn import_rest(&mut self, rest: &athena_core::StoreRest) -> Result<(), StoreError> {
        self.insert_rest(rest)
    }

    fn outbox(&mut self) -> Option<&mut dyn athena_core::outbox::Outbox> {
        Some(self)
    }
}
