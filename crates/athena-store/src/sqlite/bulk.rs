//! A bulk load's time indexes: dropped while a large sync writes, rebuilt once at its end.
//! Queries stay correct without them; a sync that dies before the rebuild leaves it to the next.

use athena_core::{Store, StoreError};
use rusqlite::Connection;

use super::{backend, SqliteStore};

/// A bulk load into a store with few events builds the time indexes once, at its end, instead
/// of inserting into them row by row.
///
/// Rows whose times are not in order (a log read after a newer one, a history imported
/// newest first, a benchmark that repeats a log) land all over `events_by_time` and
/// `events_by_source_time`; keeping those indexes up to date then costs more than the rest of
/// the insert. Sorting every row once at the end (`CREATE INDEX`) is several times cheaper.
/// The indexes are dropped only when a sync has written at least [`BULK_MIN_ROWS`] rows and
/// more rows than the store held before it, so the rebuild sorts at most about twice the rows
/// the sync itself adds. If the sync dies before the rebuild, the next sync rebuilds them when
/// it opens the store; queries in the meantime are correct, only slower.
#[derive(Debug, Default)]
pub(super) struct BulkLoad {
    /// `max(seq)` when the sync opened the store: about the number of rows it held.
    pub(super) rows_before: i64,
    /// Rows this sync has committed.
    pub(super) rows_written: i64,
    /// Whether the time indexes are dropped until the end of the sync.
    pub(super) suspended: bool,
}

/// Rows a sync must have written before its time indexes may wait for its end.
pub(super) const BULK_MIN_ROWS: i64 = 50_000;

/// The time indexes, as migration 1 creates them (a test compares the two).
pub(super) const TIME_INDEXES: &str =
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (occurred_at);
CREATE INDEX IF NOT EXISTS events_by_source_time ON events (source_id, occurred_at);";

impl SqliteStore {
    /// Inside a group's transaction: drops the time indexes when this sync has become a bulk
    /// load into a store with fewer rows than it has written (see [`BulkLoad`]).
    pub(super) fn suspend_time_indexes_if_bulk(&mut self) -> rusqlite::Result<bool> {
        let Some(bulk) = &mut self.bulk else {
            return Ok(false);
        };
        if bulk.suspended
            || bulk.rows_written < BULK_MIN_ROWS
            || bulk.rows_written <= bulk.rows_before
        {
            return Ok(false);
        }
        self.conn.execute_batch(
            "DROP INDEX IF EXISTS events_by_time; DROP INDEX IF EXISTS events_by_source_time;",
        )?;
        bulk.suspended = true;
        tracing::debug!(
            store = %self.path.display(),
            rows_before = bulk.rows_before,
            rows_written = bulk.rows_written,
            "bulk load: time indexes are built at the end of the sync"
        );
        Ok(true)
    }

    /// [`Store::finish_sync`](athena_core::Store::finish_sync): commits what is staged, then builds
    /// the time indexes if this sync dropped them.
    pub(super) fn finish_bulk_load(&mut self) -> Result<(), StoreError> {
        // Whatever happened to the last group, the indexes are built.
        let committed = self.commit_staged();
        let Some(bulk) = &mut self.bulk else {
            return committed;
        };
        // A long-lived writer (`serve`) finishes after each run: what this load wrote now
        // counts as held, so a later trickle of live events does not drop the indexes again.
        bulk.rows_before += bulk.rows_written;
        bulk.rows_written = 0;
        if !bulk.suspended {
            return committed;
        }
        let started = std::time::Instant::now();
        build_time_indexes(&self.conn).map_err(|e| backend(&self.path, e))?;
        bulk.suspended = false;
        tracing::debug!(
            store = %self.path.display(),
            ms = started.elapsed().as_millis() as u64,
            "time indexes built after a bulk load"
        );
        if let Some(c) = &self.checkpointer {
            c.committed();
        }
        committed
    }
}

/// Builds the time indexes if they are missing, in one transaction. The sort spills to a
/// temporary file, not to memory (the store's `temp_store`): a million rows' keys held in memory
/// were a quarter of a log sync's peak RSS. Where no temporary file can be written (a full or
/// read-only temporary directory), it sorts in memory as before.
pub(super) fn build_time_indexes(conn: &Connection) -> rusqlite::Result<()> {
    let build = |temp_store: &str| {
        let built = conn.execute_batch(&format!(
            "PRAGMA temp_store = {temp_store}; BEGIN IMMEDIATE; {TIME_INDEXES} COMMIT;"
        ));
        if built.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        built
    };
    let built = build("FILE").or_else(|e| {
        tracing::debug!(error = %e, "building the time indexes through a temporary file failed; in memory");
        build("MEMORY")
    });
    let _ = conn.execute_batch("PRAGMA temp_store = MEMORY");
    built
}
