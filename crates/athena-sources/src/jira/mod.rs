//! `type = "jira"`: a Jira Cloud site's issues (created, transitioned, assigned, resolved) and
//! comments (added, edited), through the REST API v3.
//!
//! - `source`: the source and one sync: `search/jql` oldest update first from the cursor's
//!   mark less an overlap, paged by `nextPageToken`, each issue's change history and comments
//!   read in full, a checkpoint after every issue.
//! - `issue`: an issue, its histories and comments as events, and Jira's times; `adf`: the
//!   Atlassian Document Format of descriptions and comments as readable text; `cursor`: the
//!   versioned cursor; `config`: the keys. HTTP itself (retries, 429 and `Retry-After`,
//!   rate-limit headers) is the shared client of `athena-http`.
//! - `fake` (feature `test-server`): a fake Jira to test against; `tests`: the source built
//!   from its config and synced by the engine against it.

mod adf;
mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod issue;
mod source;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::JiraConfig;
pub use source::JiraSource;

/// The registry entry of the `jira` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "jira",
        "a Jira Cloud site: issues created, transitioned, assigned, resolved; comments",
        <config::JiraConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| Ok(Box::new(Async::new(JiraSource::from_config(c)?)) as Box<dyn EventSource>)),
    )
    .with_schedule("5m")
    .with_episode(&["{issue_key}"])
    .with_people(people)
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# A Jira Cloud site: issues created, transitioned, assigned, resolved; comments.
# [[sources]]
# id = "jira"
# type = "jira"
# base_url = "https://your-domain.atlassian.net"
# email = "me@example.com"
# token = "${JIRA_TOKEN}"     # an API token; or bearer_token = "${JIRA_OAUTH_TOKEN}"
# projects = ["ABC"]
"#;

/// The person who did it, by Atlassian account id, joined to the account's email where the
/// site shows it (Atlassian verifies it).
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, Join, PersonRole};
    let account = e.metadata.get("actor_account");
    let text = |key: &str| account.and_then(|a| a.get(key)).and_then(serde_json::Value::as_str);
    let Some(id) = text("account_id") else {
        return Vec::new();
    };
    let mut c = Claim::new(Handle(format!("jira:{id}")), PersonRole::Actor);
    c.name = e.actor.clone();
    if let Some(email) = text("email") {
        let verified = Join {
            how: "jira account",
            user_controlled: false,
        };
        c.joins.push((Handle::email(email), verified));
    }
    vec![c]
}
