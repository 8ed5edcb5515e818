//! Recall over a PostgreSQL store: a few connections shared by request handlers, as
//! [`SqliteRecall`](crate::SqliteRecall) keeps SQLite's. Each query runs within its
//! [`QueryBudget`]: once the budget is spent, the server is asked to cancel the statement and
//! the query answers [`StoreError::Interrupted`].

use athena_core::known::SourceKinds;
use athena_core::recall::{Bucket, Page, PageQuery, QueryBudget, Recall, TimelineCount};
use athena_core::{Event, EventQuery, SourceStatus, StoreError};
use tokio_postgres::Client;

use super::links::PgReads;
use super::tls::Transport;
use super::{connect, query, runtime, shown_url, PgStore};
use crate::pool::Pool;

/// [`Recall`] over connections of its own to one store.
pub struct PgRecall {
    pub(super) connections: Pool<Client>,
    shown: String,
    /// To connect again, when a connection was lost.
    url: String,
    /// How a cancel request reaches the server: as the connections do.
    transport: Transport,
}

impl PgRecall {
    /// Opens `connections` (at least one) connections to the store at `url`; the store must
    /// exist (a writer has migrated it).
    pub fn open(url: &str, connections: usize) -> Result<Self, StoreError> {
        let shown = shown_url(url);
        let all = (0..connections.max(1))
            .map(|_| connect(url, &shown))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PgRecall {
            connections: Pool::new(all),
            transport: transport(url, &shown)?,
            shown,
            url: url.to_string(),
        })
    }

    /// Opens `connections` connections to the store `store` has open.
    pub fn beside(store: &PgStore, connections: usize) -> Result<Self, StoreError> {
        let all = (0..connections.max(1))
            .map(|_| store.connect_again())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PgRecall {
            connections: Pool::new(all),
            transport: transport(&store.url, &store.shown)?,
            shown: store.shown.clone(),
            url: store.url.clone(),
        })
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
        let mut client = self.connections.get();
        if client.is_closed() {
            // The server restarted, or the network dropped the connection.
            *client = connect(&self.url, &self.shown)?;
        }
        let cancel = client.cancel_token();
        let watched = budget.clone();
        let transport = self.transport.clone();
        // A watcher on the store's runtime while the query runs (it waits on this thread):
        // once the budget is spent, the server is asked to cancel the statement.
        let watcher = runtime().spawn(async move {
            watched.until_spent().await;
            transport.cancel(cancel).await;
        });
        let result = f(&client, &self.shown);
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

    fn sessions(
        &self,
        events: &[athena_core::Event],
        budget: &QueryBudget,
    ) -> Result<Vec<Option<String>>, StoreError> {
        self.within(budget, |client, shown| {
            crate::related::sessions(&PgReads { client, shown }, events)
        })
    }

    fn related(
        &self,
        source_id: &str,
        id: &str,
        limit: usize,
        budget: &QueryBudget,
    ) -> Result<Option<athena_core::links::Related>, StoreError> {
        self.within(budget, |client, shown| {
            crate::related::related(&PgReads { client, shown }, source_id, id, limit)
        })
    }

    fn people(&self, budget: &QueryBudget) -> Result<Vec<athena_core::people::Person>, StoreError> {
        self.within(budget, super::people::people)
    }
}

fn transport(url: &str, shown: &str) -> Result<Transport, StoreError> {
    Transport::of(url).map_err(|why| StoreError::Backend(format!("store {shown}: {why}").into()))
}
