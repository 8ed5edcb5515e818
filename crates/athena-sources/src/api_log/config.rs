//! The `api_log` source's configuration: a `[[sources]]` entry with `type = "api_log"`.

use std::collections::BTreeMap;

use athena_core::config::BATCH_SIZE_RANGE;
use serde::{Deserialize, Serialize};

athena_core::declare_config! {
    /// Configuration of an `api_log` source.
    #[derive(Debug, Clone)]
    pub struct ApiLogConfig {
        /// Log files or globs (`logs/access.log*`), relative to the config file.
        #[key(kind = "array of paths or globs")]
        pub paths: Vec<String>,
        /// How lines are written: `"combined"` (Apache/nginx), `"common"`, `"jsonl"`, or
        /// `"regex"`.
        pub format: LogFormat = LogFormat::Combined,
        /// `jsonl` only: which JSON field holds `time`, `method`, `path`, `query`, `protocol`,
        /// `status`, `bytes`, `latency`, `remote_addr`, `user_agent`, `user`, `referer`
        /// (defaults cover nginx's and common JSON logs, e.g. `request_time`,
        /// `http_user_agent`, `time_iso8601`).
        #[key(default_text = "common names")]
        pub fields: BTreeMap<String, String> = BTreeMap::new(),
        /// `regex` only: a regular expression with the named groups `time` and `status`
        /// (required), and any of `remote_addr`, `user`, `method`, `path`, `query`, `protocol`,
        /// `bytes`, `latency`, `referer`, `user_agent`, or `request` for a whole
        /// `METHOD target PROTOCOL`.
        #[key(kind = "string (regular expression)")]
        pub pattern: Option<String> = None,
        /// Where a file seen for the first time is read from: `"beginning"`, or `"end"` to
        /// skip on the first sync what the files already hold.
        pub start_at: StartAt = StartAt::Beginning,
        /// Longer lines are dead-lettered.
        #[key(range = 64..=64 << 20)]
        pub max_line_bytes: usize = 64 * 1024,
        /// Lines per stored batch.
        // Batches waiting for the store are a large part of a sync's memory; the store commits
        // waiting batches together, so larger ones do not make the sync faster (2,000 to
        // 16,000 measured the same on a 1M-line log; 16,000 took 60 MB more).
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = 4_000,
    }
}

/// How lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Apache/nginx combined: common plus `"referer" "user-agent"`.
    #[default]
    Combined,
    /// The Common Log Format.
    Common,
    /// One JSON object per line.
    Jsonl,
    /// Any format, described by `pattern`.
    Regex,
}

/// Where a file seen for the first time is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StartAt {
    /// Every line already in the file.
    #[default]
    Beginning,
    /// Only lines written after the first sync.
    End,
}

athena_core::config_enum!(LogFormat, StartAt);
