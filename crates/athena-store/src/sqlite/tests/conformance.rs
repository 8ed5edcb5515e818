//! The store conformance suite (`crate::conformance`) run against SQLite: a fresh store file
//! in a temporary directory per case, opened as a sync opens it.

use std::path::PathBuf;
use std::time::Duration;

use crate::conformance::Fixture;
use crate::{SqliteRecall, SqliteStore};

/// One store file in a temporary directory of its own.
struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Self {
        Sqlite {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("athena.db")
    }
}

impl Fixture for Sqlite {
    type Store = SqliteStore;
    type Recall = SqliteRecall;

    fn open(&self) -> SqliteStore {
        SqliteStore::open_for_sync(&self.path(), Duration::ZERO).unwrap()
    }

    fn recall(&self, store: &SqliteStore) -> SqliteRecall {
        SqliteRecall::beside(store, 2).unwrap()
    }

    fn refuse_marked_batches(&self, store: &mut SqliteStore) {
        // The cursor is a batch's last write (see `write.rs`); an upsert runs BEFORE INSERT
        // triggers whether it then inserts or updates.
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER refuse_marked_batches BEFORE INSERT ON cursors
                 WHEN json_extract(NEW.cursor, '$.refuse') IS 1
                 BEGIN SELECT RAISE(ABORT, 'refused by the conformance suite'); END;",
            )
            .unwrap();
    }
}

crate::store_conformance!(Sqlite::new());
