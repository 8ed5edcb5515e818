//! Tests of the reads on SQLite: how a search becomes an FTS5 query, and a run that never
//! recorded its end (the rest of the reads is in the conformance suite).

use std::time::Duration;

use athena_core::{RunRecord, RunStatus, Store};
use chrono::{TimeZone, Utc};

use athena_core::search::SearchMatch;

use crate::sqlite::fts::{fts_query, syntax_error};
use crate::SqliteStore;

#[test]
fn plain_words_are_quoted_for_fts() {
    let all = |q| fts_query(q, SearchMatch::All).unwrap();
    assert_eq!(all("fix crash-on"), "\"fix\" \"crash-on\"");
    assert_eq!(all("fix OR crash"), "\"fix\" OR \"crash\"");
    assert_eq!(all("pars*"), "pars*");
    // Text that is not the documented syntax is a word, also beside syntax.
    assert_eq!(all("status:500"), "\"status:500\"");
    assert_eq!(all("status:500 OR c++"), "\"status:500\" OR \"c++\"");
    assert_eq!(
        all("title:deploy NEAR(a b, 2) \"x\"*"),
        "title:\"deploy\" NEAR(\"a\" \"b\", 2) \"x\"*"
    );
}

#[test]
fn any_word_search_is_its_content_words_joined_by_or() {
    let any = |q| fts_query(q, SearchMatch::Any).unwrap();
    assert_eq!(any("what changed in the lexer"), "\"changed\" OR \"lexer\"");
    // Nothing worth looking for alone: as written.
    assert_eq!(any("the a"), "\"the\" \"a\"");
}

#[test]
fn fts5_refusals_become_advice_without_the_database_words() {
    let e = syntax_error("lexer AND", "fts5: syntax error near \"\"");
    assert!(e.reason.contains("ends where more was expected"), "{e}");
    let e = syntax_error("NOT x", "fts5: syntax error near \"NOT\"");
    assert_eq!(e.reason, "`NOT` cannot stand there");
    assert!(!e.to_string().contains("fts5"), "{e}");
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
