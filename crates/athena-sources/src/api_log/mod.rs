//! `type = "api_log"`: HTTP request logs (Apache/nginx combined and common formats, JSON lines),
//! tailed with a checkpoint per file.
//!
//! - [`parse`]: one line → its fields, without copying; `record`: fields → `http_request` event.
//! - `source`: finding files, recognising them by their first line, reading what is new.
//! - `cursor`: what is stored per file; `config`: the keys.

mod config;
mod cursor;
pub mod parse;
mod record;
mod source;

use std::sync::Arc;

use athena_core::{EventSource, SourceType};

pub use config::{ApiLogConfig, LogFormat, StartAt};
pub use source::ApiLogSource;

/// The registry entry of the `api_log` source.
pub fn source_type() -> SourceType {
    SourceType {
        name: "api_log",
        description: "HTTP request logs: Apache/nginx combined or common format, JSON lines",
        keys: config::keys(),
        build: Arc::new(|c| Ok(Box::new(ApiLogSource::from_config(c)?) as Box<dyn EventSource>)),
    }
}
