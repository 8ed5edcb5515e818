//! Tests of the reads: filters, full-text search, dead letters, limits and sources' status.

use std::time::Duration;

use athena_core::{DeadLetter, EventQuery, RunRecord, RunStatus, Store, StoreError};
use chrono::{TimeZone, Utc};

use super::{batch, event, info};
use crate::sqlite::query::fts_query;
use crate::SqliteStore;

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
        status: RunStatus::Failed,
        error: Some("source src: boom".into()),
        error_kind: Some("other".into()),
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
    assert_eq!(st[0].last_status, Some(RunStatus::Failed));
    assert!(st[0].cursor.is_some());
    assert!(s.reset_cursor("src").unwrap());
    assert!(!s.reset_cursor("src").unwrap());
    assert!(s.load_cursor("src").unwrap().is_none());
}

#[test]
fn plain_words_are_quoted_for_fts() {
    assert_eq!(fts_query("fix crash-on"), "\"fix\" \"crash-on\"");
    assert_eq!(fts_query("fix OR crash"), "fix OR crash");
    assert_eq!(fts_query("pars*"), "pars*");
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
