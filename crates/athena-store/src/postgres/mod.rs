//! The PostgreSQL store: the same contract as SQLite's behind the same traits (`Store` for
//! the engine, `Recall` for the front ends), for several processes sharing one store.
//!
//! - `schema`: the tables and their migrations; `write`: batches, staged in one transaction
//!   and committed together, as SQLite's; `query`: the reads; `tsquery`: the search language
//!   as a `tsquery`; `recall`: [`PgRecall`], a few connections for request handlers.
//!
//! The traits are synchronous and their callers' threads are the engine's writer thread and
//! the recall service's blocking threads: each call runs its statements on a runtime of this
//! module's own (one worker, for the process's life), waiting with `block_on`. Dropping a
//! client never blocks, so a store may be dropped anywhere, a runtime's worker included.

mod copy;
mod leases;
mod links;
mod outbox;
mod people;
mod query;
mod recall;
mod schema;
#[cfg(any(test, feature = "conformance"))]
pub mod testing;
#[cfg(test)]
mod tests;
mod tls;
mod tsquery;
mod write;

use std::sync::OnceLock;

use athena_core::{
    Batch, CommitReport, Cursor, Event, EventQuery, RunRecord, SourceInfo, SourceState,
    SourceStatus, Store, StoreError, StoredDeadLetter,
};
use tokio_postgres::Client;

pub(crate) use crate::location::shown_url;
pub use leases::{Held, Lease, Leases};
pub use recall::PgRecall;

/// The runtime every PostgreSQL connection of the process runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("athena-postgres")
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// Runs `f` on the store's runtime and waits for it.
fn wait<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// Opens a connection to `url` on the store's runtime (encrypted if it says `sslmode=require`).
fn connect(url: &str, shown: &str) -> Result<Client, StoreError> {
    let fail =
        |why: String| StoreError::Backend(format!("store {shown}: connecting: {why}").into());
    let transport = tls::Transport::of(url).map_err(fail)?;
    wait(transport.connect(url)).map_err(|e| fail(explain(&e)))
}

/// The batches staged in the open transaction.
#[derive(Debug, Default)]
struct Staged {
    batches: usize,
}

/// A PostgreSQL store, open for writing.
pub struct PgStore {
    client: Client,
    url: String,
    shown: String,
    staged: Option<Staged>,
    /// Why the open group was lost (its transaction rolled back under a later batch): the
    /// next commit must fail, so that no batch of it counts as stored.
    lost_group: Option<String>,
    /// A worker sharing the store: its leases, which every batch commit checks.
    fenced: Option<Held>,
    /// Whether each batch that stores events writes an outbox entry (`Outbox::keep_outbox`).
    keep_outbox: bool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish()
    }
}

impl PgStore {
    /// Connects to the store at `url` (`postgres://user:password@host/db`, or the key-value
    /// form) and brings its schema up to date.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let shown = shown_url(url);
        let client = connect(url, &shown)?;
        let mut store = PgStore {
            client,
            url: url.to_string(),
            shown,
            staged: None,
            lost_group: None,
            fenced: None,
            keep_outbox: false,
        };
        store.migrate()?;
        Ok(store)
    }

    /// From now on, a batch of a source is written only while `held` (a worker's leases, see
    /// [`Leases`]) holds the source at the epoch it claimed; else the commit fails with
    /// [`StoreError::Fenced`] and nothing of the batch is written.
    pub fn fenced_by(mut self, held: Held) -> Self {
        self.fenced = Some(held);
        self
    }

    /// The store's address, without its password.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    fn backend(&self, e: tokio_postgres::Error) -> StoreError {
        StoreError::Backend(format!("store {}: {}", self.shown, explain(&e)).into())
    }

    /// Applies the migrations this store lacks, under an advisory lock (workers starting
    /// together migrate once).
    fn migrate(&mut self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let done = wait(async {
            let tx = self.client.transaction().await?;
            tx.batch_execute(
                "SELECT pg_advisory_xact_lock(7405123);
                 CREATE TABLE IF NOT EXISTS athena_schema (version INTEGER NOT NULL);",
            )
            .await?;
            let version: i32 = match tx
                .query_opt("SELECT version FROM athena_schema", &[])
                .await?
            {
                Some(row) => row.get(0),
                None => {
                    tx.execute("INSERT INTO athena_schema (version) VALUES (0)", &[])
                        .await?;
                    0
                }
            };
            if version > schema::CURRENT_VERSION {
                return Ok(Err(version));
            }
            for sql in schema::MIGRATIONS.iter().skip(version as usize) {
                tx.batch_execute(sql).await?;
            }
            if version < schema::PEOPLE_VERSION
                && links::relink(&tx, &athena_core::links::Linker::default()).await? > 0
            {
                // Their people wait for a worker, which knows the source types.
                tx.batch_execute(links::PEOPLE_UNREAD).await?;
            }
            tx.execute(
                "UPDATE athena_schema SET version = $1",
                &[&schema::CURRENT_VERSION],
            )
            .await?;
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(Ok(()))
        });
        match done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(version)) => Err(StoreError::NewerSchema {
                path: shown.into(),
                version: i64::from(version),
                supported: i64::from(schema::CURRENT_VERSION),
            }),
            Err(e) => Err(StoreError::Schema {
                path: shown.into(),
                message: format!("migrating the schema: {}", explain(&e)),
            }),
        }
    }

    /// Connects again when the connection was lost (the server restarted, the network
    /// dropped it): between transactions only; a group that was open is lost with it, and its
    /// commit says so.
    fn reconnect_if_lost(&mut self) -> Result<(), StoreError> {
        if !self.client.is_closed() {
            return Ok(());
        }
        if self.staged.take().is_some() {
            self.lost_group
                .get_or_insert_with(|| "the connection to the store was lost".to_string());
        }
        tracing::info!("store {}: connecting again", self.shown);
        self.client = connect(&self.url, &self.shown)?;
        Ok(())
    }

    /// A second connection to the same store (for a reader beside a writer).
    pub(crate) fn connect_again(&self) -> Result<Client, StoreError> {
        connect(&self.url, &self.shown)
    }
}

impl Store for PgStore {
    fn load_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError> {
        self.reconnect_if_lost()?;
        query::cursor(&self.client, &self.shown, source_id)
    }

    fn load_state(&mut self, source_id: &str) -> Result<SourceState, StoreError> {
        self.reconnect_if_lost()?;
        query::state(&self.client, &self.shown, source_id)
    }

    fn commit_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        let staged = self.stage_batch(source, batch);
        self.commit_staged()?;
        staged
    }

    fn stage_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        self.stage_in_group(source, batch)
    }

    fn commit_staged(&mut self) -> Result<(), StoreError> {
        self.commit_group()
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        self.upsert_run(run)
    }

    fn reset_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        self.reconnect_if_lost()?;
        self.delete_cursor(source_id)
    }

    fn query_events(&self, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        query::events(&self.client, &self.shown, q)
    }

    fn sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        query::sources_status(&self.client, &self.shown)
    }

    fn kinds(&self) -> Result<Vec<athena_core::known::SourceKinds>, StoreError> {
        query::kinds(&self.client, &self.shown)
    }

    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        query::dead_letters(&self.client, &self.shown, source, limit)
    }

    fn related(
        &self,
        source_id: &str,
        id: &str,
        limit: usize,
    ) -> Result<Option<athena_core::links::Related>, StoreError> {
        let reads = links::PgReads {
            client: &self.client,
            shown: &self.shown,
        };
        crate::related::related(&reads, source_id, id, limit)
    }

    fn sessions(&self, events: &[Event]) -> Result<Vec<Option<String>>, StoreError> {
        let reads = links::PgReads {
            client: &self.client,
            shown: &self.shown,
        };
        crate::related::sessions(&reads, events)
    }

    fn read_unread_people(
        &mut self,
        linker: &athena_core::links::Linker,
    ) -> Result<u64, StoreError> {
        self.read_unread_people_once(linker)
    }

    fn relink(&mut self, linker: &athena_core::links::Linker) -> Result<u64, StoreError> {
        self.relink_all(linker)
    }

    fn set_people(
        &mut self,
        people: &[athena_core::people::PersonConfig],
    ) -> Result<(), StoreError> {
        self.configure_people(people)
    }

    fn people(&self) -> Result<Vec<athena_core::people::Person>, StoreError> {
        self.select_people()
    }

    fn export_events(&self, after: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select_export(after, limit)
    }

    fn export_rest(&self) -> Result<athena_core::StoreRest, StoreError> {
        self.select_rest()
    }

    fn import_events(&mut self, events: &[Event]) -> Result<u64, StoreError> {
        self.insert_imported(events)
    }

    fn import_rest(&mut self, rest: &athena_core::StoreRest) -> Result<(), StoreError> {
        self.insert_rest(rest)
    }

    fn outbox(&mut self) -> Option<&mut dyn athena_core::outbox::Outbox> {
        Some(self)
    }
}

/// A PostgreSQL error with what the server or the connection said: the client's own text is
/// only its category (`db error`, `error connecting to server`).
pub(super) fn explain(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
