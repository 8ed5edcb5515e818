//! The `git` source: plans the walk, computes diffs on a pool of threads, and streams batches
//! in commit order with exact checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use athena_core::error::panic_message;
use athena_core::kit::{BlockingSource, Context, Limits, ReadError, Sink, StopFlag};
use athena_core::{Cursor, Event, SourceConfig, SourceError, SourceInfo, Watch};
use gix::hash::ObjectId;
use serde_json::Value;

use super::commit::{DiffOptions, Differ};
use super::config::GitConfig;
use super::cursor::{GitCursor, Pending, VERSION};
use super::walk::{existing, is_ancestor, plan, resolve_tips, Plan};

/// Commits handed to a worker at a time. Long runs of consecutive commits keep each worker's
/// caches warm: a commit's parent tree and the delta bases of its blobs were mostly just read
/// for the previous commit. 256 is as fast on rust-lang/cargo as 512 and holds half as many
/// finished commits waiting for their turn (their file lists are the largest thing in flight).
const CHUNK: usize = 256;
/// Inflated delta bases kept per worker thread. On rust-lang/cargo a 32 MiB map per worker
/// took about a sixth off the CPU time of gitoxide's default 64-entry cache; 16 MiB was as fast
/// (2.87-3.01 s against 2.89-3.00 s, three runs each) at 225 MB peak RSS instead of 269 (of
/// which the memory-mapped pack is about 90), 8 MiB 5-7% slower for 20 MB less. 12 MiB, with
/// the chunk of 256 and SQLite's 8 MiB cache: 2.65-2.74 s against 2.60-2.67 s, peak RSS
/// 193-196 MB against 220-227.
const PACK_CACHE_BYTES: usize = 12 * 1024 * 1024;
/// How many chunks, per worker, workers may run ahead of the oldest chunk not yet emitted.
const WINDOW_PER_THREAD: usize = 2;

/// Reads a local git repository's history as `commit` events (run by the kit's
/// [`Blocking`](athena_core::kit::Blocking)).
pub struct GitSource {
    info: SourceInfo,
    config: GitConfig,
    path: PathBuf,
    /// What events name as their repository.
    repo_label: String,
}

impl GitSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, athena_core::ConfigError> {
        let git: GitConfig = config.parse()?;
        let path = config.resolve_path(&git.path);
        Ok(GitSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "git".into(),
                name: format!("git {}", path.display()),
            },
            config: git,
            repo_label: path.display().to_string(),
            path,
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

    fn threads(&self) -> usize {
        self.config
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

pub(super) fn open_repo(source_id: &str, path: &PathBuf) -> Result<gix::ThreadSafeRepository, SourceError> {
    if !path.exists() {
        return Err(SourceError::path(source_id, path, "does not exist"));
    }
    gix::open::Options::isolated()
        .open(path.clone())
        .map_err(|e| SourceError::path(source_id, path, format!("not a git repository: {e}")))
}

impl BlockingSource for GitSource {
    fn watch(&self) -> Option<Watch> {
        Some(super::watch::watch(&self.path))
    }

    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn validate(&self) -> Result<(), SourceError> {
        let repo = self.open()?.to_thread_local();
        resolve_tips(&repo, &self.branches()).map_err(|e| self.config_err(e))?;
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits::items(self.config.batch_size)
    }

    fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        self.walk(ctx)
    }
}

impl GitSource {
    fn err(&self, message: impl Into<String>) -> SourceError {
        SourceError::path(&self.info.id, &self.path, message)
    }

    /// A configured branch the repository does not have: the config to fix, not the disk.
    fn config_err(&self, message: impl std::fmt::Display) -> SourceError {
        SourceError::Config {
            source_id: self.info.id.clone(),
            message: format!("{}: {message}", self.path.display()),
        }
    }

    /// Stores what the branches reach beyond the saved tips (finishing a half-stored walk first).
    fn walk(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let cursor = ctx.take_cursor();
        let sink = &mut ctx.sink;
        let branches = self.branches();
        let shared = open_repo(&self.info.id, &self.path)?;
        let repo = shared.to_thread_local();
        let shallow = repo
            .shallow_commits()
            .map_err(|e| self.err(format!("reading the shallow file: {e}")))?
            .map(|cut| std::sync::Arc::new(cut.iter().copied().collect()));
        let mailmap = repo.open_mailmap();
        let options = DiffOptions {
            include_diff: self.config.include_diff,
            max_diff_bytes: self.config.max_diff_bytes,
            merge_diffs: self.config.merge_diffs,
            shallow,
            mailmap: (!mailmap.entries().is_empty()).then(|| std::sync::Arc::new(mailmap)),
        };
        let saved: GitCursor = Cursor::decode_saved(cursor, &self.info.id, u64::from(VERSION))?
            .unwrap_or(GitCursor {
                version: VERSION,
                ..GitCursor::default()
            });
        let current = resolve_tips(&repo, &branches).map_err(|e| self.config_err(e))?;
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
                let plan = plan(&repo, &hidden, &targets, &branches).map_err(|e| self.err(e))?;
                self.emit(
                    &shared,
                    options.clone(),
                    &plan,
                    heads,
                    &from,
                    &pending.targets,
                    sink,
                )?;
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
                    // A force-push: its new commits are stored, the old ones stay.
                    tracing::info!(
                        source = self.info.id,
                        branch,
                        old = %old,
                        new = %new,
                        "branch was rewritten (force-push); storing its new commits"
                    );
                }
            }
        }
        let hidden = existing(&repo, from.values());
        let plan = plan(&repo, &hidden, &current, &branches).map_err(|e| self.err(e))?;
        self.emit(
            &shared,
            options,
            &plan,
            BTreeSet::new(),
            &from,
            &current_hex,
            sink,
        )
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
        heads: BTreeSet<ObjectId>,
        from: &BTreeMap<String, String>,
        to: &BTreeMap<String, String>,
        sink: &mut Sink,
    ) -> Result<(), ReadError> {
        let commits = &plan.commits[..];
        if commits.is_empty() {
            sink.commit_blocking(done_cursor(to))?;
            return Ok(());
        }
        let chunks = commits.len().div_ceil(CHUNK);
        let threads = self.threads().clamp(1, chunks);
        let pool = Pool {
            commits,
            chunks,
            next_chunk: AtomicUsize::new(0),
            emitted_chunks: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            // Workers stop early when the consumer goes away, not only at the next batch.
            gone: sink.stop_flag(),
            window: threads * WINDOW_PER_THREAD,
        };
        let (emitted_chunks, stop, gone) = (&pool.emitted_chunks, &pool.stop, &pool.gone);
        let (results_tx, results_rx) = std_mpsc::sync_channel::<Chunk>(threads * 4);
        let mut batches = Batches {
            plan,
            heads,
            from,
            to,
            repo: Value::String(self.repo_label.clone()),
            batch_size: self.config.batch_size,
            position: 0,
            in_batch: 0,
        };

        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (pool, results_tx, options) = (&pool, results_tx.clone(), options.clone());
                scope.spawn(move || pool.work(shared, options, &results_tx));
            }
            drop(results_tx);

            let mut waiting: HashMap<usize, Result<Vec<Event>, String>> = HashMap::new();
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
                            outcome = Err(if gone.is_stopped() {
                                ReadError::Stopped
                            } else {
                                let message =
                                    format!("the diff workers stopped before commit chunk {chunk}");
                                ReadError::Failed(self.err(message))
                            });
                            break 'chunks;
                        }
                    }
                };
                emitted_chunks.store(chunk + 1, Ordering::Release);
                let events = match result {
                    Ok(events) => events,
                    Err(_) if gone.is_stopped() => {
                        outcome = Err(ReadError::Stopped);
                        break;
                    }
                    Err(message) => {
                        // Nothing of the failing batch is sent: it is never stored.
                        outcome = Err(ReadError::Failed(self.err(message)));
                        break;
                    }
                };
                if let Err(e) = batches.push(events, sink) {
                    outcome = Err(e);
                    break;
                }
            }
            stop.store(true, Ordering::Relaxed);
            // Unblock workers waiting to send, so the scope can end.
            drop(results_rx);
            outcome
        })
    }
}

/// The cursor saying everything up to `to` is stored.
fn done_cursor(to: &BTreeMap<String, String>) -> Cursor {
    Cursor::encode(&GitCursor {
        version: VERSION,
        tips: to.clone(),
        pending: None,
    })
}

/// The commits of a walk, in plan order, given their context and cut into batches, each with
/// the cursor saying how far the walk is stored.
struct Batches<'a> {
    plan: &'a Plan,
    /// The heads of what is stored of the walk so far.
    heads: BTreeSet<ObjectId>,
    from: &'a BTreeMap<String, String>,
    to: &'a BTreeMap<String, String>,
    /// The `repo` context value.
    repo: Value,
    batch_size: usize,
    /// Commits sent so far.
    position: usize,
    /// Commits sent since the last batch was committed.
    in_batch: usize,
}

impl Batches<'_> {
    /// Sends the next commits' events, committing a batch every `batch_size` events and at the
    /// end of the walk.
    fn push(&mut self, events: Vec<Event>, sink: &mut Sink) -> Result<(), ReadError> {
        let plan = self.plan;
        for mut event in events {
            let id = plan.commits[self.position];
            self.heads.insert(id);
            for parent in &plan.parents[self.position] {
                self.heads.remove(parent);
            }
            self.position += 1;
            event.context.insert("repo".into(), self.repo.clone());
            let branches = plan.branches_of(&id).into_iter().map(Value::String);
            event
                .context
                .insert("branches".into(), Value::Array(branches.collect()));
            sink.event(event);
            self.in_batch += 1;
            let last = self.position == plan.commits.len();
            if self.in_batch >= self.batch_size || last {
                // Every batch but the last: the walk is stored as far as `heads` reach.
                let checkpoint = if last {
                    done_cursor(self.to)
                } else {
                    Cursor::encode(&GitCursor {
                        version: VERSION,
                        tips: self.from.clone(),
                        pending: Some(Pending {
                            targets: self.to.clone(),
                            heads: self.heads.iter().map(ObjectId::to_string).collect(),
                        }),
                    })
                };
                sink.progress(self.position as u64, Some(plan.commits.len() as u64));
                sink.commit_blocking(checkpoint)?;
                self.in_batch = 0;
            }
        }
        Ok(())
    }
}

/// A chunk's events (or why it failed), by chunk number.
type Chunk = (usize, Result<Vec<Event>, String>);

/// The diff workers of one walk: each takes the next chunk of commits, at most `window` chunks
/// ahead of the oldest one not yet emitted, so memory stays bounded however long the walk.
struct Pool<'a> {
    commits: &'a [ObjectId],
    chunks: usize,
    next_chunk: AtomicUsize,
    emitted_chunks: AtomicUsize,
    /// Set by the emitter when it stops.
    stop: AtomicBool,
    gone: StopFlag,
    window: usize,
}

impl Pool<'_> {
    fn halted(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.gone.is_stopped()
    }

    /// One worker: diffs chunks until none is left or the walk stops.
    fn work(
        &self,
        shared: &gix::ThreadSafeRepository,
        options: DiffOptions,
        results: &std_mpsc::SyncSender<Chunk>,
    ) {
        let mut repo = shared.to_thread_local();
        tune_caches(&mut repo);
        let mut differ = Differ::new(repo, options);
        loop {
            let chunk = self.next_chunk.fetch_add(1, Ordering::Relaxed);
            if chunk >= self.chunks {
                break;
            }
            while chunk >= self.emitted_chunks.load(Ordering::Acquire) + self.window {
                if self.halted() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if self.halted() {
                return;
            }
            let range = chunk * CHUNK..((chunk + 1) * CHUNK).min(self.commits.len());
            let result: Result<Vec<Event>, String> = self.commits[range]
                .iter()
                .map(|id| {
                    if self.halted() {
                        return Err("stopped".to_string());
                    }
                    // A bug must fail this source with the commit named, not hang the sync
                    // waiting for a chunk that never comes.
                    catch_unwind(AssertUnwindSafe(|| differ.commit_event(*id))).unwrap_or_else(
                        |panic| {
                            Err(format!(
                                "reading commit {id} panicked: {}",
                                panic_message(panic.as_ref())
                            ))
                        },
                    )
                })
                .collect();
            if results.send((chunk, result)).is_err() {
                return;
            }
        }
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
