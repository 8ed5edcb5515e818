//! `type = "github"`: a repository's commits, pull requests, issues, comments, releases and
//! workflow runs, through GitHub's REST API (and GitHub Enterprise's).
//!
//! Start with `source`: [`GitHubSource`] reads each configured stream in turn into the kit's
//! sink. `pass` pages a stream's list newest first down to the stored mark, storing each page
//! under a cursor that says how far the pass went; `streams/` has one module per stream (its
//! typed items, its events, its cursor), `cursor` the versioned cursor they make up, `fetch`
//! the client and its errors, `json` the lenient fields items share. `config`: the keys. HTTP
//! itself (retries, rate limits, conditional requests) is the shared client of `athena-http`.
//! `fake` (feature `test-server`): a fake GitHub to test against; `tests`: the source built
//! from its config and synced by the engine against it.

mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod fetch;
mod json;
mod pass;
mod source;
mod streams;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::{GitHubConfig, Stream};
pub use source::GitHubSource;

/// The registry entry of the `github` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "github",
        "a GitHub repository: commits, pull requests, issues, comments, releases, workflow runs",
        <config::GitHubConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Async::new(GitHubSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("5m")
    .with_episode(&["{repository}#{number}", "{repository}"])
    .with_people(people)
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# A GitHub repository: commits, pull requests, issues, comments, releases, workflow runs.
# [[sources]]
# id = "gh"
# type = "github"
# owner = "me"
# repo = "project"
# token = "${GITHUB_TOKEN}"   # values like this are read from the environment
"#;

/// The people an event names: the actor's login; for a commit, its author's and committer's
/// logins joined to the emails in the commit (what the committer typed: a user-controlled
/// join), or the emails alone.
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{signature_claim, Claim, Handle, Join, PersonRole};
    if e.kind != "commit" {
        return (e.actor.iter())
            .map(|login| Claim::new(Handle::github(login), PersonRole::Actor))
            .collect();
    }
    let mut claims = Vec::new();
    for (field, role) in [("author", PersonRole::Actor), ("committer", PersonRole::Named)] {
        let value = e.metadata.get(field);
        let login = value
            .and_then(|v| v.get("login"))
            .and_then(serde_json::Value::as_str)
            .filter(|l| !l.is_empty());
        let by_email = signature_claim(value, role);
        match (login, by_email) {
            (Some(login), email) => {
                let mut c = Claim::new(Handle::github(login), role);
                if let Some(email) = email {
                    c.name = email.name;
                    if email.handle != c.handle {
                        c.joins.push((email.handle, Join::COMMIT_EMAIL));
                    }
                }
                claims.push(c);
            }
            (None, Some(email)) => claims.push(email),
            (None, None) => {}
        }
    }
    claims
}
