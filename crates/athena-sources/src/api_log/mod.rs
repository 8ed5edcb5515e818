//! `type = "api_log"`: HTTP request logs (Apache/nginx combined and common formats, JSON lines),
//! tailed with a checkpoint per file.
//!
//! - [`parse`]: one line → its fields, without copying; `record`: fields → `http_request` event.
//! - `source`: the source, reading what is new in each file into batches.
//! - `discover`: finding the files and pairing them with the cursor's; `head`: what
//!   recognises a file and names its lines; `split`: lines in bounded memory.
//! - `cursor`: what is stored per file; `config`: the keys.

mod config;
mod cursor;
mod discover;
mod head;
pub mod parse;
mod record;
mod source;
mod split;
mod watch;

use std::sync::Arc;

use athena_core::kit::Blocking;
use athena_core::{EventSource, SourceType};

pub use config::{ApiLogConfig, LogFormat, StartAt};
pub use source::ApiLogSource;

/// The registry entry of the `api_log` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "api_log",
        "HTTP request logs: Apache/nginx combined or common format, JSON lines",
        <config::ApiLogConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Blocking::new(ApiLogSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("live")
    .with_episode(&["{file}"])
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# HTTP request logs, tailed across rotations.
# [[sources]]
# id = "web"
# type = "api_log"
# paths = ["/var/log/nginx/access.log*"]
# format = "combined"      # or "common", "jsonl", "regex"
"#;
