//! The driver: runs sources in tasks, at most `concurrency` at once, until done or cancelled.
//! A failing or panicking source stops only itself; its run is recorded when it starts and ends.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::report::take_commit;
use super::report::Failure;
use super::slots::{Slot, Slots};
use super::writer::{writer_gone, writer_loop, Request, StoreClient};
use super::{CancelToken, Engine, SourceReport, SourceStatusKind, SyncOptions, SyncReport};
use crate::error::ErrorKind;
use crate::metrics::Metrics;
use crate::source::{EventSource, Progress, SourceInfo, SourceState, SourceStats};
use crate::store::{CommitReport, RunRecord, RunStatus, Store, StoreError};
use crate::telemetry::{record, InternalEvent};

/// How many batches a source may have handed to the writer without having seen them committed.
/// Memory is bounded by the channel (a staged batch is freed at once). A source that reaches
/// this waits for the oldest commit; the writer then finds the channel empty and commits, so a
/// group of small batches is cut at this many, never blocked.
const UNCOMMITTED_BATCHES: usize = 256;

/// A batch handed to the writer: its commit result to come, and its progress for the observer.
type Pending = (
    oneshot::Receiver<Result<CommitReport, StoreError>>,
    Option<Progress>,
);

impl Engine {
    /// Runs already built sources, on a writer of their own that is closed at the end.
    pub async fn run(
        &self,
        store: Box<dyn Store>,
        sources: Vec<Box<dyn EventSource>>,
        options: SyncOptions,
    ) -> (SyncReport, Box<dyn Store>) {
        let running = self.start(store, options.metrics.clone());
        let report = running.run(sources, options).await;
        (report, running.close().await)
    }

    /// Starts the writer thread on `store` and returns the handle that runs sources through it,
    /// for a caller (`serve`) that runs many sources, each on its own schedule, into one store.
    /// `metrics` counts the store's commits.
    pub fn start(&self, store: Box<dyn Store>, metrics: Metrics) -> RunningEngine {
        let (tx, rx) = super::mailbox::mailbox(self.settings.channel_capacity.max(1));
        let packer = store.batch_packer();
        let writer = std::thread::Builder::new()
            .name("athena-store-writer".into())
            .spawn(move || writer_loop(store, rx, metrics))
            .expect("spawning the store writer thread");
        RunningEngine {
            client: StoreClient { tx, packer },
            writer,
            slots: Slots::new(self.settings.concurrency.max(1)),
            active: Arc::new(Mutex::new(HashSet::new())),
        }
    }
}

/// An engine whose writer thread owns the store until [`close`](Self::close). Runs may be
/// started from several tasks at once; the writer serializes their commits, and at most
/// `concurrency` sources read at a time across all of them. Where sources wait (for a slot,
/// for the writer), the one of higher [`priority`](super::Priorities) goes first.
///
/// A source never runs twice at once: a run of a source already running fails at once
/// without reading. (Its cursor would be raced, and the writer lifts a failed source's fence
/// when its next run starts, which is sound only once the previous run has ended.)
pub struct RunningEngine {
    client: StoreClient,
    writer: std::thread::JoinHandle<Box<dyn Store>>,
    slots: Slots,
    /// The sources running now.
    active: Arc<Mutex<HashSet<String>>>,
}

/// A source's place in [`RunningEngine::active`], given up when its run ends however it ends.
struct ActiveRun {
    active: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl ActiveRun {
    /// Takes `id`'s place, or `None` if it is running already.
    fn claim(active: &Arc<Mutex<HashSet<String>>>, id: &str) -> Option<ActiveRun> {
        let mut set = active.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(id.to_string()).then(|| ActiveRun {
            active: active.clone(),
            id: id.to_string(),
        })
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        let mut set = self.active.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.id);
    }
}

impl RunningEngine {
    /// Runs already built sources to their end (or cancellation) and reports each.
    pub async fn run(
        &self,
        sources: Vec<Box<dyn EventSource>>,
        options: SyncOptions,
    ) -> SyncReport {
        let client = &self.client;
        let mut tasks = JoinSet::new();
        let infos: Vec<SourceInfo> = sources.iter().map(|s| s.info().clone()).collect();
        let mut task_index = std::collections::HashMap::new();
        for (index, source) in sources.into_iter().enumerate() {
            let priority = options.priorities.of(&source.info().id);
            let client = client.at_priority(priority);
            let mut turn = Turn {
                slots: self.slots.clone(),
                slot: None,
                source_id: source.info().id.clone(),
                priority,
            };
            let options = options.clone();
            let claim = ActiveRun::claim(&self.active, &source.info().id);
            let handle = tasks.spawn(async move {
                let Some(_claim) = claim else {
                    return already_running(source.info().clone(), &options);
                };
                // Waiting for a slot ends with a stop, as reading does (`run_source` then
                // reports the source interrupted without reading).
                turn.wait(&options.cancel).await;
                run_source(source, client, options, turn).await
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
                    reports[index] = Some(panicked(info, &why, client, &options).await);
                }
            }
        }
        SyncReport {
            sources: reports.into_iter().flatten().collect(),
        }
    }

    /// Once no source is running: commits what is staged and lets the store finish what it
    /// deferred (the SQLite store builds the indexes a bulk load left out). A long-lived
    /// caller calls it after each run; while another source runs (a backfill, say) it does
    /// nothing, so that a bulk load is finished by the last run to end, not midway.
    pub async fn finish(&self) -> Result<(), StoreError> {
        let idle = (self.active.lock())
            .map(|set| set.is_empty())
            .unwrap_or(false);
        if !idle {
            return Ok(());
        }
        self.client.call(|reply| Request::Finish { reply }).await
    }

    /// Runs `work` on the store in the writer thread, after every batch handed over before it
    /// is committed; for a feed's relay, which records there what it published.
    pub async fn on_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let call = Request::Call(Box::new(move |store: &mut dyn Store| {
            let _ = reply.send(work(store));
        }));
        self.client.tx.send(call).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// The sources waiting for a concurrency slot, in the order they will get one.
    pub fn waiting(&self) -> Vec<String> {
        self.slots.waiting()
    }

    /// Commits what is left, stops the writer, and gives the store back.
    pub async fn close(self) -> Box<dyn Store> {
        let RunningEngine { client, writer, .. } = self;
        drop(client);
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .ok()
            .and_then(Result::ok)
            .expect("the store writer thread panicked")
    }
}

/// The report of a source asked to run while it runs already: failed, nothing read or
/// recorded (its running run records its own end).
fn already_running(info: SourceInfo, options: &SyncOptions) -> SourceReport {
    let error = format!("source {}: is running already; not started twice", info.id);
    failed_before_reading(info, error, options)
}

/// The report (and run record) of a source whose task panicked.
async fn panicked(
    info: SourceInfo,
    why: &str,
    client: &StoreClient,
    options: &SyncOptions,
) -> SourceReport {
    let error = options
        .secrets
        .redact(&format!(
            "source {}: panicked while reading: {why}",
            info.id
        ))
        .into_owned();
    record(
        &options.metrics,
        InternalEvent::SourceFailed {
            source_id: &info.id,
            error: &error,
            duration: None,
        },
    );
    let run = RunRecord {
        source_id: info.id.clone(),
        source_type: info.source_type.clone(),
        finished_at: chrono::Utc::now(),
        status: RunStatus::Failed,
        error: Some(error.clone()),
        error_kind: Some(ErrorKind::Other.as_str().to_string()),
    };
    if let Err(e) = client.call(|reply| Request::RecordRun { run, reply }).await {
        tracing::warn!(source = %info.id, "recording the run failed: {e}");
    }
    failed_before_reading(info, error, options)
}

/// A failed report with nothing counted, told to the observer.
fn failed_before_reading(info: SourceInfo, error: String, options: &SyncOptions) -> SourceReport {
    let report = SourceReport {
        info,
        status: SourceStatusKind::Failed,
        events_written: 0,
        duplicates: 0,
        invalid: 0,
        error: Some(error),
        error_kind: Some(ErrorKind::Other),
        stats: SourceStats::default(),
    };
    options.observer.source_finished(&report);
    report
}

/// A source's turn to read: the slot it holds, given up between batches when a source of higher
/// priority waits for one.
struct Turn {
    slots: Slots,
    slot: Option<Slot>,
    source_id: String,
    priority: i32,
}

impl Turn {
    /// Waits for a slot, or for `cancel`.
    async fn wait(&mut self, cancel: &CancelToken) {
        self.slot = tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            slot = self.slots.acquire(&self.source_id, self.priority) => Some(slot),
        };
    }

    /// Between two batches: if a source of higher priority waits, gives the slot to it and
    /// waits for the next. False when cancelled meanwhile.
    async fn give_way(&mut self, cancel: &CancelToken) -> bool {
        if !(self.slot.as_ref()).is_some_and(Slot::should_yield) {
            return true;
        }
        self.slot = None;
        tracing::debug!(source = %self.source_id, "gives its slot to a source of higher priority");
        self.wait(cancel).await;
        self.slot.is_some()
    }
}

async fn run_source(
    mut source: Box<dyn EventSource>,
    store: StoreClient,
    options: SyncOptions,
    mut turn: Turn,
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
        error_kind: None,
        stats: SourceStats::default(),
    };
    options.observer.source_started(&info);
    // Cancelled while it waited for its turn: nothing is read, and its last run stays as it
    // was recorded (an interruption of a run that never began would hide it).
    if options.cancel.is_cancelled() {
        report.status = SourceStatusKind::Interrupted;
        options.observer.source_finished(&report);
        return report;
    }
    // Recorded before anything is read: when the end cannot be recorded (the process is
    // killed, or the store is full and takes not even the run record), `status` then shows an
    // unfinished attempt rather than an older result, or none.
    let start = RunRecord {
        source_id: info.id.clone(),
        source_type: info.source_type.clone(),
        finished_at: chrono::Utc::now(),
        status: RunStatus::Running,
        error: None,
        error_kind: None,
    };
    if let Err(e) = store
        .call(|reply| Request::RecordRun { run: start, reply })
        .await
    {
        tracing::warn!(source = %info.id, "recording the start of the run failed: {e}");
    }
    // The edge where a source's error becomes text: masked once here, it reaches the log, the
    // report and the store's run record without the config's secrets.
    let failure = read_source(&mut *source, &store, &options, &mut report, &mut turn)
        .await
        .map(|f| Failure {
            message: options.secrets.redact(&f.message).into_owned(),
            ..f
        });
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
        responses: own.responses,
        duration: started.elapsed(),
    };
    record(
        &options.metrics,
        InternalEvent::RequestsCounted {
            source_id: &info.id,
            stats: &report.stats,
        },
    );
    if let Some(failure) = failure {
        record(
            &options.metrics,
            InternalEvent::SourceFailed {
                source_id: &info.id,
                error: &failure.message,
                duration: Some(report.stats.duration),
            },
        );
        report.status = SourceStatusKind::Failed;
        report.error = Some(failure.message);
        report.error_kind = Some(failure.kind);
    } else {
        record(
            &options.metrics,
            InternalEvent::SourceFinished {
                source_id: &info.id,
                events: report.events_written,
                duration: report.stats.duration,
                status: report.status,
            },
        );
    }
    let run = RunRecord {
        source_id: info.id.clone(),
        source_type: info.source_type.clone(),
        finished_at: chrono::Utc::now(),
        status: report.status.into(),
        error: report.error.clone(),
        error_kind: report.error_kind.map(|k| k.as_str().to_string()),
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
    turn: &mut Turn,
) -> Option<Failure> {
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
            Err(e) => {
                let message = format!("source {}: loading its cursor: {e}", info.id);
                return Some(Failure::other(message));
            }
        };
        let source_id = info.id.clone();
        match store
            .call(|reply| Request::LoadState { source_id, reply })
            .await
        {
            Ok(state) => (cursor, state),
            Err(e) => {
                let message = format!("source {}: loading its state: {e}", info.id);
                return Some(Failure::other(message));
            }
        }
    };
    source.restore_state(state);
    record(
        &options.metrics,
        InternalEvent::SourceStarted {
            source_id: &info.id,
            resumed: cursor.is_some(),
        },
    );
    if let Err(e) = source.validate().await {
        return Some(e.into());
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
        if !turn.give_way(&options.cancel).await {
            report.status = SourceStatusKind::Interrupted;
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
                failure = Some(e.into());
                break;
            }
            Some(Ok(mut batch)) => {
                batch.encode_json();
                if let Some(linker) = &options.links {
                    batch.find_links(linker, &info.source_type);
                }
                store.pack(&info.id, &mut batch);
                let progress = batch.progress;
                let sent = store
                    .send(|reply| Request::Commit {
                        info: info.clone(),
                        batch: Box::new(batch),
                        reply,
                    })
                    .await;
                match sent {
                    Ok(rx) => in_flight.push_back((rx, progress)),
                    Err(e) => {
                        let message = format!("source {}: storing a batch: {e}", info.id);
                        failure = Some(Failure::other(message));
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
) -> Result<(), Failure> {
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
