//! The one step of source-level tests: a source built from its config through the registry,
//! as a user's `athena.toml` builds it, and synced by the engine into a memory store; no CLI.

use std::sync::Arc;

use athena_core::memory::SharedMemoryStore;
use athena_core::{Engine, EngineSettings, Registry, SourceConfig, SourceReport, SyncOptions};

/// Syncs the source `id` of `source_type` configured by `table` into `store` once.
pub(crate) async fn sync(
    store: &SharedMemoryStore,
    id: &str,
    source_type: &str,
    table: toml::Table,
) -> SourceReport {
    sync_with(store, id, source_type, table, SyncOptions::default()).await
}

/// [`sync`] with these options (a [`Metrics`](athena_core::Metrics) to count into).
pub(crate) async fn sync_with(
    store: &SharedMemoryStore,
    id: &str,
    source_type: &str,
    table: toml::Table,
    options: SyncOptions,
) -> SourceReport {
    sync_in(crate::registry(), store, id, source_type, table, options).await
}

/// [`sync_with`] through `registry` (one whose entry builds the source with a test's clock).
pub(crate) async fn sync_in(
    registry: Registry,
    store: &SharedMemoryStore,
    id: &str,
    source_type: &str,
    table: toml::Table,
    options: SyncOptions,
) -> SourceReport {
    let config = SourceConfig::new(id, source_type, table);
    let engine = Engine::new(Arc::new(registry), EngineSettings::default());
    let (report, _) = engine
        .sync(Box::new(store.clone()), &[config], options)
        .await
        .expect("the source's config builds");
    report
        .sources
        .into_iter()
        .next()
        .expect("one source, one report")
}

/// (kind, id) of the events stored since the first `from`, sorted.
pub(crate) fn stored(store: &SharedMemoryStore, from: usize) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = store.with(|s| {
        s.events[from..]
            .iter()
            .map(|e| (e.kind.clone(), e.id.clone()))
            .collect()
    });
    all.sort();
    all
}
