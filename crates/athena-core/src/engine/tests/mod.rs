//! Unit tests of the engine (`driver.rs`, `writer.rs`) and the sources and stores
//! they run: a counting source and a store that holds batches until its group commits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Engine, SourceReport, SourceStatusKind, SyncOptions};
use crate::config::EngineSettings;
use crate::cursor::Cursor;
use crate::memory::SharedMemoryStore;
use crate::registry::Registry;
use crate::source::{Batch, BatchStream, EventSource, SourceInfo};
use crate::store::{CommitReport, RunRecord, Store, StoreError};
use crate::{Event, SourceError};

mod driver;
mod metrics;
mod priority;
mod running;
mod writer;

/// Yields `total` numbered events in batches of `per_batch`, resuming after the cursor;
/// fails after `fail_after` batches if set.
struct Counting {
    info: SourceInfo,
    total: u64,
    per_batch: u64,
    fail_after: Option<u64>,
    fail_validate: bool,
    batches_yielded: Arc<AtomicUsize>,
}

fn counting(id: &str, total: u64, per_batch: u64) -> Counting {
    Counting {
        info: SourceInfo {
            id: id.into(),
            source_type: "counting".into(),
            name: id.into(),
        },
        total,
        per_batch,
        fail_after: None,
        fail_validate: false,
        batches_yielded: Arc::new(AtomicUsize::new(0)),
    }
}

#[async_trait::async_trait]
impl EventSource for Counting {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        if self.fail_validate {
            return Err(SourceError::failed(
                &self.info.id,
                "path /nope does not exist",
            ));
        }
        Ok(())
    }
    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let start = cursor
            .and_then(|c| c.as_json()["next"].as_u64())
            .unwrap_or(0);
        let (total, per, fail_after, id) = (
            self.total,
            self.per_batch,
            self.fail_after,
            self.info.id.clone(),
        );
        let yielded = self.batches_yielded.clone();
        let batches = (start..total)
            .step_by(per as usize)
            .enumerate()
            .map(move |(n, from)| {
                if fail_after.is_some_and(|f| n as u64 >= f) {
                    return Err(SourceError::failed(&id, "boom"));
                }
                let to = (from + per).min(total);
                let events = (from..to)
                    .map(|i| Event::new(format!("e{i}"), "tick", chrono::Utc::now(), "t"))
                    .collect();
                yielded.fetch_add(1, Ordering::SeqCst);
                Ok(Batch::new(
                    events,
                    Cursor::from_json(serde_json::json!({"version":1,"next":to})),
                ))
            });
        Box::pin(futures_util::stream::iter(batches))
    }
}

fn engine() -> Engine {
    Engine::new(Arc::new(Registry::new()), EngineSettings::default())
}

/// Holds staged batches until `commit_staged`, as a transaction would; counts the commits
/// and fails the `fail_at`-th one (dropping its batches), or the `fail_stage_at`-th batch
/// staged. Staging is slow (`stage_delay`), so batches queue up behind it.
struct GroupingStore {
    inner: SharedMemoryStore,
    staged: Vec<(SourceInfo, Batch)>,
    commits: Arc<AtomicUsize>,
    fail_at: Option<usize>,
    stages: usize,
    fail_stage_at: Option<usize>,
    stage_delay: std::time::Duration,
    /// Like a full disk: once a commit has failed, every write fails.
    full_after_failure: bool,
    full: bool,
}

impl GroupingStore {
    fn new(inner: &SharedMemoryStore, fail_at: Option<usize>) -> (Self, Arc<AtomicUsize>) {
        let commits = Arc::new(AtomicUsize::new(0));
        let store = GroupingStore {
            inner: inner.clone(),
            staged: Vec::new(),
            commits: commits.clone(),
            fail_at,
            stages: 0,
            fail_stage_at: None,
            stage_delay: std::time::Duration::from_millis(2),
            full_after_failure: false,
            full: false,
        };
        (store, commits)
    }
}

async fn run_alone(store: GroupingStore, source: Counting) -> SourceReport {
    let (mut report, _) = engine()
        .run(
            Box::new(store),
            vec![Box::new(source)],
            SyncOptions::default(),
        )
        .await;
    report.sources.remove(0)
}

fn assert_failed_with(report: &SourceReport, needle: &str) {
    assert_eq!(report.status, SourceStatusKind::Failed);
    let error = report.error.as_deref().unwrap_or_default();
    assert!(error.contains(needle), "{error}");
}

impl Store for GroupingStore {
    fn load_cursor(&mut self, id: &str) -> Result<Option<Cursor>, StoreError> {
        self.inner.load_cursor(id)
    }
    fn load_state(&mut self, id: &str) -> Result<crate::SourceState, StoreError> {
        self.inner.load_state(id)
    }
    fn commit_batch(&mut self, s: &SourceInfo, b: &Batch) -> Result<CommitReport, StoreError> {
        let report = self.stage_batch(s, b)?;
        self.commit_staged()?;
        Ok(report)
    }
    fn stage_batch(&mut self, s: &SourceInfo, b: &Batch) -> Result<CommitReport, StoreError> {
        std::thread::sleep(self.stage_delay);
        self.stages += 1;
        if self.fail_stage_at == Some(self.stages) {
            return Err(StoreError::Backend("disk full".into()));
        }
        self.staged.push((s.clone(), b.clone()));
        Ok(CommitReport {
            written: b.events.len() as u64,
            ..CommitReport::default()
        })
    }
    fn commit_staged(&mut self) -> Result<(), StoreError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        let group = std::mem::take(&mut self.staged);
        if self.fail_at == Some(n) || self.full {
            self.full = self.full_after_failure;
            return Err(StoreError::Backend("disk full".into()));
        }
        for (s, b) in &group {
            self.inner.commit_batch(s, b)?;
        }
        Ok(())
    }
    fn record_run(&mut self, r: &RunRecord) -> Result<(), StoreError> {
        if self.full {
            return Err(StoreError::Backend("disk full".into()));
        }
        self.inner.record_run(r)
    }
    fn reset_cursor(&mut self, id: &str) -> Result<bool, StoreError> {
        self.inner.reset_cursor(id)
    }
    fn query_events(&self, q: &crate::EventQuery) -> Result<Vec<Event>, StoreError> {
        self.inner.query_events(q)
    }
    fn sources_status(&self) -> Result<Vec<crate::SourceStatus>, StoreError> {
        self.inner.sources_status()
    }
    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::StoredDeadLetter>, StoreError> {
        self.inner.dead_letters(source, limit)
    }
}
