//! Recall over a PostgreSQL store: a few connections shared by request handlers, as
//! [`SqliteRecall`](crate::SqliteRecall) keeps SQLite's. Each query runs within its
//! [`QueryBudget`]: once the budget is spent, the server is asked to cancel the statement and
//! the query answers [`StoreError::Interrupted`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use athena_core::known::SourceKinds;
use athena_core::recall::{Bucket, Page, PageQuery, QueryBudget, Recall, TimelineCount};
use athena_core::{Event, EventQuery, SourceStatus, StoreError};
use tokio_postgres::{Client, NoTls};

use super::{connect, query, runtime, shown_url, PgStore};

/// [`Recall`] over connections of its own to one store.
pub struct PgRecall {
    connections: Vec<Mutex<Client>>,
    next: AtomicUsize,
    shown: String,
    /// To connect again, when a connection was lost.
    url: String,
}

impl PgRecall {
    /// Opens `connections` (at least one) connections to the store at `url`; the store must
    /// exist (a writer has migrated it).
    pub fn open(url: &str, connections: usize) -> Result<Self, StoreError> {
        let shown = shown_url(url);
        let all = (0..connections.max(1))
            .map(|_| connect(url, &shown).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PgRecall {
            connections: all,
            next: AtomicUsize::new(0),
            shown,
            url: url.to_string(),
        })
    }

    /// Opens `connections` connections to the store `store` has open.
    pub fn beside(store: &PgStore, connections: usize) -> Result<Self, StoreError> {
        let all = (0..connections.max(1))
            .map(|_| store.connect_again().map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PgRecall {
            connections: all,
            next: AtomicUsize::new(0),
            shown: store.shown.clone(),
            url: store.url.clone(),
        })
    }

    /// A free connection if there is one, else the next in turn once it is free.
    fn connection(&self) -> MutexGuard<'_, Client> {
        let n = self.connections.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(c) = self.connections[(first + i) % n].try_lock() {
                return c;
            }
        }
        self.connections[first % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a connection, watching `budget`: once it is spent, the statement running is
    /// cancelled on the server and the query answers [`StoreError::Interrupted`].
    fn within<T: Send>(
        &self,
        budget: &QueryBudget,
        f: impl FnOnce(&Client, &str) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        if let Some(spent) = budget.spent() {
            return Err(StoreError::Interrupted(spent));
        }
        let mut client = self.connection();
        if client.is_closed() {
            // The server restarted, or the network dropped the connection.
            *client = connect(&self.url, &self.shown)?;
        }
        let cancel = client.cancel_token();
        let watched = budget.clone();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finished = done.clone();
        // A watcher on the store's runtime: polls the budget every millisecond while the
        // query runs (the query itself waits on this thread).
        let watcher = runtime().spawn(async move {
            loop {
                if finished.load(Ordering::Relaxed) {
                    return;
                }
                if watched.spent().is_some() {
                    let _ = cancel.cancel_query(NoTls).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let result = f(&client, &self.shown);
        done.store(true, Ordering::Relaxed);
        watcher.abort();
        match (result, budget.spent()) {
            (Err(_), Some(spent)) => Err(StoreError::Interrupted(spent)),
            (result, _) => result,
        }
    }
}

impl Recall for PgRecall {
    fn page(&self, q: &PageQuery, budget: &QueryBudget) -> Result<Page, StoreError> {
        self.within(budget, |c, shown| query::page(c, shown, q))
    }

    fn event(
        &self,
        source_id: &str,
        id: &str,
        budget: &QueryBudget,
    ) -> Result<Option<Event>, StoreError> {
        self.within(budget, |c, shown| query::event(c, shown, source_id, id))
    }

    fn sources(&self, budget: &QueryBudget) -> Result<Vec<SourceStatus>, StoreError> {
        self.within(budget, query::sources_status)
    }

    fn kinds(&self, budget: &QueryBudget) -> Result<Vec<SourceKinds>, StoreError> {
        self.within(budget, query::kinds)
    }

    fn timeline(
        &self,
        filter: &EventQuery,
        bucket: Bucket,
        budget: &QueryBudget,
    ) -> Result<Vec<TimelineCount>, StoreError> {
        self.within(budget, |c, shown| query::timeline(c, shown, filter, bucket))
    }
}
