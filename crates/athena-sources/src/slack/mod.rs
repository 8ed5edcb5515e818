//! `type = "slack"`: messages, thread replies, edits and reactions of Slack channels, through
//! the Web API.
//!
//! - `source`: the source and its registration with the kit; `run`: one sync, listing channels
//!   and reading each one's history past the stored `ts` plus a lookback window, threads,
//!   edits and reactions; `message`: a message as an event, users made readable.
//! - `client`: URLs, pages, Slack's `"ok": false` errors judged by the shared client;
//!   `cursor`: the cursor and Slack's `ts`; `format`: Slack markup made readable; `config`: the keys.
//! - `fake` (feature `test-server`): a fake Slack to test against; `tests`: the source built
//!   from its config and synced by the engine against it.

mod client;
mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod format;
mod message;
mod run;
mod source;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::SlackConfig;
pub use source::SlackSource;

/// The registry entry of the `slack` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "slack",
        "Slack channels: messages, thread replies, edits, reactions",
        <config::SlackConfig as athena_core::config::Declared>::keys(),
        Arc::new(
            |c| Ok(Box::new(Async::new(SlackSource::from_config(c)?)) as Box<dyn EventSource>),
        ),
    )
    .with_schedule("5m")
    .with_episode(&["{channel}/{thread_ts}", "{channel}"])
    .with_people(people)
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# Slack channels: messages, thread replies, edits, reactions.
# [[sources]]
# id = "slack"
# type = "slack"
# token = "${SLACK_TOKEN}"
# channels = ["general"]
"#;

/// The people a message names: its author (or editor, or reactor) by user id, joined to the
/// email of their Slack profile when the token may read it (Slack vouches for it).
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, Join, PersonRole};
    let text = |key: &str| e.context.get(key).and_then(serde_json::Value::as_str);
    let Some(user) = text("user_id") else {
        return Vec::new();
    };
    let mut c = Claim::new(Handle::slack(user), PersonRole::Actor);
    c.name = e.actor.clone();
    if let Some(email) = text("user_email") {
        c.joins.push((Handle::email(email), Join::SLACK_PROFILE));
    }
    vec![c]
}
