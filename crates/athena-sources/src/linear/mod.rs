//! `type = "linear"`: a Linear workspace's issues (created, state changes, assignments,
//! completions, cancellations, comments) through Linear's GraphQL API.
//!
//! Start with `source`: [`LinearSource`] pages the issues updated since the stored mark,
//! storing each page with a cursor naming it (`cursor`), so a killed sync resumes after the
//! last stored page and stores nothing twice. `graphql`: the queries, the answers' shapes and
//! the events an issue makes; `fetch`: one query a request, GraphQL errors, Linear's rate
//! limits; `config`: the keys. `fake` (feature `test-server`): a fake Linear to test against;
//! `tests`: the source built from its config and synced by the engine against it.

mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod fetch;
mod graphql;
mod source;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::{LinearConfig, TokenType};
pub use source::LinearSource;

/// The registry entry of the `linear` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "linear",
        "a Linear workspace: issues created, state changes, assignments, completions, comments",
        <config::LinearConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Async::new(LinearSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("5m")
    .with_episode(&["{issue}"])
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# A Linear workspace: issues created, state changes, assignments, comments.
# [[sources]]
# id = "linear"
# type = "linear"
# token = "${LINEAR_API_KEY}"
# teams = ["ENG"]
"#;
