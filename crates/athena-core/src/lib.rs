//! The core of athena-ingest: what an episodic event is, how a source yields events, and the
//! engine that stores them exactly once.
//!
//! Where to start reading:
//! - [`event`]: the [`Event`] every source produces.
//! - [`source`]: the [`EventSource`] trait (`info`, `validate`, `events`; the rest has
//!   defaults) and the [`Batch`] it streams;
//!   each batch carries the [`Cursor`] that is valid once its events are stored.
//! - [`engine`]: the [`Engine`], which loads cursors, validates and runs sources concurrently and
//!   commits each batch and its cursor in one [`Store`] transaction.
//! - [`kit`]: how a source is written: its logic, handed a [`kit::Context`] with a
//!   [`kit::Sink`]; the kit runs it and cuts its batches.
//! - [`registry`]: source type name → constructor; [`config`]: the TOML file and its errors,
//!   and [`declare_config!`], which declares a source's keys once.
//! - [`search`]: the search language (syntax or plain words), its advice, and the any-word
//!   fallback; [`known`]: a mistyped source or kind named with the ones the store has.
//! - [`store`]: the [`Store`] trait (SQLite lives in `athena-store`); [`memory`]: an in-memory
//!   store for tests and embedding.
//! - [`telemetry`]: every engine event, logged and counted in one place; [`metrics`]: the
//!   counts, in a registry the caller owns, rendered in the Prometheus text format.
//! - [`schedule`]: when `serve` runs a source (duration, cron or live), its jitter and backoff.
//! - [`redact`]: the config's secrets, masked in every error and log line.
//! - [`episode`]: an event as Athena's `EpisodicEvent`, and back.
//! - [`links`]: the things an event is about or mentions (issue keys, pull requests, commits,
//!   Slack messages, pipelines), which relate events across sources.
//! - [`people`]: the people events name, by handle, joined across sources into persons.
//!
//! This crate has no network and no database code.
#![warn(missing_docs)]

pub mod config;
pub mod cursor;
pub mod engine;
pub mod episode;
pub mod error;
pub mod event;
pub mod json;
pub mod kit;
pub mod known;
pub mod links;
pub mod memory;
pub mod metrics;
pub mod outbox;
pub mod people;
mod query_budget;
pub mod recall;
pub mod redact;
pub mod registry;
pub mod schedule;
pub mod search;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod watch;

pub use config::{
    ClusterSettings, Config, ConfigError, EngineSettings, EnvError, FeedConfig, Secret,
    ServeSettings, SourceConfig,
};
pub use cursor::{Cursor, CursorError};
pub use engine::{
    CancelToken, Engine, EngineError, Priorities, RunningEngine, SourceReport, SourceStatusKind,
    SyncObserver, SyncOptions, SyncReport,
};
pub use error::{ErrorKind, SourceError};
pub use event::{DeadLetter, Event, Outcome};
pub use json::JsonObject;
pub use metrics::Metrics;
pub use redact::Redactor;
pub use registry::{
    BuildFn, BuiltSources, ConfigKey, Registry, RegistryError, SourceType, StarterCheck,
};
pub use schedule::{Schedule, ScheduleError};
pub use source::{
    Batch, BatchPacker, BatchStream, EventJson, EventSource, HttpStatus, PackDictionary, Packed,
    Progress, SourceInfo, SourceState, SourceStats, StateChange,
};
pub use store::{
    sort_kinds, CommitReport, Compacted, EventQuery, KindCount, RunRecord, RunStatus, SourceStatus,
    Store, StoreError, StoreRest, StoredDeadLetter,
};
pub use watch::{Watch, WatchPath};
