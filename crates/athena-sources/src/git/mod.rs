//! `type = "git"`: every commit reachable from the configured branches of a local repository,
//! oldest first, with per-file line counts that agree with `git log --numstat --no-renames`.

mod commit;
mod config;
mod cursor;
mod source;
mod walk;

use std::sync::Arc;

use athena_core::kit::Blocking;
use athena_core::{EventSource, SourceType};

pub use config::{GitConfig, MergeDiffs};
pub use source::GitSource;

/// The registry entry of the `git` source.
pub fn source_type() -> SourceType {
    SourceType {
        name: "git",
        description: "commits of a local git repository (work tree or bare)",
        keys: config::keys(),
        build: Arc::new(|c| {
            Ok(Box::new(Blocking::new(GitSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    }
}
