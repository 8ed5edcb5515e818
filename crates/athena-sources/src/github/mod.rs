//! `type = "github"`: a repository's commits, pull requests, issues, comments, releases and
//! workflow runs, through GitHub's REST API (and GitHub Enterprise's).
//!
//! - `streams`: per stream, the URL asked, how the list is ordered, and the events one item
//!   yields. `source`: paging down to the stored high-water mark, ETags, batches, errors.
//! - `config`: the keys. HTTP itself (retries, rate limits, conditional requests) is the
//!   shared client of the `athena-http` crate.

mod config;
mod source;
mod streams;

use std::sync::Arc;

use athena_core::{EventSource, SourceType};

pub use config::{GitHubConfig, Stream};
pub use source::GitHubSource;

/// The registry entry of the `github` source.
pub fn source_type() -> SourceType {
    SourceType {
        name: "github",
        description:
            "a GitHub repository: commits, pull requests, issues, comments, releases, workflow runs",
        keys: <config::GitHubConfig as athena_core::config::Declared>::keys(),
        build: Arc::new(|c| Ok(Box::new(GitHubSource::from_config(c)?) as Box<dyn EventSource>)),
    }
}
