//! `SqliteStore`: the `Store` trait on one SQLite file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use athena_core::{
    Batch, CommitReport, Cursor, DeadLetter, Event, EventQuery, Outcome, RunRecord, SourceInfo,
    SourceState, SourceStatus, Store, StoreError, StoredDeadLetter,
};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};

use crate::inspect::{self, Found};
use crate::lock::{self, SyncLock};
use crate::schema::{CURRENT_VERSION, MIGRATIONS};

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
    _lock: Option<SyncLock>,
}

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
struct BulkLoad {
    /// `max(seq)` when the sync opened the store: about the number of rows it held.
    rows_before: i64,
    /// Rows this sync has committed.
    rows_written: i64,
    /// Whether the time indexes are dropped until the end of the sync.
    suspended: bool,
}

/// Rows a sync must have written before its time indexes may wait for its end.
const BULK_MIN_ROWS: i64 = 50_000;

/// The time indexes, as migration 1 creates them (a test compares the two).
const TIME_INDEXES: &str = "CREATE INDEX IF NOT EXISTS events_by_time ON events (occurred_at);
CREATE INDEX IF NOT EXISTS events_by_source_time ON events (source_id, occurred_at);";

/// SQLite's page cache during a sync, in KiB: room for a commit group's dirty pages (see
/// `Store::stage_batch`) and the index pages it touches.
const SYNC_CACHE_KIB: i64 = 48 * 1024;

/// What the open group-commit transaction needs to know at its commit.
struct Staged {
    /// The largest `seq` before the group: rows above it enter the full-text index at commit.
    last_seq: i64,
    /// Whether the group dropped the time indexes (undone if the group is rolled back).
    suspends_indexes: bool,
    /// Batches staged in it so far.
    batches: usize,
}

/// A thread with its own connection that checkpoints the WAL whenever commits have come in, so
/// the writer never stops to copy pages itself. In WAL mode a passive checkpoint runs beside
/// the writer: neither waits for the other. Commits that arrive during a checkpoint are served
/// by the next one.
struct Checkpointer {
    commits: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// WAL pages after which the writer checkpoints by itself (1 GiB of 64 KiB pages): the
/// checkpointer thread normally keeps the WAL far below this.
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

impl Checkpointer {
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        let (commits, rx) = std::sync::mpsc::channel::<()>();
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("athena-store-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    while rx.try_recv().is_ok() {}
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(store = %shown, "checkpoint failed: {e}");
                    }
                }
            })
            .ok()?;
        Some(Checkpointer {
            commits: Some(commits),
            thread: Some(thread),
        })
    }

    fn committed(&self) {
        if let Some(tx) = &self.commits {
            let _ = tx.send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.commits.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

fn io_backend(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("store {}: {e}", path.display()).into())
}

fn newer_schema(path: &Path, version: i64) -> StoreError {
    StoreError::Schema {
        path: path.to_path_buf(),
        message: format!(
            "schema version {version} is newer than this release understands ({CURRENT_VERSION}); upgrade athena-ingest"
        ),
    }
}

/// A read-only connection could not set up the WAL's shared memory (`-shm`), as in a directory
/// it cannot write.
fn cannot_share_wal(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ReadOnly || f.code == rusqlite::ErrorCode::CannotOpen
    )
}

/// The oldest schema version whose tables the read queries (`query_events`, `sources_status`,
/// `dead_letters`) can run on: a reader does not migrate, so an older store is read as it is.
const OLDEST_READABLE: i64 = 1;

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// A path that holds something else (another application's SQLite database, a file that is
    /// not SQLite, a directory, a device) is refused with [`StoreError::NotAStore`] before
    /// anything is written to it or beside it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let resolved = SqliteStore::writable(path)?;
        SqliteStore::open_with(path, resolved)
    }

    /// Opens the store for a sync: takes the store's sync lock first, waiting up to `wait` for
    /// another sync to finish, then fails with [`StoreError::Busy`]. The lock is taken on the
    /// resolved path, so two names of one store (a symlink) are one store. A path that is no
    /// store is refused as by [`SqliteStore::open`], before the lock file is created.
    pub fn open_for_sync(path: &Path, wait: Duration) -> Result<Self, StoreError> {
        let resolved = SqliteStore::writable(path)?;
        let lock = lock::acquire(&resolved, path, wait)?;
        let mut store = SqliteStore::open_with(path, resolved)?;
        store._lock = Some(lock);
        store
            .conn
            .pragma_update(None, "cache_size", -SYNC_CACHE_KIB)
            .map_err(|e| backend(path, e))?;
        // A sync that died during a bulk load left its time indexes unbuilt.
        store
            .conn
            .execute_batch(TIME_INDEXES)
            .map_err(|e| backend(path, e))?;
        let rows_before = store
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(|e| backend(path, e))?;
        store.bulk = Some(BulkLoad {
            rows_before,
            ..BulkLoad::default()
        });
        store.checkpointer = Checkpointer::start(&store.resolved);
        if store.checkpointer.is_some() {
            store
                .conn
                .pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
                .map_err(|e| backend(path, e))?;
            // Keep the WAL file's size between checkpoints instead of truncating and growing it
            // again; it is truncated when the sync closes the store.
            store
                .conn
                .pragma_update(None, "journal_size_limit", 1i64 << 30)
                .map_err(|e| backend(path, e))?;
        }
        Ok(store)
    }

    /// Opens an existing store for reading only (SQLite's read-only mode): it never creates,
    /// migrates or changes the file, its journal mode or its lock, so it is safe on any path a
    /// user names. A missing file, an empty one and anything that is not a store are errors.
    ///
    /// A store at an older schema version is read as it is. SQLite readers of a WAL store
    /// share a `-shm` file beside it, which they create if it is missing; in a directory the
    /// reader cannot write, a cleanly closed store (no `-wal` left) is read as immutable
    /// instead, which then does not see syncs that run while it is open.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let resolved = inspect::resolve(path).map_err(|e| io_backend(path, e))?;
        let no_store = |what: &str| StoreError::Schema {
            path: path.to_path_buf(),
            message: format!("{what} (run `athena-ingest sync` first, or pass --db)"),
        };
        match inspect::inspect(path, &resolved)? {
            Found::Nothing => return Err(no_store("no store here yet")),
            Found::Empty => return Err(no_store("no store here yet: the file is empty")),
            Found::Store { version } if version > CURRENT_VERSION => {
                return Err(newer_schema(path, version))
            }
            Found::Store { version } if version < OLDEST_READABLE => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    message: format!(
                        "schema version {version} is too old to read; run `athena-ingest sync` once to upgrade it"
                    ),
                })
            }
            Found::Store { .. } => {}
        }
        let conn = match inspect::connect(&resolved, false).and_then(|c| {
            // Connecting is lazy: the first read is what needs the `-shm` file.
            c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) if cannot_share_wal(&e) && !inspect::has_wal(&resolved) => {
                inspect::connect(&resolved, true).map_err(|e| backend(path, e))?
            }
            Err(e) => return Err(backend(path, e)),
        };
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| backend(path, e))?;
        Ok(SqliteStore::with_connection(conn, path, resolved))
    }

    /// Resolves `path` and checks that a writer may open it: nothing there yet, an empty
    /// database, or an athena-ingest store this release understands.
    fn writable(path: &Path) -> Result<PathBuf, StoreError> {
        let resolved = inspect::resolve(path).map_err(|e| io_backend(path, e))?;
        match inspect::inspect(path, &resolved)? {
            Found::Store { version } if version > CURRENT_VERSION => {
                Err(newer_schema(path, version))
            }
            Found::Nothing | Found::Empty | Found::Store { .. } => Ok(resolved),
        }
    }

    fn open_with(path: &Path, resolved: PathBuf) -> Result<Self, StoreError> {
        // One connection per thread: SQLite's own per-call mutexes are not needed.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&resolved, flags).map_err(|e| backend(path, e))?;
        let mut store = SqliteStore::with_connection(conn, path, resolved);
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    fn with_connection(conn: Connection, path: &Path, resolved: PathBuf) -> Self {
        SqliteStore {
            conn,
            path: path.to_path_buf(),
            resolved,
            checkpointer: None,
            staged: None,
            lost_group: None,
            bulk: None,
            _lock: None,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| backend(&path, e))?;
        // WAL: readers never block the writer. synchronous=NORMAL keeps every committed
        // transaction across a process crash; only an OS crash can lose the last few, and then
        // events and cursor are lost together, never one without the other.
        // 64 KiB pages (for new stores; a page size is fixed once a database has a page): an
        // event row is about 650 bytes, and per-page work (a commit's WAL frames and their
        // checksums, the checkpoint's copies) dominated a bulk sync with SQLite's 4 KiB default.
        self.conn
            .execute_batch(
                "PRAGMA page_size = 65536;
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA temp_store = MEMORY;
                 PRAGMA cache_size = -16000;
                 PRAGMA wal_autocheckpoint = 2000;
                 PRAGMA journal_size_limit = 67108864;",
            )
            .map_err(|e| backend(&path, e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| backend(&path, e))?;
        if version > CURRENT_VERSION {
            return Err(newer_schema(&path, version));
        }
        if version == CURRENT_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| backend(&path, e))?;
        // Another process may have migrated while we waited for the write lock.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| backend(&path, e))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(|e| StoreError::Schema {
                path: path.clone(),
                message: format!("migration to version {} failed: {e}", i + 1),
            })?;
        }
        tx.pragma_update(None, "user_version", CURRENT_VERSION)
            .map_err(|e| backend(&path, e))?;
        tx.commit().map_err(|e| backend(&path, e))?;
        tracing::debug!(store = %path.display(), from = version, to = CURRENT_VERSION, "schema migrated");
        Ok(())
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| backend(&self.path, e))
    }

    /// Total number of stored events.
    pub fn count_events(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| backend(&self.path, e))
    }

    /// Inside a group's transaction: drops the time indexes when this sync has become a bulk
    /// load into a store with fewer rows than it has written (see [`BulkLoad`]).
    fn suspend_time_indexes_if_bulk(&mut self) -> rusqlite::Result<bool> {
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

    /// Abandons the open group: nothing of it is stored, and the time indexes are back if it
    /// had dropped them.
    fn rollback_group(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let (Some(staged), Some(bulk)) = (self.staged.take(), &mut self.bulk) {
            if staged.suspends_indexes {
                bulk.suspended = false;
            }
        }
    }

    /// One batch's rows, dead letters, state changes and cursor, written inside the open
    /// transaction.
    fn stage_into(&self, source: &SourceInfo, batch: &Batch) -> Result<CommitReport, StoreError> {
        let be = |e| backend(&self.path, e);
        let now = millis(Utc::now());
        let mut report = CommitReport::default();
        {
            let mut insert = self
                .conn
                .prepare_cached(
                    "INSERT INTO events (id, source_id, source_type, kind, occurred_at, ingested_at,
                        actor, title, body, url, outcome, context, metadata)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (source_id, id) DO NOTHING",
                )
                .map_err(be)?;
            for (i, e) in batch.events.iter().enumerate() {
                let encoded;
                let (context, metadata) = match batch.json_of(i) {
                    Some(j) => (j.context.as_str(), j.metadata.as_str()),
                    None => {
                        encoded = (
                            serde_json::to_string(&e.context).unwrap_or_else(|_| "{}".into()),
                            serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()),
                        );
                        (encoded.0.as_str(), encoded.1.as_str())
                    }
                };
                let n = insert
                    .execute(params![
                        e.id,
                        source.id,
                        source.source_type,
                        e.kind,
                        millis(e.occurred_at),
                        now,
                        e.actor,
                        e.title,
                        e.body,
                        e.url,
                        e.outcome.map(Outcome::as_str),
                        context,
                        metadata,
                    ])
                    .map_err(be)?;
                if n == 1 {
                    report.written += 1;
                } else {
                    report.duplicates += 1;
                }
            }
            let mut dead = self
                .conn
                .prepare_cached(
                    "INSERT INTO dead_letters (source_id, origin, reason, raw, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (source_id, origin) DO NOTHING",
                )
                .map_err(be)?;
            for d in &batch.dead_letters {
                report.dead_letters += dead
                    .execute(params![source.id, d.origin, d.reason, d.raw, now])
                    .map_err(be)? as u64;
            }
            if !batch.state.is_empty() {
                let mut put = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO source_state (source_id, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                    )
                    .map_err(be)?;
                let mut remove = self
                    .conn
                    .prepare_cached("DELETE FROM source_state WHERE source_id = ?1 AND key = ?2")
                    .map_err(be)?;
                for change in &batch.state {
                    match &change.value {
                        Some(v) => put.execute(params![source.id, change.key, v]),
                        None => remove.execute(params![source.id, change.key]),
                    }
                    .map_err(be)?;
                }
            }
            let cursor =
                serde_json::to_string(batch.checkpoint.as_json()).unwrap_or_else(|_| "null".into());
            self.conn
                .prepare_cached(
                    "INSERT INTO cursors (source_id, source_type, cursor, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source_id) DO UPDATE SET
                    source_type = excluded.source_type, cursor = excluded.cursor,
                    updated_at = excluded.updated_at",
                )
                .map_err(be)?
                .execute(params![source.id, source.source_type, cursor, now])
                .map_err(be)?;
        }
        Ok(report)
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn json_object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// What `sources_status` reports for a `running` run that no sync holds.
const UNFINISHED: &str = "unfinished";

/// A `LIMIT` for SQLite, whose integers are i64: any larger count means "all of them".
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `text` as a `LIKE` pattern (with `ESCAPE '\'`) that matches exactly that text.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Makes a user's search text safe for FTS5: plain words become quoted terms that must all
/// match; text that already uses FTS5 syntax (quotes, `*`, `AND`/`OR`/`NOT`, `NEAR`, `col:`) is
/// passed through.
fn fts_query(q: &str) -> String {
    let advanced = q.contains(['"', '*', '(', ')', ':', '^'])
        || q.split_whitespace()
            .any(|w| matches!(w, "AND" | "OR" | "NOT") || w.starts_with("NEAR"));
    if advanced {
        return q.to_string();
    }
    q.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store for SqliteStore {
    fn load_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT cursor FROM cursors WHERE source_id = ?1",
                [source_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend(&self.path, e))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map(Cursor::from_json)
                .map_err(|e| StoreError::Schema {
                    path: self.path.clone(),
                    message: format!("cursor of source {source_id} is not JSON: {e}"),
                })
        })
        .transpose()
    }

    fn load_state(&mut self, source_id: &str) -> Result<SourceState, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM source_state WHERE source_id = ?1")
            .map_err(be)?;
        let rows = stmt
            .query_map([source_id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(be)?;
        rows.collect::<Result<SourceState, _>>().map_err(be)
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
        let path = self.path.clone();
        let be = |e| backend(&path, e);
        if self.staged.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(be)?;
            let last_seq = self
                .conn
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
                .and_then(|mut s| s.query_row([], |r| r.get(0)));
            let begun = last_seq.and_then(|last_seq| {
                let suspends_indexes = self.suspend_time_indexes_if_bulk()?;
                Ok(Staged {
                    last_seq,
                    suspends_indexes,
                    batches: 0,
                })
            });
            match begun {
                Ok(staged) => self.staged = Some(staged),
                Err(e) => {
                    // (`suspended` is set only once both indexes are dropped.)
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(be(e));
                }
            }
        }
        self.conn.execute_batch("SAVEPOINT batch").map_err(be)?;
        let staged = self.stage_into(source, batch).and_then(|report| {
            self.conn.execute_batch("RELEASE batch").map_err(be)?;
            Ok(report)
        });
        if let Err(e) = &staged {
            // The batch goes; what was staged before it stays, unless SQLite rolled the whole
            // transaction back (it does on some errors: a full disk, an I/O error): then the
            // group is lost, and its commit must say so, or its batches would count as stored.
            let undone = !self.conn.is_autocommit()
                && self
                    .conn
                    .execute_batch("ROLLBACK TO batch; RELEASE batch")
                    .is_ok();
            let held_batches = self.staged.as_ref().is_some_and(|g| g.batches > 0);
            if !undone {
                self.rollback_group();
                if held_batches {
                    self.lost_group = Some(e.to_string());
                }
            } else if !held_batches {
                // It opened the group and nothing else is in it: no transaction is left open
                // (the engine commits only groups that hold a batch).
                self.rollback_group();
            }
        } else if let Some(group) = &mut self.staged {
            group.batches += 1;
        }
        staged
    }

    fn commit_staged(&mut self) -> Result<(), StoreError> {
        if let Some(why) = self.lost_group.take() {
            // Batches staged since belong to the same failed group for the engine.
            self.rollback_group();
            return Err(StoreError::Backend(
                format!("the transaction of the batches staged with a failed one was rolled back: {why}").into(),
            ));
        }
        let Some(last_seq) = self.staged.as_ref().map(|s| s.last_seq) else {
            return Ok(());
        };
        // The staged rows enter the full-text index in one statement: FTS5 flushes its pending
        // terms once for the whole group.
        let done = self
            .conn
            .prepare_cached(
                "INSERT INTO events_fts (rowid, title, body)
                 SELECT seq, title, body FROM events WHERE seq > ?1",
            )
            .and_then(|mut s| s.execute([last_seq]))
            .and_then(|_| self.conn.execute_batch("COMMIT"));
        if let Err(e) = done {
            self.rollback_group();
            return Err(backend(&self.path, e));
        }
        self.staged = None;
        if let Some(bulk) = &mut self.bulk {
            // Rows above the group's start are the group's (a rolled-back batch left none).
            let last: i64 = self
                .conn
                .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
                .unwrap_or(last_seq);
            bulk.rows_written += last - last_seq;
        }
        if let Some(c) = &self.checkpointer {
            c.committed();
        }
        Ok(())
    }

    fn finish_sync(&mut self) -> Result<(), StoreError> {
        // Whatever happened to the last group, the indexes are built.
        let committed = self.commit_staged();
        let Some(bulk) = &mut self.bulk else {
            return committed;
        };
        if !bulk.suspended {
            return committed;
        }
        let started = std::time::Instant::now();
        self.conn
            .execute_batch(&format!("BEGIN IMMEDIATE; {TIME_INDEXES} COMMIT;"))
            .map_err(|e| {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                backend(&self.path, e)
            })?;
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

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO source_runs (source_id, source_type, finished_at, status, error)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source_id) DO UPDATE SET
                    source_type = excluded.source_type, finished_at = excluded.finished_at,
                    status = excluded.status, error = excluded.error",
                params![
                    run.source_id,
                    run.source_type,
                    millis(run.finished_at),
                    run.status,
                    run.error
                ],
            )
            .map(|_| ())
            .map_err(|e| backend(&self.path, e))
    }

    fn reset_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        let be = |e| backend(&self.path, e);
        let tx = self.conn.transaction().map_err(be)?;
        let had = tx
            .execute("DELETE FROM cursors WHERE source_id = ?1", [source_id])
            .map_err(be)?
            > 0;
        tx.execute("DELETE FROM source_state WHERE source_id = ?1", [source_id])
            .map_err(be)?;
        tx.commit().map_err(be)?;
        Ok(had)
    }

    fn query_events(&self, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from(
            "SELECT id, source_id, source_type, kind, occurred_at, ingested_at, actor, title, body,
                    url, outcome, context, metadata
             FROM events WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut any_of = |sql: &mut String, column: &str, values: &[String]| {
            if !values.is_empty() {
                let marks = vec!["?"; values.len()].join(", ");
                sql.push_str(&format!(" AND {column} IN ({marks})"));
                args.extend(values.iter().cloned().map(rusqlite::types::Value::Text));
            }
        };
        any_of(&mut sql, "source_id", &q.sources);
        any_of(&mut sql, "kind", &q.kinds);
        if let Some(actor) = &q.actor {
            // The actor is text to find, not a pattern: `%` and `_` in it match themselves.
            sql.push_str(" AND actor LIKE '%' || ? || '%' ESCAPE '\\'");
            args.push(rusqlite::types::Value::Text(like_literal(actor)));
        }
        if let Some(t) = q.since {
            sql.push_str(" AND occurred_at >= ?");
            args.push(rusqlite::types::Value::Integer(millis(t)));
        }
        if let Some(t) = q.until {
            sql.push_str(" AND occurred_at < ?");
            args.push(rusqlite::types::Value::Integer(millis(t)));
        }
        if let Some(search) = &q.search {
            sql.push_str(" AND seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)");
            args.push(rusqlite::types::Value::Text(fts_query(search)));
        }
        sql.push_str(" ORDER BY occurred_at DESC, seq DESC");
        if let Some(limit) = q.limit {
            sql.push_str(" LIMIT ?");
            args.push(rusqlite::types::Value::Integer(sql_limit(limit)));
        }
        let query_error = |e: rusqlite::Error| {
            // A malformed MATCH expression surfaces as a generic SQLITE_ERROR.
            let generic = matches!(
                &e,
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::Unknown
            );
            if q.search.is_some() && generic {
                StoreError::Query(format!(
                    "search {:?}: {e}",
                    q.search.as_deref().unwrap_or("")
                ))
            } else {
                backend(&self.path, e)
            }
        };
        let mut stmt = self.conn.prepare(&sql).map_err(query_error)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok(Event {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    source_type: r.get(2)?,
                    kind: r.get(3)?,
                    occurred_at: from_millis(r.get(4)?),
                    ingested_at: Some(from_millis(r.get(5)?)),
                    actor: r.get(6)?,
                    title: r.get(7)?,
                    body: r.get(8)?,
                    url: r.get(9)?,
                    outcome: r
                        .get::<_, Option<String>>(10)?
                        .and_then(|o| Outcome::parse(&o)),
                    context: json_object(&r.get::<_, String>(11)?),
                    metadata: json_object(&r.get::<_, String>(12)?),
                })
            })
            .map_err(query_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
    }

    fn sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "WITH ids AS (
                    SELECT source_id FROM cursors UNION SELECT source_id FROM source_runs
                    UNION SELECT DISTINCT source_id FROM events
                 )
                 SELECT ids.source_id,
                        coalesce(r.source_type, c.source_type),
                        c.cursor,
                        (SELECT count(*) FROM events e WHERE e.source_id = ids.source_id),
                        (SELECT count(*) FROM dead_letters d WHERE d.source_id = ids.source_id),
                        r.finished_at, r.status, r.error
                 FROM ids
                 LEFT JOIN cursors c ON c.source_id = ids.source_id
                 LEFT JOIN source_runs r ON r.source_id = ids.source_id
                 ORDER BY ids.source_id",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceStatus {
                    source_id: r.get(0)?,
                    source_type: r.get(1)?,
                    cursor: r
                        .get::<_, Option<String>>(2)?
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .map(Cursor::from_json),
                    events: r.get::<_, i64>(3)? as u64,
                    dead_letters: r.get::<_, i64>(4)? as u64,
                    last_sync: r.get::<_, Option<i64>>(5)?.map(from_millis),
                    last_status: r.get(6)?,
                    last_error: r.get(7)?,
                })
            })
            .map_err(be)?;
        let mut status = rows.collect::<Result<Vec<_>, _>>().map_err(be)?;
        // A run is recorded as `running` when it starts; if no sync holds the store now, that
        // run never recorded its end, and saying so is the truth the store still has.
        let mut sync_running = None;
        for s in &mut status {
            if s.last_status.as_deref() == Some(RunRecord::RUNNING) {
                if *sync_running.get_or_insert_with(|| lock::held(&self.resolved)) {
                    continue;
                }
                s.last_status = Some(UNFINISHED.into());
                s.last_error = Some(format!(
                    "the sync that started at {} did not record how it ended: it was killed, or the store could not be written (a full disk?)",
                    s.last_sync
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_default()
                ));
            }
        }
        Ok(status)
    }

    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_id, origin, reason, raw, created_at FROM dead_letters
                 WHERE ?1 IS NULL OR source_id = ?1
                 ORDER BY seq DESC LIMIT ?2",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map(params![source, sql_limit(limit)], |r| {
                Ok(StoredDeadLetter {
                    source_id: r.get(0)?,
                    letter: DeadLetter {
                        origin: r.get(1)?,
                        reason: r.get(2)?,
                        raw: r.get(3)?,
                    },
                    created_at: from_millis(r.get(4)?),
                })
            })
            .map_err(be)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(be)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::DeadLetter;

    fn info() -> SourceInfo {
        SourceInfo {
            id: "src".into(),
            source_type: "test".into(),
            name: "test".into(),
        }
    }

    fn event(id: &str, minute: u32, title: &str, actor: &str) -> Event {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, minute, 0).unwrap();
        let mut e = Event::new(id, "note", at, title);
        e.actor = Some(actor.into());
        e.body = format!("body of {id}");
        e.context.insert("repo".into(), "r".into());
        e
    }

    fn batch(events: Vec<Event>, next: u64) -> Batch {
        Batch::new(
            events,
            Cursor::from_json(serde_json::json!({"version":1,"next":next})),
        )
    }

    #[test]
    fn commit_stores_events_and_cursor_and_counts_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        assert_eq!(s.schema_version().unwrap(), CURRENT_VERSION);
        let r = s
            .commit_batch(
                &info(),
                &batch(
                    vec![event("1", 1, "one", "ann"), event("2", 2, "two", "bob")],
                    2,
                ),
            )
            .unwrap();
        assert_eq!((r.written, r.duplicates), (2, 0));
        let r = s
            .commit_batch(
                &info(),
                &batch(
                    vec![
                        event("2", 2, "two again", "bob"),
                        event("3", 3, "three", "ann"),
                    ],
                    3,
                ),
            )
            .unwrap();
        assert_eq!((r.written, r.duplicates), (1, 1));
        assert_eq!(s.count_events().unwrap(), 3);
        assert_eq!(s.load_cursor("src").unwrap().unwrap().as_json()["next"], 3);
        // The duplicate did not overwrite the stored event.
        let all = s.query_events(&EventQuery::default()).unwrap();
        assert_eq!(
            all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["3", "2", "1"]
        );
        assert_eq!(all[1].title, "two");
        assert_eq!(all[0].source_id, "src");
        assert_eq!(all[0].context["repo"], "r");
    }

    #[test]
    fn filters_and_full_text_search() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        s.commit_batch(
            &info(),
            &batch(
                vec![
                    event("1", 1, "fix parser crash", "Ann Lee"),
                    event("2", 2, "add docs", "bob"),
                    event("3", 3, "parser: speed up", "ann lee"),
                ],
                3,
            ),
        )
        .unwrap();
        let q = |q: EventQuery| {
            s.query_events(&q)
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            q(EventQuery {
                search: Some("parser".into()),
                ..Default::default()
            }),
            ["3", "1"]
        );
        assert_eq!(
            q(EventQuery {
                search: Some("parser crash".into()),
                ..Default::default()
            }),
            ["1"]
        );
        assert_eq!(
            q(EventQuery {
                actor: Some("ANN".into()),
                ..Default::default()
            }),
            ["3", "1"]
        );
        assert_eq!(
            q(EventQuery {
                since: Some(Utc.with_ymd_and_hms(2024, 5, 1, 12, 2, 0).unwrap()),
                until: Some(Utc.with_ymd_and_hms(2024, 5, 1, 12, 3, 0).unwrap()),
                ..Default::default()
            }),
            ["2"]
        );
        assert_eq!(
            q(EventQuery {
                limit: Some(1),
                ..Default::default()
            }),
            ["3"]
        );
        assert_eq!(
            q(EventQuery {
                kinds: vec!["other".into()],
                ..Default::default()
            }),
            Vec::<String>::new()
        );
        let err = s
            .query_events(&EventQuery {
                search: Some("\"unbalanced".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Query(_)), "{err}");
    }

    fn put(key: &str, value: Option<&str>) -> athena_core::StateChange {
        athena_core::StateChange {
            key: key.as_bytes().to_vec(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn state_changes_commit_with_the_batch_and_reset_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let mut b = batch(vec![event("1", 1, "one", "a")], 1);
        b.state = vec![put("a.rs", Some("1")), put("b.rs", Some("2"))];
        s.commit_batch(&info(), &b).unwrap();
        let mut b = batch(vec![], 2);
        b.state = vec![put("a.rs", Some("3")), put("b.rs", None)];
        s.commit_batch(&info(), &b).unwrap();
        let state = s.load_state("src").unwrap();
        assert_eq!(state.len(), 1);
        assert_eq!(state, vec![(b"a.rs".to_vec(), b"3".to_vec())]);
        assert!(s.load_state("other").unwrap().is_empty());
        // A batch whose commit fails leaves the state as it was.
        let mut bad = batch(vec![], 3);
        bad.state = vec![put("c.rs", Some("4"))];
        s.conn
            .execute_batch("CREATE TRIGGER no_c BEFORE INSERT ON source_state BEGIN SELECT RAISE(ABORT, 'refused'); END;")
            .unwrap();
        assert!(s.commit_batch(&info(), &bad).is_err());
        assert_eq!(s.load_state("src").unwrap().len(), 1);
        assert!(s.reset_cursor("src").unwrap());
        assert!(s.load_state("src").unwrap().is_empty());
    }

    #[test]
    fn a_version_1_store_is_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), CURRENT_VERSION);
        let mut b = batch(vec![], 1);
        b.state = vec![put("k", Some("v"))];
        s.commit_batch(&info(), &b).unwrap();
        assert_eq!(s.load_state("src").unwrap().len(), 1);
    }

    #[test]
    fn dead_letters_runs_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let mut b = batch(vec![event("1", 1, "one", "a")], 1);
        b.dead_letters.push(DeadLetter {
            origin: "x.log:3".into(),
            reason: "bad".into(),
            raw: "???".into(),
        });
        assert_eq!(s.commit_batch(&info(), &b).unwrap().dead_letters, 1);
        // The same bad input read again is not kept twice.
        assert_eq!(s.commit_batch(&info(), &b).unwrap().dead_letters, 0);
        s.record_run(&RunRecord {
            source_id: "src".into(),
            source_type: "test".into(),
            finished_at: Utc::now(),
            status: "failed".into(),
            error: Some("source src: boom".into()),
        })
        .unwrap();
        let letters = s.dead_letters(Some("src"), 10).unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].letter.origin, "x.log:3");
        assert!(s.dead_letters(Some("other"), 10).unwrap().is_empty());
        let st = s.sources_status().unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].events, 1);
        assert_eq!(st[0].dead_letters, 1);
        assert_eq!(st[0].last_status.as_deref(), Some("failed"));
        assert!(st[0].cursor.is_some());
        assert!(s.reset_cursor("src").unwrap());
        assert!(!s.reset_cursor("src").unwrap());
        assert!(s.load_cursor("src").unwrap().is_none());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("newer than this release"), "{err}");
    }

    #[test]
    fn a_second_sync_lock_waits_then_reports_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let first = SqliteStore::open_for_sync(&path, Duration::from_millis(10)).unwrap();
        let started = std::time::Instant::now();
        let err = SqliteStore::open_for_sync(&path, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(matches!(err, StoreError::Busy { .. }));
        assert!(err.to_string().contains("store is busy"), "{err}");
        drop(first);
        SqliteStore::open_for_sync(&path, Duration::from_millis(10)).unwrap();
    }

    #[test]
    fn plain_words_are_quoted_for_fts() {
        assert_eq!(fts_query("fix crash-on"), "\"fix\" \"crash-on\"");
        assert_eq!(fts_query("fix OR crash"), "fix OR crash");
        assert_eq!(fts_query("pars*"), "pars*");
    }

    fn time_indexes(s: &SqliteStore) -> Vec<String> {
        let mut stmt = s
            .conn
            .prepare(
                "SELECT sql FROM sqlite_schema
                 WHERE type = 'index' AND name IN ('events_by_time', 'events_by_source_time')
                 ORDER BY name",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    impl SqliteStore {
        fn load_cursor_json(&self, source_id: &str) -> Option<serde_json::Value> {
            self.conn
                .query_row(
                    "SELECT cursor FROM cursors WHERE source_id = ?1",
                    [source_id],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .unwrap()
                .map(|t| serde_json::from_str(&t).unwrap())
        }
    }

    fn many(from: usize, n: usize) -> Vec<Event> {
        // Times out of order, as in a log read after a newer one.
        (from..from + n)
            .map(|i| event(&format!("{i:07}"), (i * 7 % 60) as u32, "t", "a"))
            .collect()
    }

    #[test]
    fn staged_batches_commit_together_and_a_failing_one_leaves_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let r = s
            .stage_batch(&info(), &batch(vec![event("1", 1, "one", "a")], 1))
            .unwrap();
        assert_eq!(r.written, 1);
        // Not visible to another connection before the commit.
        let reader = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        assert_eq!(reader.count_events().unwrap(), 0);
        s.conn
            .execute_batch("CREATE TRIGGER no_c BEFORE INSERT ON source_state BEGIN SELECT RAISE(ABORT, 'refused'); END;")
            .unwrap();
        let mut bad = batch(vec![event("2", 2, "two", "a")], 2);
        bad.state = vec![put("c.rs", Some("4"))];
        assert!(s.stage_batch(&info(), &bad).is_err());
        let r = s
            .stage_batch(&info(), &batch(vec![event("3", 3, "three", "a")], 3))
            .unwrap();
        assert_eq!(r.written, 1);
        s.commit_staged().unwrap();
        let ids: Vec<String> = reader
            .query_events(&EventQuery::default())
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["3", "1"]);
        assert_eq!(
            reader.load_cursor_json("src"),
            Some(serde_json::json!({"version":1,"next":3}))
        );
        // Found by full-text search, indexed at the group's commit.
        let found = reader
            .query_events(&EventQuery {
                search: Some("three".into()),
                ..EventQuery::default()
            })
            .unwrap();
        assert_eq!(found.len(), 1);
        // Nothing staged: committing is a no-op.
        s.commit_staged().unwrap();
    }

    #[test]
    fn a_batch_that_rolls_back_the_whole_transaction_fails_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        // RAISE(ROLLBACK) ends the transaction, as SQLite may do itself on an I/O error.
        s.conn
            .execute_batch("CREATE TRIGGER gone BEFORE INSERT ON source_state BEGIN SELECT RAISE(ROLLBACK, 'gone'); END;")
            .unwrap();
        s.stage_batch(&info(), &batch(vec![event("1", 1, "one", "a")], 1))
            .unwrap();
        let mut bad = batch(vec![event("2", 2, "two", "a")], 2);
        bad.state = vec![put("k", Some("v"))];
        assert!(s.stage_batch(&info(), &bad).is_err());
        s.stage_batch(&info(), &batch(vec![event("3", 3, "three", "a")], 3))
            .unwrap();
        let err = s.commit_staged().unwrap_err().to_string();
        assert!(err.contains("rolled back"), "{err}");
        // None of the group is stored, not even the batch staged after the failure.
        assert_eq!(s.count_events().unwrap(), 0);
        assert_eq!(s.load_cursor_json("src"), None);
        // The store goes on.
        s.commit_batch(&info(), &batch(vec![event("4", 4, "four", "a")], 4))
            .unwrap();
        assert_eq!(s.count_events().unwrap(), 1);
        // A failing batch that opened its group takes nothing else with it.
        let mut bad = batch(vec![], 5);
        bad.state = vec![put("k", Some("v"))];
        assert!(s.stage_batch(&info(), &bad).is_err());
        s.stage_batch(&info(), &batch(vec![event("6", 6, "six", "a")], 6))
            .unwrap();
        s.commit_staged().unwrap();
        assert_eq!(s.count_events().unwrap(), 2);
        assert_eq!(
            s.load_cursor_json("src"),
            Some(serde_json::json!({"version":1,"next":6}))
        );
    }

    #[test]
    fn a_bulk_load_builds_the_time_indexes_at_the_end_and_a_crash_leaves_them_to_the_next_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let fresh = time_indexes(&SqliteStore::open(&path).unwrap());
        assert_eq!(fresh.len(), 2);
        assert_eq!(
            TIME_INDEXES.replace(" IF NOT EXISTS", ""),
            format!("{};\n{};", fresh[1], fresh[0]),
            "TIME_INDEXES must create what migration 1 creates"
        );
        // A bulk sync into the empty store: the indexes go once it has written BULK_MIN_ROWS.
        let step = 10_000;
        {
            let mut s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
            let mut from = 0;
            while (from as i64) < BULK_MIN_ROWS {
                s.stage_batch(&info(), &batch(many(from, step), from as u64))
                    .unwrap();
                s.commit_staged().unwrap();
                from += step;
            }
            assert_eq!(time_indexes(&s).len(), 2, "dropped at the next group only");
            s.stage_batch(&info(), &batch(many(from, step), 0)).unwrap();
            s.commit_staged().unwrap();
            assert!(time_indexes(&s).is_empty());
            // Queries are still right without them.
            let newest = s
                .query_events(&EventQuery {
                    limit: Some(1),
                    ..EventQuery::default()
                })
                .unwrap();
            assert_eq!(newest[0].occurred_at.format("%M").to_string(), "59");
            s.finish_sync().unwrap();
            assert_eq!(time_indexes(&s), fresh);
        }
        // The store now holds more than the next sync will write: no bulk load.
        let rows = (BULK_MIN_ROWS as usize / step + 2) * step;
        {
            let mut s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
            let mut from = rows;
            while from < 2 * rows - step {
                s.stage_batch(&info(), &batch(many(from, step), 0)).unwrap();
                s.commit_staged().unwrap();
                from += step;
            }
            assert_eq!(time_indexes(&s), fresh);
            s.finish_sync().unwrap();
        }
        // A sync that dies during a bulk load (no finish_sync) leaves the indexes to the next.
        let path = dir.path().join("b.db");
        {
            let mut s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
            let mut from = 0;
            while time_indexes(&s).len() == 2 {
                s.stage_batch(&info(), &batch(many(from, step), 0)).unwrap();
                s.commit_staged().unwrap();
                from += step;
            }
        }
        assert!(time_indexes(&SqliteStore::open(&path).unwrap()).is_empty());
        let s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
        assert_eq!(time_indexes(&s), fresh);
    }

    /// Every file in `dir` with its bytes.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        v.sort();
        v
    }

    fn refused(r: Result<SqliteStore, StoreError>) -> String {
        match r {
            Err(e @ StoreError::NotAStore { .. }) => e.to_string(),
            other => panic!("not refused as no store: {other:?}"),
        }
    }

    #[test]
    fn another_applications_database_is_refused_by_readers_and_writers_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ann');")
                .unwrap();
        }
        let before = files(dir.path());
        let e = refused(SqliteStore::open_read_only(&path));
        assert!(
            e.contains("another application's SQLite database (tables: users)"),
            "{e}"
        );
        refused(SqliteStore::open(&path));
        refused(SqliteStore::open_for_sync(&path, Duration::ZERO));
        assert_eq!(files(dir.path()), before, "no byte changed, no file added");
        let mode: String = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    }

    #[test]
    fn another_applications_wal_database_gets_no_side_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let before = files(dir.path());
        assert_eq!(before.len(), 1, "closed cleanly: no -wal, no -shm");
        refused(SqliteStore::open_read_only(&path));
        refused(SqliteStore::open_for_sync(&path, Duration::ZERO));
        assert_eq!(files(dir.path()), before);
    }

    #[test]
    fn an_empty_database_of_another_application_is_refused_by_its_application_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "application_id", 0x4750_4b47)
            .unwrap();
        let e = refused(SqliteStore::open(&path));
        assert!(e.contains("application_id 0x47504b47"), "{e}");
    }

    #[test]
    fn a_foreign_events_table_is_refused_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE events (id INTEGER, what TEXT);")
            .unwrap();
        for e in [
            refused(SqliteStore::open_read_only(&path)),
            refused(SqliteStore::open(&path)),
        ] {
            assert!(e.contains("`events` table is not athena-ingest's"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(
            &path,
            "just some text, long enough to fill a SQLite header? no.\n".repeat(3),
        )
        .unwrap();
        let before = files(dir.path());
        let e = refused(SqliteStore::open_for_sync(&path, Duration::ZERO));
        assert!(e.ends_with("it is not a SQLite database"), "{e}");
        refused(SqliteStore::open_read_only(&path));
        assert_eq!(files(dir.path()), before);
    }

    #[test]
    fn a_directory_or_a_device_is_refused_before_a_lock_file_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("store.db");
        std::fs::create_dir(&sub).unwrap();
        let e = refused(SqliteStore::open_for_sync(&sub, Duration::ZERO));
        assert!(e.ends_with("it is a directory"), "{e}");
        assert!(!dir.path().join("store.db.lock").exists());
        let e = refused(SqliteStore::open_read_only(Path::new("/dev/null")));
        assert!(e.ends_with("it is a character device"), "{e}");
    }

    #[test]
    fn a_read_only_open_reads_a_version_1_store_without_migrating_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let s = SqliteStore::open_read_only(&path).unwrap();
        assert!(s.query_events(&EventQuery::default()).unwrap().is_empty());
        assert!(s.sources_status().unwrap().is_empty());
        assert!(s.dead_letters(None, 10).unwrap().is_empty());
        assert_eq!(s.schema_version().unwrap(), 1);
    }

    #[test]
    fn a_read_only_store_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(SqliteStore::open(&path).unwrap());
        let mut s = SqliteStore::open_read_only(&path).unwrap();
        assert!(s
            .commit_batch(&info(), &batch(vec![event("1", 1, "one", "a")], 1))
            .is_err());
        assert_eq!(s.count_events().unwrap(), 0);
    }

    #[test]
    fn a_store_reached_through_a_symlink_shares_the_sync_lock() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("a.db");
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink("a.db", &link).unwrap();
        let first = SqliteStore::open_for_sync(&real, Duration::ZERO).unwrap();
        let err = SqliteStore::open_for_sync(&link, Duration::ZERO).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
        drop(first);
        // A dangling link names the file it will create, and so its lock.
        let dangling = dir.path().join("next.db");
        std::os::unix::fs::symlink("b.db", &dangling).unwrap();
        let _second = SqliteStore::open_for_sync(&dangling, Duration::ZERO).unwrap();
        assert!(dir.path().join("b.db").is_file());
        let err = SqliteStore::open_for_sync(&dir.path().join("b.db"), Duration::ZERO).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
    }

    #[test]
    fn an_actor_filter_matches_like_wildcards_literally() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        s.commit_batch(
            &info(),
            &batch(
                vec![
                    event("1", 1, "one", "ann"),
                    event("2", 2, "two", "100% bob"),
                    event("3", 3, "three", "a_b"),
                    event("4", 4, "four", "axb"),
                    event("5", 5, "five", "c\\d"),
                ],
                5,
            ),
        )
        .unwrap();
        let by = |actor: &str| {
            s.query_events(&EventQuery {
                actor: Some(actor.into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
        };
        assert_eq!(by("%"), ["2"]);
        assert_eq!(by("a_b"), ["3"]);
        assert_eq!(by("\\"), ["5"]);
        assert_eq!(by("B"), ["4", "3", "2"], "still case-insensitive");
    }

    #[test]
    fn a_limit_beyond_what_sqlite_counts_returns_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let mut b = batch(
            vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
            2,
        );
        b.dead_letters.push(DeadLetter {
            origin: "x:1".into(),
            reason: "bad".into(),
            raw: "?".into(),
        });
        s.commit_batch(&info(), &b).unwrap();
        let all = s
            .query_events(&EventQuery {
                limit: Some(usize::MAX),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(s.dead_letters(None, usize::MAX).unwrap().len(), 1);
    }

    fn run(status: &str) -> RunRecord {
        RunRecord {
            source_id: "src".into(),
            source_type: "test".into(),
            finished_at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            status: status.into(),
            error: None,
        }
    }

    #[test]
    fn a_run_that_never_recorded_its_end_is_reported_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let mut s = SqliteStore::open(&path).unwrap();
        s.record_run(&run(RunRecord::RUNNING)).unwrap();
        let st = SqliteStore::open_read_only(&path)
            .unwrap()
            .sources_status()
            .unwrap();
        assert_eq!(st[0].last_status.as_deref(), Some("unfinished"));
        let error = st[0].last_error.as_deref().unwrap();
        assert!(
            error.contains("started at 2024-05-01 12:00:00 UTC did not record how it ended"),
            "{error}"
        );
        // While a sync holds the store, it is running.
        let _sync = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
        let st = SqliteStore::open_read_only(&path)
            .unwrap()
            .sources_status()
            .unwrap();
        assert_eq!(st[0].last_status.as_deref(), Some("running"));
        assert_eq!(st[0].last_error, None);
    }
}
