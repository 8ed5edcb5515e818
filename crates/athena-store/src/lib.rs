//! The embedded default store of athena-ingest: one SQLite file (bundled SQLite, WAL).
//!
//! - [`SqliteStore`] implements `athena_core::Store`: the atomic batch commit, cursors, runs,
//!   queries with full-text search.
//! - [`SqliteRecall`] implements `athena_core::recall::Recall` over read-only connections.
//! - `PgStore` and `PgRecall` (feature `postgres`): the same over PostgreSQL, for several
//!   processes sharing one store.
//! - [`Location`]: where a store is (a file, or `postgres://…`), and how the front ends open it.
//! - `schema`: the versioned schema and its migrations; read it first to see the tables.
//! - `inspect`: what a path holds before it is opened, so a foreign file is refused unchanged.
//! - `lock`: the lock that keeps two syncs off one store.
//! - [`search_cost`]: the bounds a full-text query must keep to be run.
//! - `conformance` (feature `conformance`, and in this crate's tests): the suite every store
//!   must pass, written against the `Store` and `Recall` traits only; SQLite runs it in
//!   `sqlite/tests/conformance.rs`.
#![warn(missing_docs)]

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod inspect;
mod location;
mod lock;
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod recall;
mod related;
mod schema;
mod sql_text;
mod sqlite;

pub use location::Location;
#[cfg(all(feature = "postgres", feature = "conformance"))]
pub use postgres::testing as postgres_testing;
#[cfg(feature = "postgres")]
pub use postgres::{Held, Lease, Leases, PgRecall, PgStore};
pub use recall::SqliteRecall;
pub use sqlite::{readable_events, search_cost, SqliteStore};
