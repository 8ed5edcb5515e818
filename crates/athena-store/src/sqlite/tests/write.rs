//! Tests of the write path: batches, group commit, state changes and what a failure leaves.

use athena_core::{EventQuery, Store};
use rusqlite::OptionalExtension;

use super::{batch, event, info, put};
use crate::schema::CURRENT_VERSION;
use crate::SqliteStore;

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
