//! Tests of the write path on SQLite: a group whose transaction SQLite rolled back as a whole
//! (the rest of the write path is in the conformance suite).

use athena_core::Store;
use rusqlite::OptionalExtension;

use super::{batch, event, info, put};
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
