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
    .with_people(people)
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

/// The person who did it, by Linear user id, joined to the user's email (Linear verifies it).
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, Join, PersonRole};
    let account = e.metadata.get("actor_account");
    let text = |key: &str| account.and_then(|a| a.get(key)).and_then(serde_json::Value::as_str);
    let Some(id) = text("id") else {
        return Vec::new();
    };
    let mut c = Claim::new(Handle(format!("linear:{id}")), PersonRole::Actor);
    c.name = e.actor.clone();
    if let Some(email) = text("email") {
        let verified = Join {
            how: "linear account",
            user_controlled: false,
        };
        c.joins.push((Handle::email(email), verified));
    }
    vec![c]
}
