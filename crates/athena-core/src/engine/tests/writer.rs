//! Tests of the writer: group commit, a failed group, fencing, and duplicates counted once.

use std::sync::atomic::Ordering;

use super::{assert_failed_with, counting, engine, run_alone, GroupingStore};
use crate::engine::{SourceStatusKind, SyncOptions};
use crate::memory::{MemoryStore, SharedMemoryStore};

#[tokio::test]
async fn duplicates_are_counted_not_stored_twice() {
    let (_, store) = engine()
        .run(
            Box::new(MemoryStore::new()),
            vec![Box::new(counting("a", 10, 4))],
            SyncOptions::default(),
        )
        .await;
    let options = SyncOptions {
        full: true,
        ..SyncOptions::default()
    };
    let (report, store) = engine()
        .run(store, vec![Box::new(counting("a", 10, 4))], options)
        .await;
    assert_eq!(report.sources[0].events_written, 0);
    assert_eq!(report.sources[0].duplicates, 10);
    assert_eq!(
        store
            .query_events(&crate::EventQuery::default())
            .unwrap()
            .len(),
        10
    );
}

#[tokio::test]
async fn after_a_failed_commit_later_batches_of_that_source_are_refused() {
    let shared = SharedMemoryStore::new();
    let (mut store, _) = GroupingStore::new(&shared, None);
    store.fail_stage_at = Some(2);
    store.stage_delay = std::time::Duration::ZERO;
    let report = run_alone(store, counting("a", 100, 10)).await;
    assert_failed_with(&report, "disk full");
    // Only the first batch is stored, and the cursor stays right after it.
    shared.with(|s| {
        assert_eq!(s.events.len(), 10);
        assert_eq!(s.cursors["a"].as_json()["next"], 10);
    });
}

#[tokio::test]
async fn batches_waiting_for_the_store_are_committed_together() {
    let shared = SharedMemoryStore::new();
    let (store, commits) = GroupingStore::new(&shared, None);
    let report = run_alone(store, counting("a", 200, 5)).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 200);
    let commits = commits.load(Ordering::SeqCst);
    assert!(
        (1..=10).contains(&commits),
        "40 batches took {commits} commits"
    );
    shared.with(|s| {
        assert_eq!(s.events.len(), 200);
        assert_eq!(s.cursors["a"].as_json()["next"], 200);
    });
}

#[tokio::test]
async fn a_failed_group_commit_stores_none_of_its_batches_and_fails_the_source() {
    let shared = SharedMemoryStore::new();
    let (store, commits) = GroupingStore::new(&shared, Some(2));
    let report = run_alone(store, counting("a", 2000, 5)).await;
    assert_failed_with(&report, "disk full");
    // The source is fenced after the failed group: no third group is committed.
    assert_eq!(commits.load(Ordering::SeqCst), 2);
    // What is stored is the first group, and the cursor says so.
    shared.with(|s| {
        let stored = s.events.len() as u64;
        assert!(stored > 0 && stored < 2000, "{stored}");
        assert_eq!(s.cursors["a"].as_json()["next"], stored);
    });
    assert!(report.events_written < 2000);
}
