//! `type = "gmail"`: a Gmail mailbox's messages received and sent, and what happens to them
//! later (deleted, labels changed), through the Gmail API v1 with OAuth 2.0.
//!
//! Exactly once: events are keyed by Gmail's own message ids and history record ids, so
//! whatever is read twice (a page after a kill, a full resync after the history expired) comes
//! back as a duplicate the store ignores. The cursor holds the mailbox's `historyId` taken
//! *before* a full listing, so nothing that changed during it is missed by the next sync.
//!
//! - `source`: the source and one sync: a full listing (`users.messages.list` per label,
//!   checkpointed per page), then `users.history.list` from the cursor's `historyId`; a 404
//!   (the history expired) starts a full listing again.
//! - `message`: a message (metadata or full format) as an event, and base64url; `cursor`: the
//!   versioned cursor; `config`: the keys. OAuth tokens come from `crate::google`; HTTP (retries,
//!   429, Google's `403 rateLimitExceeded` judged in the body) is the shared client.
//! - `fake` (feature `test-server`): a fake Gmail API with its own token endpoint; `tests`:
//!   the source built from its config and synced by the engine against it.

mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod message;
mod source;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::GmailConfig;
pub use source::GmailSource;

/// The registry entry of the `gmail` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "gmail",
        "a Gmail mailbox: messages received and sent, deleted, labels changed",
        <config::GmailConfig as athena_core::config::Declared>::keys(),
        Arc::new(
            |c| Ok(Box::new(Async::new(GmailSource::from_config(c)?)) as Box<dyn EventSource>),
        ),
    )
    .with_schedule("5m")
    .with_episode(&["{thread_id}"])
    .with_people(people)
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# A Gmail mailbox: messages received and sent, deleted, labels changed (OAuth 2.0).
# [[sources]]
# id = "mail"
# type = "gmail"
# client_id = "1234.apps.googleusercontent.com"
# client_secret = "${GOOGLE_CLIENT_SECRET}"
# refresh_token = "${GMAIL_REFRESH_TOKEN}"
# labels = ["INBOX", "SENT"]
"#;

/// The people a message names: its sender (the actor) and its recipients, by address.
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{address_claims, PersonRole};
    let header = |key: &str| e.context.get(key).and_then(serde_json::Value::as_str).unwrap_or("");
    let mut claims = address_claims(header("from"), PersonRole::Actor);
    for field in ["to", "cc"] {
        claims.extend(address_claims(header(field), PersonRole::Named));
    }
    claims
}
