//! A `[[feeds]]` table: somewhere every stored event is published for the programs downstream
//! (`type = "nats"`: a NATS JetStream stream). Its own keys are typed by the feed's
//! implementation with [`FeedConfig::parse`], with errors that name the feed, the key and
//! its line, as a source's are.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{ConfigError, SourceConfig};

/// One `[[feeds]]` table.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Unique among the feeds (`id`, else its `type`): names what the store keeps of its
    /// progress.
    pub id: String,
    /// `nats`.
    pub feed_type: String,
    /// The table, its lines and its `${VAR}` values, kept as a source's are.
    table: SourceConfig,
}

impl FeedConfig {
    pub(super) fn new(id: String, feed_type: String, table: SourceConfig) -> Self {
        FeedConfig {
            id,
            feed_type,
            table,
        }
    }

    /// A feed config built in code (tests, library users).
    pub fn of(id: &str, feed_type: &str, table: toml::Table) -> Self {
        FeedConfig::new(
            id.to_string(),
            feed_type.to_string(),
            SourceConfig::new(id, feed_type, table),
        )
    }

    /// Turns the table (without `id` and `type`) into the feed's typed config; an error names
    /// the feed, the key and its line.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.table.parse().map_err(|e| self.renamed(e))
    }

    /// A config error about `key` of this feed.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        self.renamed(self.table.error(key, message))
    }

    /// Resolves a path from the config relative to the config file's directory.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.table.resolve_path(path)
    }

    /// The values that came from `${VAR}`: masked in every message about this feed.
    pub fn env_values(&self) -> &[String] {
        &self.table.env_values
    }

    /// A source's error made a feed's: `feeds[ID].key`, not `source ID: key`.
    fn renamed(&self, error: ConfigError) -> ConfigError {
        let problems = error.problems().into_iter().map(|mut p| {
            p.source_id = None;
            p.key = Some(match &p.key {
                Some(key) => format!("feeds[{}].{key}", self.id),
                None => format!("feeds[{}]", self.id),
            });
            p
        });
        ConfigError::all(problems).expect("at least one problem")
    }
}
