//! Tests of the driver: resuming, isolation of failing and panicking sources, cancellation,
//! the concurrency limit, run records, and secrets masked in what a failure reports.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{assert_failed_with, counting, engine, run_alone, GroupingStore};
use crate::config::{EngineSettings, SourceConfig};
use crate::cursor::Cursor;
use crate::engine::{Engine, SourceStatusKind, SyncOptions};
use crate::memory::{MemoryStore, SharedMemoryStore};
use crate::registry::Registry;
use crate::source::{Batch, BatchStream, EventSource, SourceInfo};
use crate::store::RunStatus;
use crate::SourceError;

#[tokio::test]
async fn commits_everything_and_resumes_from_the_cursor() {
    let shared = SharedMemoryStore::new();
    let (report, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(counting("a", 25, 10))],
            SyncOptions::default(),
        )
        .await;
    assert!(report.all_ok());
    assert_eq!(report.sources[0].events_written, 25);
    shared.with(|s| {
        assert_eq!(s.events.len(), 25);
        assert_eq!(s.cursors["a"].as_json()["next"], 25);
    });

    // Nothing new: the resumed source yields no batch at all.
    let again = counting("a", 25, 10);
    let yielded = again.batches_yielded.clone();
    let (report, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(again)],
            SyncOptions::default(),
        )
        .await;
    assert_eq!(report.sources[0].events_written, 0);
    assert_eq!(yielded.load(Ordering::SeqCst), 0);
    assert_eq!(shared.with(|s| s.runs["a"].status), RunStatus::Ok);
}

#[tokio::test]
async fn a_failing_source_does_not_stop_the_others_and_keeps_its_committed_batches() {
    let mut bad = counting("bad", 100, 10);
    bad.fail_after = Some(3);
    let mut invalid = counting("invalid", 10, 10);
    invalid.fail_validate = true;
    let shared = SharedMemoryStore::new();
    let (report, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![
                Box::new(bad),
                Box::new(counting("good", 50, 7)),
                Box::new(invalid),
            ],
            SyncOptions::default(),
        )
        .await;
    assert!(!report.all_ok());
    let by_id = |id: &str| report.sources.iter().find(|s| s.info.id == id).unwrap();
    assert_eq!(by_id("good").status, SourceStatusKind::Ok);
    assert_eq!(by_id("good").events_written, 50);
    assert_eq!(by_id("bad").status, SourceStatusKind::Failed);
    assert_eq!(by_id("bad").events_written, 30);
    assert!(by_id("bad")
        .error
        .as_deref()
        .unwrap()
        .contains("source bad: boom"));
    assert_eq!(by_id("invalid").status, SourceStatusKind::Failed);
    assert_eq!(by_id("invalid").events_written, 0);
    shared.with(|s| {
        assert_eq!(s.cursors["bad"].as_json()["next"], 30);
        assert!(!s.cursors.contains_key("invalid"));
        assert_eq!(s.runs["bad"].status, RunStatus::Failed);
    });
}

#[tokio::test]
async fn cancel_before_start_reads_nothing_and_reports_interrupted() {
    let options = SyncOptions::default();
    options.cancel.cancel();
    let shared = SharedMemoryStore::new();
    let (report, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(counting("a", 10, 5))],
            options,
        )
        .await;
    assert_eq!(report.sources[0].status, SourceStatusKind::Interrupted);
    assert!(shared.with(|s| s.events.is_empty()));
}

#[tokio::test]
async fn a_source_still_waiting_for_its_turn_at_ctrl_c_keeps_its_last_run() {
    let shared = SharedMemoryStore::new();
    let (first, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(counting("a", 10, 5))],
            SyncOptions::default(),
        )
        .await;
    assert_eq!(first.sources[0].status, SourceStatusKind::Ok);
    let options = SyncOptions::default();
    options.cancel.cancel();
    let (report, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(counting("a", 10, 5))],
            options,
        )
        .await;
    assert_eq!(report.sources[0].status, SourceStatusKind::Interrupted);
    shared.with(|s| assert_eq!(s.runs["a"].status, RunStatus::Ok));
}

/// Fails with a message echoing its token, as a server's error body may.
struct Echoing {
    info: SourceInfo,
    token: crate::Secret,
}

#[async_trait::async_trait]
impl EventSource for Echoing {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
    fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
        let message = format!("HTTP 401 (body: bad credentials {})", self.token.expose());
        let error = SourceError::failed(&self.info.id, message);
        Box::pin(futures_util::stream::iter([Err(error)]))
    }
}

#[tokio::test]
async fn a_config_secret_echoed_in_a_source_error_is_masked_in_the_report_and_run_record() {
    #[derive(serde::Deserialize)]
    struct EchoConfig {
        token: crate::Secret,
    }
    let mut registry = Registry::new();
    registry
        .register(crate::SourceType::new(
            "echo",
            "fails echoing its token",
            vec![],
            Arc::new(|c: &SourceConfig| {
                let config: EchoConfig = c.parse()?;
                Ok(Box::new(Echoing {
                    info: SourceInfo {
                        id: c.id.clone(),
                        source_type: "echo".into(),
                        name: "echo".into(),
                    },
                    token: config.token,
                }) as Box<dyn EventSource>)
            }),
        ))
        .unwrap();
    let mut table = toml::Table::new();
    table.insert("token".into(), "xoxb-echoed-secret".into());
    let shared = SharedMemoryStore::new();
    let (report, _) = Engine::new(Arc::new(registry), EngineSettings::default())
        .sync(
            Box::new(shared.clone()),
            &[SourceConfig::new("e", "echo", table)],
            SyncOptions::default(),
        )
        .await
        .unwrap();
    let error = report.sources[0].error.clone().unwrap();
    assert_eq!(
        error, "source e: HTTP 401 (body: bad credentials ***)",
        "the report's error"
    );
    assert_eq!(shared.with(|s| s.runs["e"].error.clone()), Some(error));
}

#[tokio::test]
async fn a_sync_whose_end_the_full_store_cannot_record_leaves_its_start_recorded() {
    let shared = SharedMemoryStore::new();
    let (mut store, _) = GroupingStore::new(&shared, Some(2));
    store.full_after_failure = true;
    let report = run_alone(store, counting("a", 2000, 5)).await;
    assert_failed_with(&report, "disk full");
    shared.with(|s| {
        let run = &s.runs["a"];
        assert_eq!(run.status, RunStatus::Running, "{run:?}");
    });
}

#[tokio::test]
async fn a_finished_sync_replaces_the_record_of_its_start() {
    let shared = SharedMemoryStore::new();
    let (store, _) = GroupingStore::new(&shared, None);
    let report = run_alone(store, counting("a", 20, 5)).await;
    assert_eq!(report.status, SourceStatusKind::Ok);
    shared.with(|s| assert_eq!(s.runs["a"].status, RunStatus::Ok));
}

/// Counts how many of its kind run at once.
struct Slow {
    info: SourceInfo,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl EventSource for Slow {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
    fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
        let (running, peak) = (self.running.clone(), self.peak.clone());
        Box::pin(futures_util::stream::once(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(Batch::new(
                Vec::new(),
                Cursor::from_json(serde_json::json!({"version": 1})),
            ))
        }))
    }
}

#[tokio::test]
async fn at_most_concurrency_sources_run_at_once() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let sources: Vec<Box<dyn EventSource>> = (0..6)
        .map(|i| {
            Box::new(Slow {
                info: SourceInfo {
                    id: format!("s{i}"),
                    source_type: "slow".into(),
                    name: "slow".into(),
                },
                running: running.clone(),
                peak: peak.clone(),
            }) as Box<dyn EventSource>
        })
        .collect();
    let settings = EngineSettings {
        concurrency: 2,
        ..EngineSettings::default()
    };
    let (report, _) = Engine::new(Arc::new(Registry::new()), settings)
        .run(
            Box::new(MemoryStore::new()),
            sources,
            SyncOptions::default(),
        )
        .await;
    assert!(report.all_ok());
    assert_eq!(report.sources.len(), 6);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

struct Panicking(SourceInfo);

#[async_trait::async_trait]
impl EventSource for Panicking {
    fn info(&self) -> &SourceInfo {
        &self.0
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
    fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
        Box::pin(futures_util::stream::poll_fn(
            |_| -> std::task::Poll<Option<Result<Batch, SourceError>>> {
                panic!("bug in the source")
            },
        ))
    }
}

#[tokio::test]
async fn a_panicking_source_is_reported_with_its_message_and_recorded() {
    let shared = SharedMemoryStore::new();
    let info = SourceInfo {
        id: "p".into(),
        source_type: "panicking".into(),
        name: "p".into(),
    };
    let (report, _) = engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(Panicking(info)), Box::new(counting("ok", 5, 5))],
            SyncOptions::default(),
        )
        .await;
    let p = report.sources.iter().find(|s| s.info.id == "p").unwrap();
    assert_eq!(p.status, SourceStatusKind::Failed);
    assert!(
        p.error.as_deref().unwrap().contains("bug in the source"),
        "{:?}",
        p.error
    );
    let ok = report.sources.iter().find(|s| s.info.id == "ok").unwrap();
    assert_eq!(ok.events_written, 5);
    assert_eq!(
        report.sources[0].info.id, "p",
        "reports stay in config order"
    );
    shared.with(|s| assert_eq!(s.runs["p"].status, RunStatus::Failed));
}
