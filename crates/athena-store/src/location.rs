//! Where a store is: a SQLite file, or a PostgreSQL database (`postgres://…`), and how each
//! front end opens it — for a sync, for reading, for recall — behind the `Store` and `Recall`
//! traits, so that nothing above this crate names a backend.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use athena_core::recall::Recall;
use athena_core::{Store, StoreError};

use crate::{SqliteRecall, SqliteStore};

/// `url` without its password, for messages.
pub(crate) fn shown_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((who, place)) => {
                let user = who.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{place}")
            }
            None => url.to_string(),
        },
        // Key-value form: leave the password out.
        None => url
            .split_whitespace()
            .filter(|kv| !kv.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A store open for syncing, and readers beside it.
pub type WithRecall = (Box<dyn Store>, Arc<dyn Recall>);

/// A store's place.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (created by the first sync).
    File(PathBuf),
    /// A PostgreSQL database: its URL (`postgres://user:password@host/db`), password included.
    Postgres(String),
}

impl Location {
    /// `text` as a place: a `postgres://` or `postgresql://` URL, else a file's path.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_string())
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    /// `path` as a place: a URL given where a path is taken (`--db postgres://…`) is a URL.
    pub fn of_path(path: &Path) -> Location {
        match path.to_str() {
            Some(text) => Location::parse(text),
            None => Location::File(path.to_path_buf()),
        }
    }

    /// The file, for a SQLite store.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// Opens the store for a sync (a SQLite file: its sync lock taken, waiting up to `wait`).
    pub fn open_for_sync(&self, wait: Duration) -> Result<Box<dyn Store>, StoreError> {
        match self {
            Location::File(path) => Ok(Box::new(SqliteStore::open_for_sync(path, wait)?)),
            Location::Postgres(url) => postgres::open(url).map(|s| s as Box<dyn Store>),
        }
    }

    /// Opens the store for a command that only reads (a SQLite file read-only: never created,
    /// migrated or changed).
    pub fn open_reader(&self) -> Result<Box<dyn Store>, StoreError> {
        match self {
            Location::File(path) => Ok(Box::new(SqliteStore::open_read_only(path)?)),
            Location::Postgres(url) => postgres::open(url).map(|s| s as Box<dyn Store>),
        }
    }

    /// Opens `connections` readers for recall, in a process that does not write the store.
    pub fn open_recall(&self, connections: usize) -> Result<Arc<dyn Recall>, StoreError> {
        match self {
            Location::File(path) => Ok(Arc::new(SqliteRecall::open(path, connections)?)),
            Location::Postgres(url) => postgres::recall(url, connections),
        }
    }

    /// Opens the store for syncing and `connections` readers for recall beside it.
    pub fn open_with_recall(
        &self,
        wait: Duration,
        connections: usize,
    ) -> Result<WithRecall, StoreError> {
        match self {
            Location::File(path) => {
                let store = SqliteStore::open_for_sync(path, wait)?;
                let recall = SqliteRecall::beside(&store, connections)?;
                Ok((Box::new(store), Arc::new(recall)))
            }
            Location::Postgres(url) => {
                let store = postgres::open(url)?;
                let recall = postgres::recall(url, connections)?;
                Ok((store as Box<dyn Store>, recall))
            }
        }
    }

    /// Opens the store for a `serve` worker named `worker`: as [`Self::open_with_recall`],
    /// and for PostgreSQL also the worker's [`Leases`](crate::Leases) (lasting `ttl`), by
    /// which its store is fenced: a batch of a source it no longer holds is refused. A file
    /// is one process's store: no leases.
    #[cfg(feature = "postgres")]
    pub fn open_worker(
        &self,
        wait: Duration,
        connections: usize,
        worker: &str,
        ttl: Duration,
    ) -> Result<(WithRecall, Option<crate::Leases>), StoreError> {
        match self {
            Location::File(_) => Ok((self.open_with_recall(wait, connections)?, None)),
            Location::Postgres(url) => {
                let store = crate::PgStore::open(url)?;
                let leases = crate::Leases::open(url, worker, ttl)?;
                let store = store.fenced_by(leases.held());
                let recall = postgres::recall(url, connections)?;
                Ok(((Box::new(store), recall), Some(leases)))
            }
        }
    }
}

/// A place as people read it: a path, or a URL without its password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&shown_url(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::{PgRecall, PgStore};

    pub(super) fn open(url: &str) -> Result<Box<PgStore>, StoreError> {
        Ok(Box::new(PgStore::open(url)?))
    }

    pub(super) fn recall(url: &str, connections: usize) -> Result<Arc<dyn Recall>, StoreError> {
        Ok(Arc::new(PgRecall::open(url, connections)?))
    }
}

#[cfg(not(feature = "postgres"))]
mod postgres {
    use super::*;

    fn missing(url: &str) -> StoreError {
        StoreError::Query(format!(
            "{}: this build has no PostgreSQL store (athena-store's feature `postgres`)",
            shown_url(url)
        ))
    }

    pub(super) fn open(url: &str) -> Result<Box<SqliteStore>, StoreError> {
        Err(missing(url))
    }

    pub(super) fn recall(url: &str, _: usize) -> Result<Arc<dyn Recall>, StoreError> {
        Err(missing(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_postgres_and_the_rest_are_files() {
        assert_eq!(
            Location::parse("postgres://a:b@h/d"),
            Location::Postgres("postgres://a:b@h/d".into())
        );
        assert!(matches!(
            Location::parse("postgresql://h/d"),
            Location::Postgres(_)
        ));
        assert_eq!(
            Location::parse("athena.db"),
            Location::File("athena.db".into())
        );
        assert_eq!(Location::parse("postgres.db").to_string(), "postgres.db");
        assert_eq!(
            Location::parse("postgres://ada:s3cret@h/d").to_string(),
            "postgres://ada@h/d"
        );
    }
}
