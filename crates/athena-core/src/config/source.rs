//! [`SourceConfig`]: one `[[sources]]` entry, typed by the source that reads it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::spans::TableLines;
use super::{ConfigError, Origin};

/// One `[[sources]]` entry: its id, its type and the rest of its keys, not yet typed.
///
/// Its `Debug` shows the keys, never the values: they may hold secrets read from the
/// environment.
#[derive(Clone)]
pub struct SourceConfig {
    /// Unique id; names the cursor.
    pub id: String,
    /// Registered type name.
    pub source_type: String,
    pub(super) table: toml::Table,
    /// Values that came from `${VAR}`: masked in every message this config produces.
    pub(super) env_values: Vec<String>,
    pub(super) origin: Arc<Origin>,
    /// Where the `[[sources]]` header and each key are in the file (none when built in code).
    pub(super) lines: TableLines,
    /// The event store this sync writes to, so a source reading the file system can leave it out.
    pub(super) store_path: Option<PathBuf>,
    /// When `serve` runs it (`schedule = "5m"`, a cron expression or `"live"`); `None`: its
    /// type's default ([`Registry::schedule_for`](crate::Registry::schedule_for)). `sync` ignores it.
    pub schedule: Option<crate::Schedule>,
    /// `priority`: when sources wait for a concurrency slot, the store's writer or (workers
    /// sharing a store) a worker, the higher goes first. 0 unless set.
    pub priority: i32,
}

impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceConfig")
            .field("id", &self.id)
            .field("source_type", &self.source_type)
            .field("keys", &self.table.keys().collect::<Vec<_>>())
            .field("line", &self.lines.header)
            .finish()
    }
}

impl SourceConfig {
    /// A source config built in code (library users, tests): no file, no lines.
    pub fn new(id: impl Into<String>, source_type: impl Into<String>, table: toml::Table) -> Self {
        SourceConfig {
            id: id.into(),
            source_type: source_type.into(),
            table,
            env_values: Vec::new(),
            origin: Arc::new(Origin {
                file: None,
                base_dir: PathBuf::new(),
            }),
            lines: TableLines::default(),
            store_path: None,
            schedule: None,
            priority: 0,
        }
    }

    /// Tells the source where the event store lives (its own writes are not events).
    pub fn set_store_path(&mut self, path: impl Into<PathBuf>) {
        self.store_path = Some(path.into());
    }

    /// The event store's file, when the caller said.
    pub fn store_path(&self) -> Option<&Path> {
        self.store_path.as_deref()
    }

    /// The file this config was read from, if any (a source reading files leaves it out).
    pub fn config_file(&self) -> Option<&Path> {
        self.origin.file.as_deref()
    }

    /// The values `${VAR}` put into this source's keys (each non-empty one once), for a source
    /// that passes its config on (a Singer tap's settings) to mask them in what it logs.
    pub fn env_values(&self) -> &[String] {
        &self.env_values
    }

    /// The keys of this source other than `id` and `type`, with `${VAR}` already substituted.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// Turns the table into the source's typed config. Unknown keys, missing keys and wrong types
    /// become a [`ConfigError`] naming this source, the key and its line; every unknown key of
    /// the table is reported, each with its line, together with the first other problem.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let mut table = self.table.clone();
        let mut unknown = Vec::new();
        let other = loop {
            match self.parse_table::<T>(&table) {
                Ok(parsed) if unknown.is_empty() => return Ok(parsed),
                Ok(_) => break None,
                Err(error) => {
                    // serde stops at the first unknown key: set it aside and read on, so a
                    // second typo is named in the same run.
                    match error.key.clone() {
                        Some(key)
                            if error.message.starts_with("unknown field")
                                && table.remove(&key).is_some() =>
                        {
                            unknown.push(error);
                        }
                        _ => break Some(error),
                    }
                }
            }
        };
        // The table's keys come in name order; the file's is the reader's.
        unknown.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        Err(ConfigError::all(unknown.into_iter().chain(other)).expect("at least one error"))
    }

    /// [`parse`](Self::parse) of `table`, stopping at the first problem.
    fn parse_table<T: DeserializeOwned>(&self, table: &toml::Table) -> Result<T, ConfigError> {
        let value = toml::Value::Table(table.clone());
        serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
            let path = e.path().to_string();
            // serde repeats a wrongly typed value in its message; it may be a secret.
            let mut message = e.inner().message().trim().to_string();
            for value in &self.env_values {
                message = message.replace(value.as_str(), "***");
            }
            let key = if path.is_empty() || path == "." {
                backticked(&message)
            } else {
                Some(path)
            };
            self.error(key.as_deref(), message)
        })
    }

    /// Resolves a path from the config relative to the config file's directory.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.origin.base_dir.join(path)
        }
    }

    /// A config error about `key` of this source, with the key's line if it can be found.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.origin.file.clone(),
            line: self.lines.line_of(key),
            source_id: (!self.id.is_empty()).then(|| self.id.clone()),
            key: key.map(str::to_string),
            message: message.into(),
            next: None,
        }
    }
}

/// The first `…` quoted word of a serde message ("unknown field `foo`, expected …").
pub(super) fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}
