//! The single writer thread that owns the store, and the source tasks' handle on it.
//! A batch's events and cursor commit together; a source whose batch fails is fenced off.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::mailbox::{Receiver, Sender};
use crate::cursor::Cursor;
use crate::metrics::Metrics;
use crate::source::{Batch, SourceInfo, SourceState};
use crate::store::{CommitReport, RunRecord, RunStatus, Store, StoreError};
use crate::telemetry::{record, InternalEvent};

pub(super) enum Request {
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
        batch: Box<Batch>,
        reply: oneshot::Sender<Result<CommitReport, StoreError>>,
    },
    RecordRun {
        run: RunRecord,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Commits what is staged and finishes the store's deferred upkeep (a long-lived writer's
    /// end of a run; see [`Store::finish_sync`]).
    Finish {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Runs a caller's work on the store, after what was handed over before it (a feed's
    /// relay recording what it published). The work answers its caller itself.
    Call(StoreWork),
}

/// Work a caller runs on the writer's store ([`Request::Call`]).
pub(super) type StoreWork = Box<dyn FnOnce(&mut dyn Store) + Send>;

/// The source tasks' handle on the writer thread: its requests are taken before those of a
/// lower priority (see `mailbox`).
#[derive(Clone)]
pub(super) struct StoreClient {
    pub(super) tx: Sender<Request>,
    /// The store's packer: batches are packed on their source's task before they are sent.
    pub(super) packer: Option<std::sync::Arc<dyn crate::BatchPacker>>,
}

pub(super) fn writer_gone() -> StoreError {
    StoreError::Backend("the store writer stopped".into())
}

impl StoreClient {
    pub(super) async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let rx = self.send(make).await?;
        rx.await.map_err(|_| writer_gone())?
    }

    pub(super) async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| writer_gone())?;
        Ok(rx)
    }

    /// Packs `batch` of `source_id` for the store, if it packs (on the caller's task).
    pub(super) fn pack(&self, source_id: &str, batch: &mut crate::Batch) {
        if let Some(packer) = &self.packer {
            packer.pack(source_id, batch);
        }
    }

    /// The same writer, asked at `priority`.
    pub(super) fn at_priority(&self, priority: i32) -> Self {
        StoreClient {
            tx: self.tx.at_priority(priority),
            packer: self.packer.clone(),
        }
    }
}

/// The most events (plus dead letters) the writer stages in one transaction before it commits
/// even with more batches waiting. Larger groups rewrite each touched index page less often,
/// but hold more dirty pages in SQLite's cache: 32,000 log lines are about 20 MB of rows.
const GROUP_EVENTS: usize = 32_000;

/// The longest a group stays open while batches keep coming: what a sync has read becomes
/// visible to readers, and safe from a crash, at least this often.
const GROUP_TIME: Duration = Duration::from_secs(1);

/// A staged batch waiting for its group to commit.
struct StagedBatch {
    source_id: String,
    report: CommitReport,
    cursor: serde_json::Value,
    /// The newest `occurred_at` of its events, for the source's lag gauge.
    newest: Option<DateTime<Utc>>,
    reply: oneshot::Sender<Result<CommitReport, StoreError>>,
}

/// The store's thread. Batches that arrive while the writer is busy are committed together
/// (group commit): the writer stages each waiting batch, in its own savepoint, and commits when
/// no batch is waiting, when the group reaches [`GROUP_EVENTS`] or [`GROUP_TIME`], or before any
/// other request.
/// A slow source therefore sees each batch committed at once, while a bulk sync that outruns
/// the store pays one commit for many batches.
///
/// Requests come highest priority first; a group holding a batch of higher priority than the
/// next one is committed before that one is staged, so a high-priority batch waits for at most
/// the one batch being stored when it came, never for a low-priority group to fill.
pub(super) fn writer_loop(
    mut store: Box<dyn Store>,
    mut rx: Receiver<Request>,
    metrics: Metrics,
) -> Box<dyn Store> {
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
    // The highest priority of a batch in the group.
    let mut group_priority = i32::MIN;
    loop {
        let (priority, req) = if group.is_empty() {
            match rx.blocking_recv() {
                Some(next) => next,
                None => break,
            }
        } else {
            match rx.try_recv() {
                Some(next) => next,
                None => {
                    commit_group(&mut *store, &mut group, &mut fenced, &metrics);
                    (group_size, group_started) = (0, None);
                    continue;
                }
            }
        };
        if group.is_empty() {
            group_priority = i32::MIN;
        }
        if !matches!(req, Request::Commit { .. }) || priority < group_priority {
            // Reads and run records see (and follow) everything handed over before them.
            commit_group(&mut *store, &mut group, &mut fenced, &metrics);
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
                        group_priority = group_priority.max(priority);
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
                            newest: batch.events.iter().map(|e| e.occurred_at).max(),
                            reply,
                        });
                    }
                    Err(e) => {
                        fenced.insert(info.id);
                        let _ = reply.send(Err(e));
                    }
                }
                if dropper.is_some() {
                    let _ = discard.send(*batch);
                }
                let open_for = group_started.map_or(Duration::ZERO, |t| t.elapsed());
                if group_size >= GROUP_EVENTS || open_for >= GROUP_TIME {
                    commit_group(&mut *store, &mut group, &mut fenced, &metrics);
                    (group_size, group_started) = (0, None);
                }
            }
            Request::RecordRun { run, reply } => {
                // A new run of a source starts unfenced: the batches of its failed run were
                // all answered before that run ended, and this one resumes from the cursor
                // that was committed.
                if run.status == RunStatus::Running {
                    fenced.remove(&run.source_id);
                }
                let _ = reply.send(store.record_run(&run));
            }
            Request::Finish { reply } => {
                let _ = reply.send(store.finish_sync());
            }
            Request::Call(work) => work(&mut *store),
        }
    }
    commit_group(&mut *store, &mut group, &mut fenced, &metrics);
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
fn commit_group(
    store: &mut dyn Store,
    group: &mut Vec<StagedBatch>,
    fenced: &mut HashSet<String>,
    metrics: &Metrics,
) {
    if group.is_empty() {
        return;
    }
    let started = Instant::now();
    let committed = store.commit_staged();
    let duration = started.elapsed();
    match committed {
        Ok(()) => {
            record(
                metrics,
                InternalEvent::StoreCommitted {
                    batches: group.len(),
                    duration,
                },
            );
            for b in group.drain(..) {
                record(
                    metrics,
                    InternalEvent::BatchCommitted {
                        source_id: &b.source_id,
                        events: b.report.written,
                        duplicates: b.report.duplicates,
                        dead_letters: b.report.dead_letters,
                        cursor: &b.cursor,
                        newest: b.newest,
                    },
                );
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
