//! `type = "singer"`: any Singer tap, run as a child process for each sync, its records stored
//! as events with its STATE as the cursor (see `source` for the exactly-once model).
//!
//! - `message`: the lines a tap writes (SCHEMA, RECORD, STATE, ACTIVATE_VERSION);
//!   `lines`: its stdout as numbered lines in bounded memory; `schema`: a RECORD checked
//!   against its SCHEMA; `mapping`: a record → an event.
//! - `tap`: the child process (its stderr logged, its stop: SIGTERM, then SIGKILL);
//!   `catalog`: discovering streams and selecting them.
//! - `source`: the source (the tap's files, discovery, the read loop); `run`: one run's
//!   messages, held until a STATE covers them; `config`: its keys.

mod catalog;
mod config;
mod lines;
pub mod mapping;
pub mod message;
mod run;
mod schema;
mod source;
mod tap;

use std::sync::Arc;

use athena_core::kit::Blocking;
use athena_core::{EventSource, SourceType};

pub use config::{SingerConfig, TapSettings};
pub use source::SingerSource;

/// The registry entry of the `singer` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "singer",
        "A Singer tap (hundreds exist: Salesforce, HubSpot, Zendesk, databases, …), run each sync",
        <config::SingerConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Blocking::new(SingerSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("15m")
    .with_episode(&["{stream}"])
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# A Singer tap: any of the hundreds on PyPI (pip install tap-...), run each sync.
# [[sources]]
# id = "crm"
# type = "singer"
# command = ["/path/to/venv/bin/tap-hubspot"]
# config = { access_token = "${HUBSPOT_TOKEN}", start_date = "2024-01-01T00:00:00Z" }
# streams = { deals = { occurred_at = "updatedAt", title = "{properties.dealname}" } }
"#;
