//! The `slack` source's configuration: a `[[sources]]` entry with `type = "slack"`.

use athena_core::{ConfigKey, Secret};
use serde::Deserialize;

/// Configuration of a `slack` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The Web API root.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// A bot or user token (`xoxb-…`, `xoxp-…`), usually `"${SLACK_TOKEN}"`.
    pub token: Secret,
    /// Channel names (`general`, `#general`) or IDs (`C0123…`); empty: every conversation the
    /// token can read.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Read thread replies.
    #[serde(default = "yes")]
    pub include_threads: bool,
    /// How far back each sync reads again for new replies, edits and reactions (`7d`, `12h`).
    #[serde(default = "default_lookback")]
    pub lookback: String,
    /// Show people by their display names (one `users.info` per person per sync).
    #[serde(default = "yes")]
    pub resolve_users: bool,
    /// Retries of a failed request.
    #[serde(default = "crate::api::default_max_retries")]
    pub max_retries: u32,
    /// The first retry's delay in milliseconds (doubling after).
    #[serde(default = "crate::api::default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    /// The longest wait for a rate limit, in seconds.
    #[serde(default = "crate::api::default_max_wait_secs")]
    pub max_wait_secs: u64,
    /// A cap on requests per second.
    #[serde(default)]
    pub requests_per_second: Option<u32>,
    /// Seconds a request may take.
    #[serde(default = "crate::api::default_timeout_secs")]
    pub timeout_secs: u64,
    /// Events per stored batch.
    #[serde(default = "crate::api::default_batch_size")]
    pub batch_size: usize,
}

impl SlackConfig {
    pub(crate) fn knobs(&self) -> crate::api::HttpKnobs {
        crate::api::HttpKnobs {
            max_retries: self.max_retries,
            retry_delay_ms: self.retry_delay_ms,
            max_wait_secs: self.max_wait_secs,
            requests_per_second: self.requests_per_second,
            timeout_secs: self.timeout_secs,
            batch_size: self.batch_size,
        }
    }
}

fn default_api_url() -> String {
    "https://slack.com/api".into()
}

fn yes() -> bool {
    true
}

fn default_lookback() -> String {
    "7d".into()
}

/// The keys `athena-ingest sources` lists for `slack`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    [
        ConfigKey {
            name: "token",
            kind: "secret string",
            required: true,
            default: None,
            doc: "usually \"${SLACK_TOKEN}\"; scopes channels:history, groups:history, channels:read, groups:read, users:read",
        },
        ConfigKey {
            name: "channels",
            kind: "array of strings",
            required: false,
            default: Some("every conversation the token can read"),
            doc: "channel names or IDs",
        },
        ConfigKey {
            name: "include_threads",
            kind: "boolean",
            required: false,
            default: Some("true"),
            doc: "read thread replies",
        },
        ConfigKey {
            name: "lookback",
            kind: "duration (7d, 12h)",
            required: false,
            default: Some("\"7d\""),
            doc: "how far back each sync reads again for new replies, edits and reactions",
        },
        ConfigKey {
            name: "resolve_users",
            kind: "boolean",
            required: false,
            default: Some("true"),
            doc: "show people by display name",
        },
        ConfigKey {
            name: "api_url",
            kind: "URL",
            required: false,
            default: Some("\"https://slack.com/api\""),
            doc: "the Web API root",
        },
    ]
    .into_iter()
    .chain(crate::api::knob_keys())
    .collect()
}
