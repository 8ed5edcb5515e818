//! Priorities: the order sources get a concurrency slot, a low-priority source giving its slot
//! up between batches, and the writer taking a high-priority batch before queued low ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::{counting, SourceError, Store, StoreError};
use crate::config::EngineSettings;
use crate::cursor::Cursor;
use crate::memory::SharedMemoryStore;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::source::{Batch, BatchStream, EventSource, SourceInfo};
use crate::store::{CommitReport, RunRecord};
use crate::{Engine, Event, Priorities, RunningEngine, SyncOptions};

/// What happened, in order: `validate ID`, `read ID N`, `stage ID`, `commit`, markers.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn has(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }
    fn count(&self, prefix: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }
}

/// `batches` batches of one event, each read `pace` after the last; its validation waits for
/// `gate` when it has one.
struct Paced {
    info: SourceInfo,
    batches: u64,
    pace: Duration,
    log: Log,
    gate: Option<Arc<Notify>>,
}

fn paced(id: &str, batches: u64, pace_ms: u64, log: &Log) -> Paced {
    Paced {
        info: SourceInfo {
            id: id.into(),
            source_type: "paced".into(),
            name: id.into(),
        },
        batches,
        pace: Duration::from_millis(pace_ms),
        log: log.clone(),
        gate: None,
    }
}

#[async_trait::async_trait]
impl EventSource for Paced {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        self.log.push(format!("validate {}", self.info.id));
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        Ok(())
    }
    fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
        let (id, total, pace, log) = (
            self.info.id.clone(),
            self.batches,
            self.pace,
            self.log.clone(),
        );
        Box::pin(futures_util::stream::unfold(0, move |n| {
            let (id, log) = (id.clone(), log.clone());
            async move {
                if n == total {
                    return None;
                }
                tokio::time::sleep(pace).await;
                log.push(format!("read {id} {n}"));
                let event = Event::new(format!("e{n}"), "tick", chrono::Utc::now(), "t");
                let cursor = Cursor::from_json(serde_json::json!({"version": 1, "next": n + 1}));
                Some((Ok(Batch::new(vec![event], cursor)), n + 1))
            }
        }))
    }
}

/// Logs each batch staged and each commit; staging takes `stage_delay`.
struct LoggingStore {
    inner: SharedMemoryStore,
    staged: Vec<(SourceInfo, Batch)>,
    log: Log,
    stage_delay: Duration,
}

impl Store for LoggingStore {
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
        self.log.push(format!("stage {}", s.id));
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
        self.log.push("commit".into());
        for (s, b) in std::mem::take(&mut self.staged) {
            self.inner.commit_batch(&s, &b)?;
        }
        Ok(())
    }
    fn record_run(&mut self, r: &RunRecord) -> Result<(), StoreError> {
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

fn start(concurrency: usize, channel_capacity: usize, store: Box<dyn Store>) -> Arc<RunningEngine> {
    let settings = EngineSettings {
        concurrency,
        channel_capacity,
    };
    Arc::new(Engine::new(Arc::new(Registry::new()), settings).start(store, Metrics::new()))
}

fn options(priorities: &[(&str, i32)]) -> SyncOptions {
    SyncOptions {
        priorities: Priorities::new(priorities.iter().map(|(id, p)| (id.to_string(), *p))),
        ..SyncOptions::default()
    }
}

/// Runs `source` on `engine` in a task of its own.
fn spawn_run(
    engine: &Arc<RunningEngine>,
    source: impl EventSource + 'static,
    options: &SyncOptions,
) -> tokio::task::JoinHandle<bool> {
    let (engine, options) = (engine.clone(), options.clone());
    tokio::spawn(async move {
        let report = engine.run(vec![Box::new(source)], options).await;
        report.all_ok()
    })
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_waiting_for_a_slot_start_highest_priority_first() {
    let log = Log::default();
    let engine = start(1, 2, Box::new(crate::memory::MemoryStore::new()));
    let options = options(&[("urgent", 9), ("later", -1)]);
    let gate = Arc::new(Notify::new());
    let first = spawn_run(
        &engine,
        Paced {
            gate: Some(gate.clone()),
            ..paced("first", 1, 0, &log)
        },
        &options,
    );
    until("first to hold the slot", || log.has("validate first")).await;
    let mut runs = vec![first];
    // They ask in this order, each once the one before waits.
    for id in ["later", "a", "b", "urgent"] {
        runs.push(spawn_run(&engine, paced(id, 1, 0, &log), &options));
        until(id, || engine.waiting().contains(&id.to_string())).await;
    }
    assert_eq!(engine.waiting(), ["urgent", "a", "b", "later"]);
    gate.notify_one();
    for run in runs {
        assert!(run.await.unwrap());
    }
    let validated: Vec<String> = (log.lines().into_iter())
        .filter_map(|l| l.strip_prefix("validate ").map(str::to_string))
        .collect();
    assert_eq!(validated, ["first", "urgent", "a", "b", "later"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_gives_its_slot_to_a_higher_priority_source_after_one_batch() {
    let log = Log::default();
    let shared = SharedMemoryStore::new();
    let engine = start(1, 2, Box::new(shared.clone()));
    let options = options(&[("live", 5)]);
    // A batch takes 20 ms to read, far longer than asking for a slot.
    let backfill = spawn_run(&engine, paced("backfill", 40, 20, &log), &options);
    until("the backfill to read", || log.count("read backfill") >= 3).await;
    log.push("live waits".into());
    let live = spawn_run(&engine, paced("live", 3, 1, &log), &options);
    assert!(live.await.unwrap());
    assert!(backfill.await.unwrap());

    let lines = log.lines();
    let at = |line: &str| lines.iter().position(|l| l == line).unwrap();
    let (waits, starts, ends) = (at("live waits"), at("validate live"), at("read live 2"));
    let backfill_reads = |range: std::ops::Range<usize>| {
        lines[range]
            .iter()
            .filter(|l| l.starts_with("read backfill"))
            .count()
    };
    assert!(
        backfill_reads(waits..starts) <= 1,
        "the backfill read more than one batch while live waited: {lines:?}"
    );
    assert_eq!(backfill_reads(starts..ends), 0, "{lines:?}");
    // The backfill went on afterwards from where it was, and everything is stored once.
    assert!(backfill_reads(ends..lines.len()) > 30, "{lines:?}");
    let stored = shared.with(|s| s.events.len());
    assert_eq!(stored, 43);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_stores_and_commits_a_high_priority_batch_before_queued_low_ones() {
    let log = Log::default();
    let shared = SharedMemoryStore::new();
    let store = LoggingStore {
        inner: shared.clone(),
        staged: Vec::new(),
        log: log.clone(),
        stage_delay: Duration::from_millis(1),
    };
    // Two slots: both read at once and meet at the writer, which the backfill keeps busy.
    let engine = start(2, 16, Box::new(store));
    let options = options(&[("live", 5)]);
    let backfill = spawn_run(&engine, counting("backfill", 600, 1), &options);
    until("the backfill to queue up", || {
        log.count("stage backfill") >= 20
    })
    .await;
    let live = spawn_run(&engine, paced("live", 3, 20, &log), &options);
    assert!(live.await.unwrap());
    assert!(backfill.await.unwrap());

    let lines = log.lines();
    let mut checked = 0;
    for n in 0..3 {
        let read = lines
            .iter()
            .position(|l| *l == format!("read live {n}"))
            .unwrap();
        let staged = read
            + lines[read..]
                .iter()
                .position(|l| l == "stage live")
                .unwrap();
        let before = lines[read..staged]
            .iter()
            .filter(|l| *l == "stage backfill")
            .count();
        assert!(
            before <= 1,
            "{before} backfill batches stored first: {lines:?}"
        );
        // Committed before the next backfill batch is staged.
        let after = &lines[staged + 1..];
        let commit = after.iter().position(|l| l == "commit").unwrap();
        let next_backfill = after.iter().position(|l| l == "stage backfill");
        if let Some(next) = next_backfill {
            assert!(
                commit < next,
                "a backfill batch joined live's group: {lines:?}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "the backfill ended too soon to compete: {lines:?}"
    );
    assert_eq!(shared.with(|s| s.events.len()), 603);
}
