//! Tests of a long-lived engine (`Engine::start`, as `serve` uses it): a source never runs
//! twice at once, a failed source's next run resumes from its committed cursor, a stop ends a
//! wait for a slot, and child cancel tokens.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{counting, engine};
use crate::config::EngineSettings;
use crate::cursor::Cursor;
use crate::engine::{CancelToken, Engine, SourceStatusKind, SyncOptions};
use crate::memory::SharedMemoryStore;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::source::{Batch, BatchStream, EventSource, SourceInfo};
use crate::{Event, SourceError};

/// Yields one event once `release` is notified; tells `started` when it begins reading.
struct Gated {
    info: SourceInfo,
    started: Arc<Notify>,
    release: Arc<Notify>,
}

fn gated(id: &str) -> (Gated, Arc<Notify>, Arc<Notify>) {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let source = Gated {
        info: SourceInfo {
            id: id.into(),
            source_type: "gated".into(),
            name: id.into(),
        },
        started: started.clone(),
        release: release.clone(),
    };
    (source, started, release)
}

#[async_trait::async_trait]
impl EventSource for Gated {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
    fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
        let (started, release) = (self.started.clone(), self.release.clone());
        Box::pin(futures_util::stream::once(async move {
            started.notify_one();
            release.notified().await;
            Ok(Batch::new(
                vec![Event::new("g", "tick", chrono::Utc::now(), "t")],
                Cursor::from_json(serde_json::json!({"version": 1})),
            ))
        }))
    }
}

#[tokio::test]
async fn a_source_that_is_running_is_not_started_twice() {
    let shared = SharedMemoryStore::new();
    let running = Arc::new(engine().start(Box::new(shared.clone()), Metrics::new()));
    let (first, started, release) = gated("g");
    let r = running.clone();
    let first =
        tokio::spawn(async move { r.run(vec![Box::new(first)], SyncOptions::default()).await });
    started.notified().await;

    let (second, _, _) = gated("g");
    let report = running
        .run(vec![Box::new(second)], SyncOptions::default())
        .await;
    assert_eq!(report.sources[0].status, SourceStatusKind::Failed);
    let error = report.sources[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("running already"), "{error}");

    release.notify_one();
    let report = first.await.unwrap();
    assert!(report.all_ok());
    assert_eq!(shared.with(|s| s.events.len()), 1);
    // Ended, it may run again.
    let (again, started, release) = gated("g");
    release.notify_one();
    let report = running
        .run(vec![Box::new(again)], SyncOptions::default())
        .await;
    drop(started);
    assert_eq!(report.sources[0].status, SourceStatusKind::Ok);
}

#[tokio::test]
async fn a_failed_source_runs_again_from_its_committed_cursor_on_the_same_writer() {
    let shared = SharedMemoryStore::new();
    let running = engine().start(Box::new(shared.clone()), Metrics::new());
    let mut failing = counting("c", 100, 10);
    failing.fail_after = Some(3);
    let report = running
        .run(vec![Box::new(failing)], SyncOptions::default())
        .await;
    assert_eq!(report.sources[0].status, SourceStatusKind::Failed);
    assert_eq!(shared.with(|s| s.events.len()), 30);

    let report = running
        .run(
            vec![Box::new(counting("c", 100, 10))],
            SyncOptions::default(),
        )
        .await;
    assert!(report.all_ok(), "{:?}", report.sources[0].error);
    assert_eq!(report.sources[0].events_written, 70);
    running.finish().await.unwrap();
    drop(running.close().await);
    shared.with(|s| {
        assert_eq!(s.events.len(), 100);
        assert_eq!(s.cursors["c"].as_json()["next"], 100);
    });
}

#[tokio::test]
async fn a_stop_ends_the_wait_for_a_slot() {
    let settings = EngineSettings {
        concurrency: 1,
        ..EngineSettings::default()
    };
    let engine = Engine::new(Arc::new(Registry::new()), settings);
    let running = Arc::new(engine.start(Box::new(SharedMemoryStore::new()), Metrics::new()));
    let (holder, started, release) = gated("holder");
    let r = running.clone();
    let held =
        tokio::spawn(async move { r.run(vec![Box::new(holder)], SyncOptions::default()).await });
    started.notified().await;

    let stop = CancelToken::new();
    let options = SyncOptions {
        cancel: stop.clone(),
        ..SyncOptions::default()
    };
    let r = running.clone();
    let waiting =
        tokio::spawn(async move { r.run(vec![Box::new(counting("w", 10, 10))], options).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.cancel();
    let report = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting run ended with the stop")
        .unwrap();
    assert_eq!(report.sources[0].status, SourceStatusKind::Interrupted);
    assert_eq!(report.sources[0].events_written, 0);
    release.notify_one();
    assert!(held.await.unwrap().all_ok());
}

#[tokio::test]
async fn a_child_token_is_cancelled_with_its_parent_but_not_the_other_way() {
    let parent = CancelToken::new();
    let child = parent.child_token();
    child.cancel();
    assert!(child.is_cancelled());
    assert!(!parent.is_cancelled());

    let other = parent.child_token();
    let grandchild = other.child_token();
    let waiter = tokio::spawn(async move { grandchild.cancelled().await });
    parent.cancel();
    assert!(other.is_cancelled());
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("a grandchild wakes when the parent is cancelled")
        .unwrap();
}
