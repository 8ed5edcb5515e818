//! The `git` source: plans the walk, computes diffs on a pool of threads, and streams batches
//! in commit order with exact checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use crate::reader::{spawn_reader, BatchSender};
use async_trait::async_trait;
use athena_core::error::panic_message;
use athena_core::telemetry::{emit, InternalEvent};
use athena_core::{
    Batch, BatchStream, Cursor, Event, EventSource, Progress, SourceConfig, SourceError, SourceInfo,
};
use gix::hash::ObjectId;
use serde_json::Value;

use super::commit::{DiffOptions, Differ};
use super::config::GitConfig;
use super::cursor::{GitCursor, Pending, VERSION};
use super::walk::{existing, is_ancestor, plan, resolve_tips, Plan};

/// Commits handed to a worker at a time. Long runs of consecutive commits keep each worker's
/// caches warm: a commit's parent tree and the delta bases of its blobs were mostly just read
/// for the previous commit.
const CHUNK: usize = 512;
/// Inflated delta bases kept per worker thread. On rust-lang/cargo a 32 MiB map per worker
/// took about a sixth off the CPU time of gitoxide's default 64-entry cache, at about 250 MB
/// peak RSS in all (of which the memory-mapped pack is 100 MB).
const PACK_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// How many chunks, per worker, workers may run ahead of the oldest chunk not yet emitted.
const WINDOW_PER_THREAD: usize = 2;

/// Reads a local git repository's history as `commit` events.
pub struct GitSource {
    info: SourceInfo,
    config: GitConfig,
    path: PathBuf,
    /// The reading thread of the current `events` stream, and its stop flag.
    reader: Option<(std::thread::JoinHandle<()>, Arc<AtomicBool>)>,
}

impl GitSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, athena_core::ConfigError> {
        let git: GitConfig = config.parse()?;
        if !(1..=100_000).contains(&git.batch_size) {
            return Err(config.error(Some("batch_size"), "must be between 1 and 100000"));
        }
        if git.threads.is_some_and(|t| !(1..=256).contains(&t)) {
            return Err(config.error(Some("threads"), "must be between 1 and 256"));
        }
        if git.max_diff_bytes > 1 << 30 {
            return Err(config.error(Some("max_diff_bytes"), "must be at most 1 GiB"));
        }
        let path = config.resolve_path(&git.path);
        Ok(GitSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "git".into(),
                name: format!("git {}", path.display()),
            },
            config: git,
            path,
            reader: None,
        })
    }

    fn branches(&self) -> Vec<String> {
        if self.config.branches.is_empty() {
            vec!["HEAD".to_string()]
        } else {
            self.config.branches.clone()
        }
    }

    fn open(&self) -> Result<gix::ThreadSafeRepository, SourceError> {
        open_repo(&self.info.id, &self.path)
    }
}

fn open_repo(source_id: &str, path: &PathBuf) -> Result<gix::ThreadSafeRepository, SourceError> {
    if !path.exists() {
        return Err(SourceError::path(source_id, path, "does not exist"));
    }
    gix::open::Options::isolated()
        .open(path.clone())
        .map_err(|e| SourceError::path(source_id, path, format!("not a git repository: {e}")))
}

#[async_trait]
impl EventSource for GitSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    async fn validate(&mut self) -> Result<(), SourceError> {
        let repo = self.open()?.to_thread_local();
        resolve_tips(&repo, &self.branches())
            .map_err(|e| SourceError::path(&self.info.id, &self.path, e))?;
        Ok(())
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job {
            cancel: cancel.clone(),
            source_id: self.info.id.clone(),
            path: self.path.clone(),
            repo_label: self.path.display().to_string(),
            branches: self.branches(),
            options: DiffOptions {
                include_diff: self.config.include_diff,
                max_diff_bytes: self.config.max_diff_bytes,
                merge_diffs: self.config.merge_diffs,
                shallow: None,
            },
            batch_size: self.config.batch_size,
            threads: self
                .config
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        };
        let (stream, handle) =
            spawn_reader(&self.info.id, format!("git-{}", self.info.id), move |tx| {
                job.run(cursor, tx)
            });
        self.reader = handle.map(|h| (h, cancel));
        stream
    }

    /// Stops the reading thread and its diff workers (at their next commit) and waits for them.
    async fn close(&mut self) -> Result<(), SourceError> {
        if let Some((handle, cancel)) = self.reader.take() {
            cancel.store(true, Ordering::Relaxed);
            let joined = tokio::task::spawn_blocking(move || handle.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                return Err(SourceError::failed(
                    &self.info.id,
                    "the reading thread panicked",
                ));
            }
        }
        Ok(())
    }
}

/// Everything the producer thread needs, detached from the source.
struct Job {
    /// Set by `close()`: workers stop at the next commit.
    cancel: Arc<AtomicBool>,
    source_id: String,
    path: PathBuf,
    repo_label: String,
    branches: Vec<String>,
    options: DiffOptions,
    batch_size: usize,
    threads: usize,
}

/// The stream's consumer went away (sync interrupted): stop quietly.
struct Stopped;

impl Job {
    fn err(&self, message: impl Into<String>) -> SourceError {
        SourceError::path(&self.source_id, &self.path, message)
    }

    fn run(&self, cursor: Option<Cursor>, tx: &BatchSender) -> Result<(), SourceError> {
        let shared = open_repo(&self.source_id, &self.path)?;
        let repo = shared.to_thread_local();
        let shallow = repo
            .shallow_commits()
            .map_err(|e| self.err(format!("reading the shallow file: {e}")))?
            .map(|cut| std::sync::Arc::new(cut.iter().copied().collect()));
        let options = DiffOptions {
            shallow,
            ..self.options.clone()
        };
        let saved: GitCursor = Cursor::decode_saved(cursor, &self.source_id, u64::from(VERSION))?
            .unwrap_or(GitCursor {
                version: VERSION,
                ..GitCursor::default()
            });
        let current = resolve_tips(&repo, &self.branches).map_err(|e| self.err(e))?;
        let current_hex: BTreeMap<String, String> = current
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();

        // A walk that a previous sync stored part of is finished first: to its own targets,
        // hiding what its stored heads reach.
        let mut from = saved.tips.clone();
        if let Some(pending) = &saved.pending {
            let targets: Option<BTreeMap<String, ObjectId>> = pending
                .targets
                .iter()
                .map(|(k, v)| {
                    ObjectId::from_hex(v.as_bytes())
                        .ok()
                        .filter(|id| repo.has_object(id))
                        .map(|id| (k.clone(), id))
                })
                .collect();
            if let Some(targets) = targets {
                let heads: BTreeSet<ObjectId> =
                    existing(&repo, &pending.heads).into_iter().collect();
                let mut hidden = existing(&repo, from.values());
                hidden.extend(heads.iter().copied());
                let plan =
                    plan(&repo, &hidden, &targets, &self.branches).map_err(|e| self.err(e))?;
                if self
                    .emit(
                        &shared,
                        options.clone(),
                        &plan,
                        heads,
                        &from,
                        &pending.targets,
                        tx,
                    )
                    .is_err()
                {
                    return Ok(());
                }
                from.clone_from(&pending.targets);
            }
        }
        if from == current_hex {
            return Ok(());
        }
        for (branch, old) in &from {
            if let (Some(new), Ok(old)) = (current.get(branch), ObjectId::from_hex(old.as_bytes()))
            {
                if repo.has_object(old) && !is_ancestor(&repo, old, *new) {
                    emit(InternalEvent::BranchRewritten {
                        source_id: &self.source_id,
                        branch,
                        old: &old.to_string(),
                        new: &new.to_string(),
                    });
                }
            }
        }
        let hidden = existing(&repo, from.values());
        let plan = plan(&repo, &hidden, &current, &self.branches).map_err(|e| self.err(e))?;
        let _ = self.emit(
            &shared,
            options,
            &plan,
            BTreeSet::new(),
            &from,
            &current_hex,
            tx,
        );
        Ok(())
    }

    /// Streams the plan's commits. Every batch but the last says "the walk from `from` to `to`
    /// is stored as far as these heads reach"; the last says "everything up to `to` is stored".
    /// `heads` are the heads of what an earlier, interrupted sync stored of this walk.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        shared: &gix::ThreadSafeRepository,
        options: DiffOptions,
        plan: &Plan,
        mut heads: BTreeSet<ObjectId>,
        from: &BTreeMap<String, String>,
        to: &BTreeMap<String, String>,
        tx: &BatchSender,
    ) -> Result<(), Stopped> {
        let commits = &plan.commits[..];
        let total = plan.commits.len() as u64;
        let done_cursor = || {
            Cursor::encode(&GitCursor {
                version: VERSION,
                tips: to.clone(),
                pending: None,
            })
        };
        if commits.is_empty() {
            let batch = Batch::new(Vec::new(), done_cursor());
            return tx.blocking_send(Ok(batch)).map_err(|_| Stopped);
        }
        let chunks = commits.len().div_ceil(CHUNK);
        let next_chunk = AtomicUsize::new(0);
        let emitted_chunks = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let threads = self.threads.clamp(1, chunks);
        let window = threads * WINDOW_PER_THREAD;
        let (results_tx, results_rx) =
            std_mpsc::sync_channel::<(usize, Result<Vec<Event>, String>)>(threads * 4);
        let context_repo = Value::String(self.repo_label.clone());

        std::thread::scope(|scope| {
            for _ in 0..threads {
                let results_tx = results_tx.clone();
                let options = options.clone();
                let (next_chunk, emitted_chunks, stop) = (&next_chunk, &emitted_chunks, &stop);
                scope.spawn(move || {
                    let mut repo = shared.to_thread_local();
                    tune_caches(&mut repo);
                    let mut differ = Differ::new(repo, options);
                    loop {
                        let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                        if chunk >= chunks {
                            break;
                        }
                        while chunk >= emitted_chunks.load(Ordering::Acquire) + window {
                            if stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        if stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        let range = chunk * CHUNK..((chunk + 1) * CHUNK).min(commits.len());
                        let result: Result<Vec<Event>, String> = commits[range]
                            .iter()
                            .map(|id| {
                                if stop.load(Ordering::Relaxed)
                                    || self.cancel.load(Ordering::Relaxed)
                                {
                                    return Err("stopped".to_string());
                                }
                                // A bug must fail this source with the commit named, not
                                // hang the sync waiting for a chunk that never comes.
                                catch_unwind(AssertUnwindSafe(|| differ.commit_event(*id)))
                                    .unwrap_or_else(|panic| {
                                        Err(format!(
                                            "reading commit {id} panicked: {}",
                                            panic_message(panic.as_ref())
                                        ))
                                    })
                            })
                            .collect();
                        if results_tx.send((chunk, result)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(results_tx);

            let mut waiting: HashMap<usize, Result<Vec<Event>, String>> = HashMap::new();
            let mut batch: Vec<Event> = Vec::with_capacity(self.batch_size);
            let mut position = 0;
            let mut outcome = Ok(());
            'chunks: for chunk in 0..chunks {
                let result = loop {
                    if let Some(r) = waiting.remove(&chunk) {
                        break r;
                    }
                    match results_rx.recv() {
                        Ok((i, r)) => {
                            waiting.insert(i, r);
                        }
                        Err(_) => {
                            // Every worker is gone and this chunk never came.
                            if !stop.load(Ordering::Relaxed) {
                                let message =
                                    format!("the diff workers stopped before commit chunk {chunk}");
                                let _ = tx.blocking_send(Err(self.err(message)));
                            }
                            outcome = Err(Stopped);
                            break 'chunks;
                        }
                    }
                };
                emitted_chunks.store(chunk + 1, Ordering::Release);
                let events = match result {
                    Ok(events) => events,
                    Err(message) => {
                        // Nothing of the failing batch is sent: it is never stored.
                        let _ = tx.blocking_send(Err(self.err(message)));
                        outcome = Err(Stopped);
                        break;
                    }
                };
                for mut event in events {
                    let id = plan.commits[position];
                    heads.insert(id);
                    for parent in &plan.parents[position] {
                        heads.remove(parent);
                    }
                    position += 1;
                    event.context.insert("repo".into(), context_repo.clone());
                    event.context.insert(
                        "branches".into(),
                        Value::Array(
                            plan.branches_of(&id)
                                .into_iter()
                                .map(Value::String)
                                .collect(),
                        ),
                    );
                    batch.push(event);
                    let last = position == plan.commits.len();
                    if batch.len() >= self.batch_size || last {
                        let checkpoint = if last {
                            done_cursor()
                        } else {
                            Cursor::encode(&GitCursor {
                                version: VERSION,
                                tips: from.clone(),
                                pending: Some(Pending {
                                    targets: to.clone(),
                                    heads: heads.iter().map(ObjectId::to_string).collect(),
                                }),
                            })
                        };
                        let mut b = Batch::new(std::mem::take(&mut batch), checkpoint);
                        b.progress = Some(Progress {
                            done: position as u64,
                            total: Some(total),
                        });
                        if tx.blocking_send(Ok(b)).is_err() {
                            outcome = Err(Stopped);
                            break 'chunks;
                        }
                        batch.reserve(self.batch_size);
                    }
                }
            }
            stop.store(true, Ordering::Relaxed);
            // Unblock workers waiting to send, so the scope can end.
            drop(results_rx);
            outcome
        })
    }
}

/// Per worker: a memory-capped cache of inflated pack entries, and no object cache (the diff
/// keeps the few trees and commits it reads again itself, and caching blobs only copies them).
fn tune_caches(repo: &mut gix::Repository) {
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
            PACK_CACHE_BYTES,
        ))
    });
    repo.object_cache_size(0);
}
