//! `serve`'s feeds: one relay per `[[feeds]]` table, following the outbox as the sources
//! store. It reads the outbox through a reader of its own and records what it published
//! through the engine's writer (the store's one writer). Workers sharing a store each relay
//! the sources they hold a lease on.

use std::sync::Arc;

use anyhow::Result;
use athena_core::outbox::{Backlog, Outbox, OutboxBatch};
use athena_core::{CancelToken, StoreError};
use athena_store::Held;
use tokio::task::JoinHandle;

use super::worker::Workers;
use crate::feed::{self, FeedStore, NatsSettings, OwnedStore};

/// The relay's store under `serve`.
#[derive(Clone)]
struct ServeOutbox {
    reader: OwnedStore,
    workers: Arc<Workers>,
}

impl ServeOutbox {
    /// Runs `work` on the outbox of the engine's store, in its writer thread (the store's one
    /// writer), after what was handed to it before.
    async fn on_outbox<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Outbox) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T> {
        let done = self
            .workers
            .engine
            .on_store(move |store| {
                let outbox = (store.outbox())
                    .ok_or_else(|| StoreError::Query("this store keeps no outbox".into()))?;
                work(outbox)
            })
            .await;
        Ok(done?)
    }
}

#[async_trait::async_trait]
impl FeedStore for ServeOutbox {
    async fn sources(&self, feed: &str) -> Result<Vec<String>> {
        self.reader.sources(feed).await
    }
    async fn unpublished(&self, feed: &str, source: &str, max: usize) -> Result<Vec<OutboxBatch>> {
        self.reader.unpublished(feed, source, max).await
    }
    async fn subject_sequence(&self, feed: &str, subject: &str) -> Result<u64> {
        self.reader.subject_sequence(feed, subject).await
    }
    async fn storing_sequence(&self, source: &str, id: &str) -> Result<Option<i64>> {
        self.reader.storing_sequence(source, id).await
    }
    async fn record(
        &self,
        feed: &str,
        source: &str,
        through: i64,
        published: i64,
        subjects: Vec<(String, u64)>,
    ) -> Result<()> {
        let (feed, source) = (feed.to_string(), source.to_string());
        self.on_outbox(move |o| o.record_published(&feed, &source, through, published, &subjects))
            .await
    }
    async fn published_through(&self, feed: &str, source: &str) -> Result<i64> {
        self.reader.published_through(feed, source).await
    }
    async fn backlog(&self, feed: &str) -> Result<Backlog> {
        self.reader.backlog(feed).await
    }
    async fn trim(&self, feeds: Vec<String>) -> Result<u64> {
        self.on_outbox(move |o| {
            let names: Vec<&str> = feeds.iter().map(String::as_str).collect();
            o.trim_outbox(&names)
        })
        .await
    }
}

/// Starts a relay for each of `feeds` until `stop`: over `reader` (a store handle of their
/// own) and the engine's writer; with `held`, only for the sources this worker holds.
pub(super) fn start(
    feeds: Vec<NatsSettings>,
    reader: Box<dyn athena_core::Store>,
    workers: Arc<Workers>,
    held: Option<Held>,
    stop: &CancelToken,
) -> Vec<JoinHandle<()>> {
    let metrics = workers.shared.metrics.clone();
    let store = ServeOutbox {
        reader: OwnedStore::new(reader),
        workers,
    };
    let all: Vec<String> = feeds.iter().map(|f| f.id.clone()).collect();
    feeds
        .into_iter()
        .enumerate()
        .map(|(i, settings)| {
            let held = held.clone();
            let mine = move |source: &str| held.as_ref().is_none_or(|h| h.epoch(source).is_some());
            let follow = feed::Follow {
                metrics: metrics.clone(),
                // One relay trims the outbox of what every feed has published.
                trim: (i == 0).then(|| all.clone()),
            };
            tokio::spawn(feed::follow(
                settings,
                store.clone(),
                mine,
                follow,
                stop.clone(),
            ))
        })
        .collect()
}
