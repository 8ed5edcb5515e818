//! The relay's view of the store: the outbox, read and recorded off the async runtime.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use athena_core::outbox::{Backlog, Outbox, OutboxBatch};
use athena_core::Store;

/// What a relay needs of the store.
#[async_trait::async_trait]
pub trait FeedStore: Send + Sync {
    /// [`Outbox::outbox_sources`].
    async fn sources(&self, feed: &str) -> Result<Vec<String>>;
    /// [`Outbox::unpublished`].
    async fn unpublished(&self, feed: &str, source: &str, max: usize) -> Result<Vec<OutboxBatch>>;
    /// [`Outbox::subject_sequence`].
    async fn subject_sequence(&self, feed: &str, subject: &str) -> Result<u64>;
    /// [`Outbox::storing_sequence`].
    async fn storing_sequence(&self, source: &str, id: &str) -> Result<Option<i64>>;
    /// [`Outbox::record_published`].
    async fn record(
        &self,
        feed: &str,
        source: &str,
        through: i64,
        published: i64,
        subjects: Vec<(String, u64)>,
    ) -> Result<()>;
    /// [`Outbox::published_through`].
    async fn published_through(&self, feed: &str, source: &str) -> Result<i64>;
    /// [`Outbox::backlog`].
    async fn backlog(&self, feed: &str) -> Result<Backlog>;
    /// [`Outbox::trim_outbox`].
    async fn trim(&self, feeds: Vec<String>) -> Result<u64>;
}

/// A store the relay has to itself (after a `sync`, or in a test).
#[derive(Clone)]
pub struct OwnedStore(Arc<Mutex<Box<dyn Store>>>);

impl OwnedStore {
    /// The relay's own handle on `store`.
    pub fn new(store: Box<dyn Store>) -> Self {
        OwnedStore(Arc::new(Mutex::new(store)))
    }

    /// The store back, once no relay uses it.
    pub fn into_inner(self) -> Option<Box<dyn Store>> {
        Arc::try_unwrap(self.0)
            .ok()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Outbox) -> Result<T, athena_core::StoreError> + Send + 'static,
    ) -> Result<T> {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
            let outbox = store
                .outbox()
                .ok_or_else(|| anyhow!("this store keeps no outbox"))?;
            f(outbox).map_err(anyhow::Error::from)
        })
        .await
        .map_err(|e| anyhow!("the store's task failed: {e}"))?
    }
}

#[async_trait::async_trait]
impl FeedStore for OwnedStore {
    async fn sources(&self, feed: &str) -> Result<Vec<String>> {
        let feed = feed.to_string();
        self.with(move |o| o.outbox_sources(&feed)).await
    }
    async fn unpublished(&self, feed: &str, source: &str, max: usize) -> Result<Vec<OutboxBatch>> {
        let (feed, source) = (feed.to_string(), source.to_string());
        self.with(move |o| o.unpublished(&feed, &source, max)).await
    }
    async fn subject_sequence(&self, feed: &str, subject: &str) -> Result<u64> {
        let (feed, subject) = (feed.to_string(), subject.to_string());
        self.with(move |o| o.subject_sequence(&feed, &subject))
            .await
    }
    async fn storing_sequence(&self, source: &str, id: &str) -> Result<Option<i64>> {
        let (source, id) = (source.to_string(), id.to_string());
        self.with(move |o| o.storing_sequence(&source, &id)).await
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
        self.with(move |o| o.record_published(&feed, &source, through, published, &subjects))
            .await
    }
    async fn published_through(&self, feed: &str, source: &str) -> Result<i64> {
        let (feed, source) = (feed.to_string(), source.to_string());
        self.with(move |o| o.published_through(&feed, &source))
            .await
    }
    async fn backlog(&self, feed: &str) -> Result<Backlog> {
        let feed = feed.to_string();
        self.with(move |o| o.backlog(&feed)).await
    }
    async fn trim(&self, feeds: Vec<String>) -> Result<u64> {
        self.with(move |o| {
            let names: Vec<&str> = feeds.iter().map(String::as_str).collect();
            o.trim_outbox(&names)
        })
        .await
    }
}
