//! Tests of the reads on SQLite: how a search becomes an FTS5 query, and a run that never
//! recorded its end (the rest of the reads is in the conformance suite).

use std::time::Duration;

use athena_core::{RunRecord, RunStatus, Store};
use chrono::{TimeZone, Utc};

use crate::sqlite::query::fts_query;
use crate::SqliteStore;

#[test]
fn plain_words_are_quoted_for_fts() {
    assert_eq!(fts_query("fix crash-on"), "\"fix\" \"crash-on\"");
    assert_eq!(fts_query("fix OR crash"), "fix OR crash");
    assert_eq!(fts_query("pars*"), "pars*");
}

fn run(status: RunStatus) -> RunRecord {
    RunRecord {
        source_id: "src".into(),
        source_type: "test".into(),
        finished_at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
        status,
        error: None,
        error_kind: None,
    }
}

#[test]
fn a_run_that_never_recorded_its_end_is_reported_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.record_run(&run(RunStatus::Running)).unwrap();
    let st = SqliteStore::open_read_only(&path)
        .unwrap()
        .sources_status()
        .unwrap();
    assert_eq!(st[0].last_status, Some(RunStatus::Unfinished));
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
    assert_eq!(st[0].last_status, Some(RunStatus::Running));
    assert_eq!(st[0].last_error, None);
}
