//! `type = "slack"`: messages, thread replies, edits and reactions of Slack channels, through
//! the Web API.
//!
//! - `source`: listing channels, reading each one's history past the stored `ts` plus a
//!   lookback window, threads, users; Slack's `"ok": false` errors judged by the shared client.
//! - `format`: Slack markup made readable. `config`: the keys.

mod config;
mod format;
mod source;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::SlackConfig;
pub use source::SlackSource;

/// The registry entry of the `slack` source.
pub fn source_type() -> SourceType {
    SourceType {
        name: "slack",
        description: "Slack channels: messages, thread replies, edits, reactions",
        keys: config::keys(),
        build: Arc::new(|c| {
            Ok(Box::new(Async::new(SlackSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    }
}
