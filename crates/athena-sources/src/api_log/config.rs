//! The `api_log` source's configuration: a `[[sources]]` entry with `type = "api_log"`.

use std::collections::BTreeMap;

use athena_core::ConfigKey;
use serde::Deserialize;

/// Configuration of an `api_log` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiLogConfig {
    /// Log files or glob patterns (`/var/log/nginx/access.log*`), relative to the config file.
    pub paths: Vec<String>,
    /// The line format.
    #[serde(default)]
    pub format: LogFormat,
    /// For `jsonl`: which JSON field holds each value (keys: time, method, path, status,
    /// latency, remote_addr, user_agent, user, bytes, referer, query, protocol).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// For `regex`: a regular expression with named groups (`time` and `status` required;
    /// `remote_addr`, `user`, `method`, `path`, `query`, `protocol`, `bytes`, `referer`,
    /// `user_agent`, `latency`, or `request` for a whole `METHOD target PROTOCOL`).
    #[serde(default)]
    pub pattern: Option<String>,
    /// Where a file seen for the first time is read from: `beginning` or `end`.
    #[serde(default)]
    pub start_at: StartAt,
    /// Longer lines go to the dead-letter table.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Lines per stored batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

/// How lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StartAt {
    /// Every line already in the file.
    #[default]
    Beginning,
    /// Only lines written after the first sync.
    End,
}

fn default_max_line_bytes() -> usize {
    64 * 1024
}

/// Lines per batch. Batches waiting for the store are a large part of a sync's memory; the
/// store commits waiting batches together, so larger ones do not make the sync faster (2,000
/// to 16,000 measured the same on a 1M-line log; 16,000 took 60 MB more).
fn default_batch_size() -> usize {
    4_000
}

/// The keys `athena-ingest sources` lists for `api_log`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        ConfigKey {
            name: "paths",
            kind: "array of paths or globs",
            required: true,
            default: None,
            doc: "log files to tail, relative to the config file",
        },
        ConfigKey {
            name: "format",
            kind: "\"combined\" | \"common\" | \"jsonl\" | \"regex\"",
            required: false,
            default: Some("\"combined\""),
            doc: "how lines are written",
        },
        ConfigKey {
            name: "fields",
            kind: "table",
            required: false,
            default: Some("nginx / common JSON names"),
            doc: "jsonl: which JSON field holds time, method, path, status, latency, remote_addr, user_agent, user",
        },
        ConfigKey {
            name: "pattern",
            kind: "string (regular expression)",
            required: false,
            default: None,
            doc: "regex: named groups time, status (required), method, path, query, protocol, bytes, latency, remote_addr, user, referer, user_agent, request",
        },
        ConfigKey {
            name: "start_at",
            kind: "\"beginning\" | \"end\"",
            required: false,
            default: Some("\"beginning\""),
            doc: "where a file seen for the first time is read from",
        },
        ConfigKey {
            name: "max_line_bytes",
            kind: "integer",
            required: false,
            default: Some("65536"),
            doc: "longer lines are dead-lettered",
        },
        ConfigKey {
            name: "batch_size",
            kind: "integer",
            required: false,
            default: Some("4000"),
            doc: "lines per stored batch",
        },
    ]
}
