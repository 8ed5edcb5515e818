//! Recall over a SQLite store: a few read-only connections shared by request handlers.
//!
//! A SQLite connection serves one query at a time, so concurrent requests each take a free
//! connection of the pool, or wait for one. Readers never block the writer (WAL), and a reader
//! sees every batch committed before its query began. Each query runs within its
//! [`QueryBudget`]: SQLite's progress handler checks it every [`STEPS_BETWEEN_CHECKS`] steps
//! of the statement running and stops the statement once it is spent.

use std::path::Path;
use std::sync::MutexGuard;

use athena_core::known::SourceKinds;
use athena_core::recall::{Bucket, Page, PageQuery, QueryBudget, Recall, TimelineCount};
use athena_core::{Event, EventQuery, SourceStatus, StoreError};

use crate::pool::Pool;
use crate::SqliteStore;

/// [`Recall`] over read-only connections to one store.
pub struct SqliteRecall {
    connections: Pool<SqliteStore>,
}

impl SqliteRecall {
    /// Opens `connections` (at least one) read-only connections to the store at `path`; the
    /// store must exist (see [`SqliteStore::open_read_only`]). The file is checked once, before
    /// the first connection: call this only in a process with no other connection to the
    /// store open (else see [`Self::beside`]).
    pub fn open(path: &Path, connections: usize) -> Result<Self, StoreError> {
        let first = SqliteStore::open_read_only(path)?;
        Self::with_first(first, connections)
    }

    /// Opens `connections` (at least one) read-only connections to the store `store` has
    /// open, without checking the file again (see [`SqliteStore::open_read_only_beside`]): for
    /// a process that writes the store and answers recall queries too.
    pub fn beside(store: &SqliteStore, connections: usize) -> Result<Self, StoreError> {
        let first = store.open_read_only_beside()?;
        Self::with_first(first, connections)
    }

    fn with_first(first: SqliteStore, connections: usize) -> Result<Self, StoreError> {
        let rest = (1..connections.max(1))
            .map(|_| first.open_read_only_beside())
            .collect::<Result<Vec<_>, _>>()?;
        let mut all = vec![first];
        all.extend(rest);
        Ok(SqliteRecall {
            connections: Pool::new(all),
        })
    }

    fn connection(&self) -> MutexGuard<'_, SqliteStore> {
        self.connections.get()
    }
}

/// How many SQLite virtual machine steps run between two looks at a query's budget: a few
/// microseconds of work, so a spent budget stops a query within about a millisecond, and the
/// look (a clock read, an atomic load or two) costs well under 1% of the query.
pub const STEPS_BETWEEN_CHECKS: i32 = 1000;

impl SqliteStore {
    /// Runs `f` on this connection with `budget` watched: the statement running when it is
    /// spent stops, and `f`'s error becomes [`StoreError::Interrupted`].
    pub(crate) fn within<T>(
        &self,
        budget: &QueryBudget,
        f: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(spent) = budget.spent() {
            return Err(StoreError::Interrupted(spent));
        }
        let watched = budget.clone();
        self.connection_handle().progress_handler(
            STEPS_BETWEEN_CHECKS,
            Some(move || watched.spent().is_some()),
        );
        let result = f(self);
        self.connection_handle()
            .progress_handler(0, None::<fn() -> bool>);
        match (result, budget.spent()) {
            (Err(_), Some(spent)) => Err(StoreError::Interrupted(spent)),
            (result, _) => result,
        }
    }
}

impl Recall for SqliteRecall {
    fn page(&self, query: &PageQuery, budget: &QueryBudget) -> Result<Page, StoreError> {
        self.connection().within(budget, |s| s.select_page(query))
    }

    fn event(
        &self,
        source_id: &str,
        id: &str,
        budget: &QueryBudget,
    ) -> Result<Option<Event>, StoreError> {
        (self.connection()).within(budget, |s| s.select_event(source_id, id))
    }

    fn sources(&self, budget: &QueryBudget) -> Result<Vec<SourceStatus>, StoreError> {
        (self.connection()).within(budget, |s| s.select_sources_status())
    }

    fn kinds(&self, budget: &QueryBudget) -> Result<Vec<SourceKinds>, StoreError> {
        (self.connection()).within(budget, |s| s.select_kinds())
    }

    fn timeline(
        &self,
        filter: &EventQuery,
        bucket: Bucket,
        budget: &QueryBudget,
    ) -> Result<Vec<TimelineCount>, StoreError> {
        (self.connection()).within(budget, |s| s.select_timeline(filter, bucket))
    }

    fn related(
        &self,
        source_id: &str,
        id: &str,
        limit: usize,
        budget: &QueryBudget,
    ) -> Result<Option<athena_core::links::Related>, StoreError> {
        (self.connection()).within(budget, |s| crate::related::related(s, source_id, id, limit))
    }

    fn sessions(
        &self,
        events: &[athena_core::Event],
        budget: &QueryBudget,
    ) -> Result<Vec<Option<String>>, StoreError> {
        (self.connection()).within(budget, |s| crate::related::sessions(s, events))
    }

    fn people(&self, budget: &QueryBudget) -> Result<Vec<athena_core::people::Person>, StoreError> {
        (self.connection()).within(budget, |s| s.select_people())
    }
}
