//! The engine: runs sources and commits their batches exactly once.
//!
//! Each source runs in its own task. Its batches go through one bounded channel to a single
//! writer thread that owns the [`Store`]; the writer stores a batch's events and cursor in one
//! transaction, together with the other batches waiting at that moment (group commit), and
//! answers each with what it stored once that transaction commits. A source whose batch fails is
//! fenced off: the writer refuses its later batches, so a cursor can never jump over a batch that
//! was not stored.
//!
//! - `driver`: [`Engine::run`]: one task per source, the concurrency limit, cancellation, and
//!   each source's run records.
//! - `writer`: the writer thread, group commit, and fencing a failed source.
//! - `slots` and `mailbox`: where sources wait (for a concurrency slot, for the writer), the
//!   source of highest `priority` goes first.
//! - `report`: [`SyncReport`] and [`SourceReport`], counted as batches commit.
//!
//! The tests sit in `tests/`: `driver.rs` and `writer.rs`, with shared fixtures in `mod.rs`.

use std::sync::Arc;

use crate::config::{ConfigError, EngineSettings, SourceConfig};
use crate::metrics::Metrics;
use crate::redact::Redactor;
use crate::registry::Registry;
use crate::source::{Progress, SourceInfo};
use crate::store::{Store, StoreError};

mod driver;
mod mailbox;
mod report;
mod slots;
mod writer;

#[cfg(test)]
mod tests;

pub use driver::RunningEngine;
pub use report::{SourceReport, SourceStatusKind, SyncReport};

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
    /// Counts what the sync does (events, runs, durations, commits). The caller keeps a clone
    /// to render; the default is a fresh registry nobody reads.
    pub metrics: Metrics,
    /// Each source's `priority` (0 for one not named): [`BuiltSources::priorities`](crate::BuiltSources).
    pub priorities: Priorities,
    /// Finds what each event is about and mentions, stored with it (see [`links`](crate::links));
    /// `None`: events are stored unlinked (the config's `[links] enabled = false`).
    pub links: Option<Arc<crate::links::Linker>>,
}

/// Sources' priorities by id: where sources wait for a concurrency slot or for the store's
/// writer, the higher goes first, and one holding a slot gives it up between batches to a
/// higher one waiting. 0 for a source not named.
#[derive(Debug, Clone, Default)]
pub struct Priorities(Arc<std::collections::HashMap<String, i32>>);

impl Priorities {
    /// The priorities of `configs`' sources.
    pub fn of_configs<'a>(configs: impl IntoIterator<Item = &'a SourceConfig>) -> Self {
        Priorities(Arc::new(
            (configs.into_iter())
                .map(|c| (c.id.clone(), c.priority))
                .collect(),
        ))
    }

    /// The priority of each source named; the others have 0.
    pub fn new(priorities: impl IntoIterator<Item = (String, i32)>) -> Self {
        Priorities(Arc::new(priorities.into_iter().collect()))
    }

    /// The priority of source `id`.
    pub fn of(&self, id: &str) -> i32 {
        self.get(id).unwrap_or(0)
    }

    /// The priority of source `id`, if it is named (configured).
    pub fn get(&self, id: &str) -> Option<i32> {
        self.0.get(id).copied()
    }
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            full: false,
            cancel: CancelToken::new(),
            observer: Arc::new(NoObserver),
            secrets: Redactor::new(),
            metrics: Metrics::new(),
            priorities: Priorities::default(),
            links: Some(Arc::new(crate::links::Linker::default())),
        }
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

/// A cancellation signal shared by the CLI's Ctrl-C handler and the source tasks: tokio-util's
/// token. A [`child_token`](CancelToken::child_token) is cancelled with its parent, or on its
/// own (`serve` stops one source's worker this way).
pub type CancelToken = tokio_util::sync::CancellationToken;

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
        options.priorities = built.priorities;
        Ok(self.run(store, built.sources, options).await)
    }
}
