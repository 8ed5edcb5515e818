//! `type = "circleci"`: a CircleCI project's pipelines, finished workflows and failed jobs,
//! through the API v2.
//!
//! Start with `run`: one sync checks the workflows followed since an earlier sync, then lists
//! pipelines newest first down to the stored mark (less an overlap, for re-runs), storing each
//! pipeline with its workflows and jobs under a cursor true for it (`cursor`). `model` has the
//! API's items read leniently and the events made of them; `client` the requests, paging and
//! what errors mean; `config` the keys. HTTP itself (retries, `Retry-After`) is `athena-http`.
//! `fake` (feature `test-server`): a fake CircleCI to test against; `tests`: the source built
//! from its config and synced by the engine against it.

mod client;
mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod model;
mod run;
mod source;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::CircleciConfig;
pub use source::CircleciSource;

/// The registry entry of the `circleci` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "circleci",
        "a CircleCI project: pipelines, finished workflows, failed jobs",
        <config::CircleciConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Async::new(CircleciSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("5m")
    .with_people(people)
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# A CircleCI project: pipelines, finished workflows, failed jobs.
# [[sources]]
# id = "ci"
# type = "circleci"
# project_slug = "gh/me/project"   # or bb/ORG/REPO, circleci/ORG_ID/PROJECT_ID
# token = "${CIRCLECI_TOKEN}"
"#;

/// The person who triggered a pipeline of a GitHub project, by login (other VCS: none).
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, PersonRole};
    let slug = e.context.get("project_slug").and_then(serde_json::Value::as_str);
    match (slug.is_some_and(|s| s.starts_with("gh/")), &e.actor) {
        (true, Some(login)) => vec![Claim::new(Handle::github(login), PersonRole::Actor)],
        _ => Vec::new(),
    }
}
