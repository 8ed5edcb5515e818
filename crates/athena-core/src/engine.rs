//! The engine: runs sources and commits their batches exactly once.
//!
//! Each source runs in its own task. Its batches go through one bounded channel to a single
//! writer thread that owns the [`Store`]; the writer stores a batch's events and cursor in one
//! transaction, together with the other batches waiting at that moment (group commit), and
//! answers each with what it stored once that transaction commits. A source whose batch fails is
//! fenced off: the writer refuses its later batches, so a cursor can never jump over a batch that
//! was not stored.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::{ConfigError, EngineSettings, SourceConfig};
use crate::cursor::Cursor;
use crate::redact::Redactor;
use crate::registry::Registry;
use crate::source::{Batch, EventSource, Progress, SourceInfo, SourceState, SourceStats};
use crate::store::{CommitReport, RunRecord, Store, StoreError};
use crate::telemetry::{emit, InternalEvent};

/// Runs sources against a store.
pub struct Engine {
    registry: Arc<Registry>,
    settings: EngineSettings,
}

/// Options of one sync.
#[derive(Clone)]
pub struct SyncOptions {
    /// Ignore saved cursors.
    pub full: bool,
    /// Stops the sync: the batches already handed to the store are committed, nothing more is
    /// read.
    pub cancel: CancelToken,
    /// Told about progress (progress bars).
    pub observer: Arc<dyn SyncObserver>,
    /// Secrets masked in every error the sync reports, logs or records in the store (a server
    /// may echo a token into an error body). [`Engine::sync`] adds those of the configs it
    /// builds; a caller of [`Engine::run`] passes [`BuiltSources::secrets`](crate::BuiltSources).
    pub secrets: Redactor,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            full: false,
            cancel: CancelToken::new(),
            observer: Arc::new(NoObserver),
            secrets: Redactor::new(),
        }
    }
}

/// How a source's sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceStatusKind {
    /// Read to the end.
    Ok,
    /// Failed; what was committed before the failure stays.
    Failed,
    /// Stopped by Ctrl-C after committing the batches already handed to the store.
    Interrupted,
}

impl SourceStatusKind {
    /// `ok`, `failed` or `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatusKind::Ok => "ok",
            SourceStatusKind::Failed => "failed",
            SourceStatusKind::Interrupted => "interrupted",
        }
    }
}

/// The result of one source's sync.
#[derive(Debug, Clone)]
pub struct SourceReport {
    /// Source identity.
    pub info: SourceInfo,
    /// How it ended.
    pub status: SourceStatusKind,
    /// Events newly stored.
    pub events_written: u64,
    /// Events already stored.
    pub duplicates: u64,
    /// Dead letters stored.
    pub invalid: u64,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Counters, including the source's own.
    pub stats: SourceStats,
}

/// The result of a sync.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// One report per source, in config order.
    pub sources: Vec<SourceReport>,
}

impl SyncReport {
    /// Whether every source finished without error.
    pub fn all_ok(&self) -> bool {
        self.sources
            .iter()
            .all(|s| s.status == SourceStatusKind::Ok)
    }
}

/// Receives progress while a sync runs. All methods default to doing nothing.
pub trait SyncObserver: Send + Sync {
    /// A source begins.
    fn source_started(&self, _info: &SourceInfo) {}
    /// A batch was stored. `total_written` counts this run so far.
    fn batch_committed(
        &self,
        _info: &SourceInfo,
        _total_written: u64,
        _progress: Option<Progress>,
    ) {
    }
    /// A source ended.
    fn source_finished(&self, _report: &SourceReport) {}
}

struct NoObserver;
impl SyncObserver for NoObserver {}

/// A cancellation signal shared by the CLI's Ctrl-C handler and the source tasks.
#[derive(Clone, Debug)]
pub struct CancelToken {
    tx: Arc<watch::Sender<bool>>,
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        CancelToken {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Cancels.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail while we wait.
        let _ = rx.wait_for(|c| *c).await;
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

/// A sync could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A source's config is wrong (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A batch handed to the writer: its commit result to come, and its progress for the observer.
type Pending = (
    oneshot::Receiver<Result<CommitReport, StoreError>>,
    Option<Progress>,
);

enum Request {
    LoadCursor {
        source_id: String,
        reply: oneshot::Sender<Result<Option<Cursor>, StoreError>>,
    },
    LoadState {
        source_id: String,
        reply: oneshot::Sender<Result<SourceState, StoreError>>,
    },
    Commit {
        info: SourceInfo,
        batch: Batch,
        reply: oneshot::Sender<Result<CommitReport, StoreError>>,
    },
    RecordRun {
        run: RunRecord,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// The source tasks' handle on the writer thread.
#[derive(Clone)]
struct StoreClient {
    tx: mpsc::Sender<Request>,
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the store writer stopped".into())
}

impl StoreClient {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let rx = self.send(make).await?;
        rx.await.map_err(|_| writer_gone())?
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| writer_gone())?;
        Ok(rx)
    }
}

/// The most events (plus dead letters) the writer stages in one transaction before it commits
/// even with more batches waiting. Larger groups rewrite each touched index page less often,
/// but hold more dirty pages in SQLite's cache: 32,000 log lines are about 20 MB of rows.
const GROUP_EVENTS: usize = 32_000;

/// The longest a group stays open while batches keep coming: what a sync has read becomes
/// visible to readers, and safe from a crash, at least this often.
const GROUP_TIME: Duration = Duration::from_secs(1);

/// How many batches a source may have handed to the writer without having seen them committed.
/// Memory is bounded by the channel (a staged batch is freed at once). A source that reaches
/// this waits for the oldest commit; the writer then finds the channel empty and commits, so a
/// group of small batches is cut at this many, never blocked.
const UNCOMMITTED_BATCHES: usize = 256;

/// A staged batch waiting for its group to commit.
struct StagedBatch {
    source_id: String,
    report: CommitReport,
    cursor: serde_json::Value,
    reply: oneshot::Sender<Result<CommitReport, StoreError>>,
}

/// The store's thread. Batches that arrive while the writer is busy are committed together
/// (group commit): the writer stages each waiting batch, in its own savepoint, and commits when
/// no batch is waiting, when the group reaches [`GROUP_EVENTS`] or [`GROUP_TIME`], or before any
/// other request.
/// A slow source therefore sees each batch committed at once, while a bulk sync that outruns
/// the store pays one commit for many batches.
fn writer_loop(mut store: Box<dyn Store>, mut rx: mpsc::Receiver<Request>) -> Box<dyn Store> {
    let mut fenced: HashSet<String> = HashSet::new();
    // Freeing a stored batch (thousands of small strings) is work the writer, the bottleneck
    // of a bulk sync, should not do: another thread does it.
    // Bounded, so a slow dropper holds back the writer rather than piling up memory.
    let (discard, discarded) = std::sync::mpsc::sync_channel::<Batch>(2);
    let dropper = std::thread::Builder::new()
        .name("athena-batch-drop".into())
        .spawn(move || discarded.into_iter().for_each(drop))
        .ok();
    let mut group: Vec<StagedBatch> = Vec::new();
    let mut group_size = 0;
    let mut group_started: Option<Instant> = None;
    loop {
        let req = if group.is_empty() {
            match rx.blocking_recv() {
                Some(req) => req,
                None => break,
            }
        } else {
            match rx.try_recv() {
                Ok(req) => req,
                Err(_) => {
                    commit_group(&mut *store, &mut group, &mut fenced);
                    (group_size, group_started) = (0, None);
                    continue;
                }
            }
        };
        if !matches!(req, Request::Commit { .. }) {
            // Reads and run records see (and follow) everything handed over before them.
            commit_group(&mut *store, &mut group, &mut fenced);
            (group_size, group_started) = (0, None);
        }
        match req {
            Request::LoadCursor { source_id, reply } => {
                let _ = reply.send(store.load_cursor(&source_id));
            }
            Request::LoadState { source_id, reply } => {
                let _ = reply.send(store.load_state(&source_id));
            }
            Request::Commit {
                info,
                mut batch,
                reply,
            } => {
                let staged = if fenced.contains(&info.id) {
                    Err(StoreError::SourceFailed {
                        source_id: info.id.clone(),
                    })
                } else {
                    store.stage_batch(&info, &batch)
                };
                match staged {
                    Ok(report) => {
                        group_size += batch.events.len() + batch.dead_letters.len() + 1;
                        group_started.get_or_insert_with(Instant::now);
                        group.push(StagedBatch {
                            source_id: info.id,
                            report,
                            // Taken, not cloned: the batch is only freed after this.
                            cursor: std::mem::replace(
                                &mut batch.checkpoint,
                                Cursor::from_json(serde_json::Value::Null),
                            )
                            .into_json(),
                            reply,
                        });
                    }
                    Err(e) => {
                        fenced.insert(info.id);
                        let _ = reply.send(Err(e));
                    }
                }
                if dropper.is_some() {
                    let _ = discard.send(batch);
                }
                let open_for = group_started.map_or(Duration::ZERO, |t| t.elapsed());
                if group_size >= GROUP_EVENTS || open_for >= GROUP_TIME {
                    commit_group(&mut *store, &mut group, &mut fenced);
                    (group_size, group_started) = (0, None);
                }
            }
            Request::RecordRun { run, reply } => {
                let _ = reply.send(store.record_run(&run));
            }
        }
    }
    commit_group(&mut *store, &mut group, &mut fenced);
    if let Err(e) = store.finish_sync() {
        // Every batch is committed; what failed is deferred upkeep the next sync redoes.
        tracing::warn!("finishing the sync in the store: {e}");
    }
    drop(discard);
    if let Some(dropper) = dropper {
        let _ = dropper.join();
    }
    store
}

/// Commits the staged group and answers its batches; if the commit fails, every source in the
/// group is failed (none of its staged batches is stored).
fn commit_group(store: &mut dyn Store, group: &mut Vec<StagedBatch>, fenced: &mut HashSet<String>) {
    if group.is_empty() {
        return;
    }
    match store.commit_staged() {
        Ok(()) => {
            for b in group.drain(..) {
                emit(InternalEvent::BatchCommitted {
                    source_id: &b.source_id,
                    events: b.report.written,
                    duplicates: b.report.duplicates,
                    dead_letters: b.report.dead_letters,
                    cursor: &b.cursor,
                });
                let _ = b.reply.send(Ok(b.report));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for b in group.drain(..) {
                fenced.insert(b.source_id);
                let _ = b
                    .reply
                    .send(Err(StoreError::Backend(message.clone().into())));
            }
        }
    }
}

impl Engine {
    /// An engine over the given registry.
    pub fn new(registry: Arc<Registry>, settings: EngineSettings) -> Self {
        Engine { registry, settings }
    }

    /// Builds every source first (any config error stops the sync before anything is read),
    /// then runs them, at most `concurrency` at a time. Returns the store when done.
    pub async fn sync(
        &self,
        store: Box<dyn Store>,
        configs: &[SourceConfig],
        mut options: SyncOptions,
    ) -> Result<(SyncReport, Box<dyn Store>), EngineError> {
        let built = self.registry.build_all(configs)?;
        options.secrets.merge(&built.secrets);
        Ok(self.run(store, built.sources, options).await)
    }

    /// Runs already built sources.
    pub async fn run(
        &self,
        store: Box<dyn Store>,
        sources: Vec<Box<dyn EventSource>>,
        options: SyncOptions,
    ) -> (SyncReport, Box<dyn Store>) {
        let (tx, rx) = mpsc::channel(self.settings.channel_capacity.max(1));
        let writer = std::thread::Builder::new()
            .name("athena-store-writer".into())
            .spawn(move || writer_loop(store, rx))
            .expect("spawning the store writer thread");
        let client = StoreClient { tx };
        let limit = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let infos: Vec<SourceInfo> = sources.iter().map(|s| s.info().clone()).collect();
        let mut task_index = std::collections::HashMap::new();
        for (index, source) in sources.into_iter().enumerate() {
            let client = client.clone();
            let limit = limit.clone();
            let options = options.clone();
            let handle = tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                run_source(source, client, options).await
            });
            task_index.insert(handle.id(), index);
        }
        let mut reports: Vec<Option<SourceReport>> = vec![None; infos.len()];
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, report)) => reports[task_index[&id]] = Some(report),
                Err(e) => {
                    // A panicking source is isolated like a failing one.
                    let index = task_index[&e.id()];
                    let info = infos[index].clone();
                    let why = if e.is_panic() {
                        crate::error::panic_message(e.into_panic().as_ref())
                    } else {
                        "its task was cancelled".to_string()
                    };
                    let error = options
                        .secrets
                        .redact(&format!(
                            "source {}: panicked while reading: {why}",
                            info.id
                        ))
                        .into_owned();
                    emit(InternalEvent::SourceFailed {
                        source_id: &info.id,
                        error: &error,
                    });
                    let run = RunRecord {
                        source_id: info.id.clone(),
                        source_type: info.source_type.clone(),
                        finished_at: chrono::Utc::now(),
                        status: SourceStatusKind::Failed.as_str().to_string(),
                        error: Some(error.clone()),
                    };
                    if let Err(e) = client.call(|reply| Request::RecordRun { run, reply }).await {
                        tracing::warn!(source = %info.id, "recording the run failed: {e}");
                    }
                    let report = SourceReport {
                        info,
                        status: SourceStatusKind::Failed,
                        events_written: 0,
                        duplicates: 0,
                        invalid: 0,
                        error: Some(error),
                        stats: SourceStats::default(),
                    };
                    options.observer.source_finished(&report);
                    reports[index] = Some(report);
                }
            }
        }
        drop(client);
        let store = tokio::task::spawn_blocking(move || writer.join())
            .await
            .ok()
            .and_then(Result::ok)
            .expect("the store writer thread panicked");
        let sources = reports.into_iter().flatten().collect();
        (SyncReport { sources }, store)
    }
}

async fn run_source(
    mut source: Box<dyn EventSource>,
    store: StoreClient,
    options: SyncOptions,
) -> SourceReport {
    let info = source.info().clone();
    let started = Instant::now();
    let mut report = SourceReport {
        info: info.clone(),
        status: SourceStatusKind::Ok,
        events_written: 0,
        duplicates: 0,
        invalid: 0,
        error: None,
        stats: SourceStats::default(),
    };
    options.observer.source_started(&info);
    // Recorded before anything is read: when the end cannot be recorded (the process is
    // killed, or the store is full and takes not even the run record), `status` then shows an
    // unfinished attempt rather than an older result, or none.
    let start = RunRecord {
        source_id: info.id.clone(),
        source_type: info.source_type.clone(),
        finished_at: chrono::Utc::now(),
        status: RunRecord::RUNNING.to_string(),
        error: None,
    };
    if let Err(e) = store
        .call(|reply| Request::RecordRun { run: start, reply })
        .await
    {
        tracing::warn!(source = %info.id, "recording the start of the run failed: {e}");
    }
    // The edge where a source's error becomes text: masked once here, it reaches the log, the
    // report and the store's run record without the config's secrets.
    let error = read_source(&mut *source, &store, &options, &mut report)
        .await
        .map(|e| options.secrets.redact(&e).into_owned());
    if let Err(e) = source.close().await {
        let e = e.to_string();
        tracing::warn!(source = %info.id, "closing failed: {}", options.secrets.redact(&e));
    }
    let own = source.stats();
    report.stats = SourceStats {
        events: report.events_written + report.duplicates,
        invalid: report.invalid,
        requests: own.requests,
        retries: own.retries,
        bytes: own.bytes,
        not_modified: own.not_modified,
        rate_limit_waits: own.rate_limit_waits,
        duration: started.elapsed(),
    };
    if let Some(error) = error {
        emit(InternalEvent::SourceFailed {
            source_id: &info.id,
            error: &error,
        });
        report.status = SourceStatusKind::Failed;
        report.error = Some(error);
    } else {
        emit(InternalEvent::SourceFinished {
            source_id: &info.id,
            events: report.events_written,
            duration_ms: duration_ms(report.stats.duration),
            status: report.status.as_str(),
        });
    }
    let run = RunRecord {
        source_id: info.id.clone(),
        source_type: info.source_type.clone(),
        finished_at: chrono::Utc::now(),
        status: report.status.as_str().to_string(),
        error: report.error.clone(),
    };
    if let Err(e) = store.call(|reply| Request::RecordRun { run, reply }).await {
        tracing::warn!(source = %info.id, "recording the run failed: {e}");
    }
    options.observer.source_finished(&report);
    report
}

/// Reads one source to its end (or to cancellation); returns the error that stopped it.
async fn read_source(
    source: &mut dyn EventSource,
    store: &StoreClient,
    options: &SyncOptions,
    report: &mut SourceReport,
) -> Option<String> {
    let info = source.info().clone();
    let (cursor, state) = if options.full {
        (None, SourceState::new())
    } else {
        let source_id = info.id.clone();
        let cursor = match store
            .call(|reply| Request::LoadCursor { source_id, reply })
            .await
        {
            Ok(c) => c,
            Err(e) => return Some(format!("source {}: loading its cursor: {e}", info.id)),
        };
        let source_id = info.id.clone();
        match store
            .call(|reply| Request::LoadState { source_id, reply })
            .await
        {
            Ok(state) => (cursor, state),
            Err(e) => return Some(format!("source {}: loading its state: {e}", info.id)),
        }
    };
    source.restore_state(state);
    emit(InternalEvent::SourceStarted {
        source_id: &info.id,
        resumed: cursor.is_some(),
    });
    if let Err(e) = source.validate().await {
        return Some(e.to_string());
    }
    let mut stream = source.events(cursor);
    // Batches sent to the writer whose commit we have not yet seen, oldest first.
    let mut in_flight: VecDeque<Pending> = VecDeque::new();
    let mut failure = None;
    loop {
        // Take in the commits that have happened; wait for one only when too many are open.
        let mut outcome = Ok(());
        while let Some((rx, progress)) = in_flight.front_mut() {
            let result = match rx.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => break,
                Err(oneshot::error::TryRecvError::Closed) => Err(writer_gone()),
                Ok(result) => result,
            };
            let progress = *progress;
            in_flight.pop_front();
            outcome = outcome.and(take_commit(result, progress, &info, options, report));
        }
        if in_flight.len() >= UNCOMMITTED_BATCHES {
            outcome = outcome.and(settle(&mut in_flight, 1, &info, options, report).await);
        }
        if let Err(e) = outcome {
            failure = Some(e);
            break;
        }
        let next = tokio::select! {
            biased;
            _ = options.cancel.cancelled() => {
                report.status = SourceStatusKind::Interrupted;
                break;
            }
            next = stream.next() => next,
        };
        match next {
            None => break,
            Some(Err(e)) => {
                failure = Some(e.to_string());
                break;
            }
            Some(Ok(mut batch)) => {
                batch.encode_json();
                let progress = batch.progress;
                let sent = store
                    .send(|reply| Request::Commit {
                        info: info.clone(),
                        batch,
                        reply,
                    })
                    .await;
                match sent {
                    Ok(rx) => in_flight.push_back((rx, progress)),
                    Err(e) => {
                        failure = Some(format!("source {}: storing a batch: {e}", info.id));
                        break;
                    }
                }
            }
        }
    }
    drop(stream);
    // Whatever was handed to the writer is committed (or refused) before we report.
    let pending = in_flight.len();
    if let Err(e) = settle(&mut in_flight, pending, &info, options, report).await {
        failure.get_or_insert(e);
    }
    failure
}

async fn settle(
    in_flight: &mut VecDeque<Pending>,
    count: usize,
    info: &SourceInfo,
    options: &SyncOptions,
    report: &mut SourceReport,
) -> Result<(), String> {
    let mut outcome = Ok(());
    for _ in 0..count {
        let Some((rx, progress)) = in_flight.pop_front() else {
            break;
        };
        let result = rx.await.map_err(|_| writer_gone()).and_then(|r| r);
        outcome = outcome.and(take_commit(result, progress, info, options, report));
    }
    outcome
}

/// Counts a committed batch (or returns why it was not stored).
fn take_commit(
    result: Result<CommitReport, StoreError>,
    progress: Option<Progress>,
    info: &SourceInfo,
    options: &SyncOptions,
    report: &mut SourceReport,
) -> Result<(), String> {
    match result {
        Ok(c) => {
            report.events_written += c.written;
            report.duplicates += c.duplicates;
            report.invalid += c.dead_letters;
            options
                .observer
                .batch_committed(info, report.events_written, progress);
            Ok(())
        }
        Err(e) => Err(format!("source {}: storing a batch: {e}", info.id)),
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryStore, SharedMemoryStore};
    use crate::source::BatchStream;
    use crate::{Event, SourceError};
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        assert_eq!(shared.with(|s| s.runs["a"].status.clone()), "ok");
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
            assert_eq!(s.runs["bad"].status, "failed");
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
            .register(crate::SourceType {
                name: "echo",
                description: "fails echoing its token",
                keys: vec![],
                build: Arc::new(|c: &SourceConfig| {
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
            })
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
            assert_eq!(run.status, RunRecord::RUNNING, "{run:?}");
        });
    }

    #[tokio::test]
    async fn a_finished_sync_replaces_the_record_of_its_start() {
        let shared = SharedMemoryStore::new();
        let (store, _) = GroupingStore::new(&shared, None);
        let report = run_alone(store, counting("a", 20, 5)).await;
        assert_eq!(report.status, SourceStatusKind::Ok);
        shared.with(|s| assert_eq!(s.runs["a"].status, "ok"));
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
        shared.with(|s| assert_eq!(s.runs["p"].status, "failed"));
    }
}
