//! Tests of opening: migration, the sync lock, read-only opens, and paths that hold no store.

use std::path::Path;
use std::time::Duration;

use athena_core::{EventQuery, Store, StoreError};
use rusqlite::Connection;

use super::{batch, event, info, put};
use crate::schema::{CURRENT_VERSION, MIGRATIONS};
use crate::SqliteStore;

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
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", CURRENT_VERSION + 1)
        .unwrap();
    for err in [
        SqliteStore::open(&path).unwrap_err(),
        SqliteStore::open_read_only(&path).unwrap_err(),
    ] {
        assert!(err.to_string().contains("newer than this release"), "{err}");
        assert!(
            matches!(err, StoreError::NewerSchema { version, supported, .. }
                if version == CURRENT_VERSION + 1 && supported == CURRENT_VERSION),
            "{err:?}"
        );
    }
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
    drop(s);
    // Its kinds, which it kept no count of, are counted from its events.
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO events (id, source_id, source_type, kind, occurred_at, ingested_at,
                title, body, context, metadata)
             VALUES ('1', 'git', 'git', 'commit', 0, 0, 't', '', '{}', '{}'),
                    ('2', 'git', 'git', 'commit', 0, 0, 't', '', '{}', '{}');",
        )
        .unwrap();
    }
    let s = SqliteStore::open_read_only(&path).unwrap();
    let kinds = s.kinds().unwrap();
    assert_eq!(kinds.len(), 1);
    assert_eq!(
        (kinds[0].source_id.as_str(), kinds[0].kinds[0].kind.as_str()),
        ("git", "commit")
    );
    assert_eq!(kinds[0].kinds[0].events, 2);
    assert_eq!(s.sources_status().unwrap()[0].kinds, kinds[0].kinds);
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
