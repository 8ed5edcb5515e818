//! Opening a store for a sync, for reading only, or plainly, and bringing its schema up to date.
//! A path that holds no athena-ingest store is refused before anything is written to or beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use athena_core::StoreError;
use rusqlite::{Connection, OpenFlags};

use super::bulk::{build_time_indexes, BulkLoad};
use super::checkpoint::{Checkpointer, WRITER_CHECKPOINT_PAGES};
use super::{backend, SqliteStore};
use crate::inspect::{self, Found};
use crate::lock;
use crate::schema::{CURRENT_VERSION, MIGRATIONS, PEOPLE_VERSION};

/// SQLite's page cache during a sync, in KiB: room for a commit group's dirty pages (see
/// `Store::stage_batch`) and the index pages it touches. 8 MiB syncs 1M log lines as fast as 16
/// (3.25-3.38 s against 3.24-3.41 s) and takes a few MB off a sync's peak RSS.
const SYNC_CACHE_KIB: i64 = 8 * 1024;

fn io_backend(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("store {}: {e}", path.display()).into())
}

fn newer_schema(path: &Path, version: i64) -> StoreError {
    StoreError::NewerSchema {
        path: path.to_path_buf(),
        version,
        supported: CURRENT_VERSION,
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
        build_time_indexes(&store.conn).map_err(|e| backend(path, e))?;
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
        let conn = connect_read_only(path, &resolved)?;
        Ok(SqliteStore::with_connection(conn, path, resolved))
    }

    /// Another read-only connection to the store this one has open, without looking at the
    /// file again (the store was checked when `self` was opened).
    ///
    /// This is how a process that already has a connection to a store opens more: checking a
    /// file reads its header through a plain `open` and `close`, and closing any descriptor of
    /// the file drops every POSIX lock this process holds on it, SQLite's included. Another
    /// process closing its last connection would then take itself for the last one and
    /// checkpoint and delete the WAL the connections here are still using, so that they see
    /// none of its later commits.
    pub fn open_read_only_beside(&self) -> Result<Self, StoreError> {
        let conn = connect_read_only(&self.path, &self.resolved)?;
        Ok(SqliteStore::with_connection(
            conn,
            &self.path,
            self.resolved.clone(),
        ))
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
            search_plans: Default::default(),
            keep_outbox: false,
            codec: Default::default(),
            _lock: None,
        }
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
        if version < PEOPLE_VERSION {
            let linked = super::links::relink(&tx, &athena_core::links::Linker::default())
                .map_err(|e| StoreError::Schema {
                    path: path.clone(),
                    message: format!(
                        "migration to version {CURRENT_VERSION} failed linking the events and their people: {e}"
                    ),
                })?;
            if linked > 0 {
                // Their people wait for a sync or `serve`, which know the source types.
                tx.execute_batch(super::links::PEOPLE_UNREAD)
                    .map_err(|e| backend(&path, e))?;
                tracing::info!(store = %path.display(), events = linked, "linked the events stored before links and people existed; their people are read at the next sync");
            }
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
}

/// A read-only connection to the checked store at `resolved`: sharing its WAL, or, in a
/// directory the reader cannot write and with no `-wal` left, reading it as immutable.
fn connect_read_only(path: &Path, resolved: &Path) -> Result<Connection, StoreError> {
    let conn = match inspect::connect(resolved, false).and_then(|c| {
        // Connecting is lazy: the first read is what needs the `-shm` file.
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) if cannot_share_wal(&e) && !inspect::has_wal(resolved) => {
            inspect::connect(resolved, true).map_err(|e| backend(path, e))?
        }
        Err(e) => return Err(backend(path, e)),
    };
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| backend(path, e))?;
    Ok(conn)
}
