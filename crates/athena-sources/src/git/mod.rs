//! `type = "git"`: every commit reachable from the configured branches of a local repository,
//! oldest first, with per-file line counts that agree with `git log --numstat --no-renames`.
//!
//! - `source`: the source on the kit: plans the walk, diffs on a pool of threads, checkpoints;
//!   `walk`: which commits, in which order; `cursor`: tips and a half-stored walk's heads.
//! - `commit`: one commit → one event; `lines`: git's line counts and diff text; `message`:
//!   subject/body, encodings and signatures. `config`: the keys.

mod commit;
mod config;
mod cursor;
mod lines;
mod message;
mod source;
mod walk;
mod watch;

use std::sync::Arc;

use athena_core::kit::Blocking;
use athena_core::{EventSource, SourceType};

pub use config::{GitConfig, MergeDiffs};
pub use source::GitSource;

/// The registry entry of the `git` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "git",
        "commits of a local git repository (work tree or bare)",
        <config::GitConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Blocking::new(GitSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("1m")
    .with_episode(&["{repo}"])
    .with_people(people)
    .with_starter(STARTER)
    .with_starter_check(in_a_repository)
}

/// The starter's `path = "."` reads the directory the config is written in, opened as the
/// source opens it; where that is no repository it would fail every sync, so `init` writes the
/// table commented out there.
fn in_a_repository(dir: &std::path::Path) -> Result<(), String> {
    match source::open_repo("this-repo", &dir.to_path_buf()) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "{} is not a git repository; uncomment the table and set `path` to one",
            dir.display()
        )),
    }
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# The commits of a local repository.
[[sources]]
id = "this-repo"
type = "git"
path = "."                 # a work tree or a bare repository
# branches = ["main"]      # default: HEAD
# include_diff = false     # attach diff text to each commit
# max_diff_bytes = 65536
# merge_diffs = "none"     # or "first-parent"
"#;

/// The people a commit names: its author (the actor) and committer, by email; an email the
/// repository's `.mailmap` maps is joined to the one it maps to (a user-controlled join: the
/// file is in the repository).
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{signature_claim, Handle, Join, PersonRole};
    let mut claims = Vec::new();
    for (field, role) in [("author", PersonRole::Actor), ("committer", PersonRole::Named)] {
        let signature = e.metadata.get(field);
        let Some(mut claim) = signature_claim(signature, role) else {
            continue;
        };
        let mapped = signature.and_then(|s| s.get("mailmap"));
        if let Some(name) = mapped.and_then(|m| m.get("name")).and_then(serde_json::Value::as_str) {
            claim.name = Some(name.to_string());
        }
        let email = mapped.and_then(|m| m.get("email")).and_then(serde_json::Value::as_str);
        if let Some(proper) = email.map(Handle::email).filter(|h| *h != claim.handle) {
            claim.joins.push((proper, Join::MAILMAP));
        }
        claims.push(claim);
    }
    claims
}
