//! The built-in sources of athena-ingest, one module per source type, named as in the config.
//!
//! - [`registry()`] returns a [`Registry`] with every built-in type compiled in; the table in
//!   [`builtin_types`] is the one place a new source is added.
//! - `git/`: `type = "git"`, local repositories through gitoxide. Start with its `mod.rs`.
//! - `api_log/`: `type = "api_log"`, HTTP request logs tailed with per-file checkpoints.
//! - `files/`: `type = "files"`, changes under a directory, per-file state in the store.
//! - `github/`: `type = "github"`, a repository through the REST API (shared client:
//!   `athena-http`).
//! - `slack/`: `type = "slack"`, channels through the Web API (same client).
//! - `jira/`: `type = "jira"`, a Jira Cloud site's issues through the REST API (same client).
//! - `circleci/`: `type = "circleci"`, a project's pipelines through API v2 (same client).
//! - `linear/`: `type = "linear"`, a workspace's issues through the GraphQL API (same client).
//! - `gmail/`: `type = "gmail"`, a mailbox's messages through the Gmail API (same client,
//!   OAuth from `google`).
//! - `google_calendar/`: `type = "google_calendar"`, calendars' events through the Calendar
//!   API v3 (same client, OAuth from `google`).
//!
//! Feature `test-server` adds fakes of the APIs (`github::fake`, `slack::fake`, `jira::fake`,
//! `circleci::fake`, `linear::fake`, `gmail::fake`, `google_calendar::fake`) that a test, here
//! or in a crate using these sources, drives
//! a source against.
#![warn(missing_docs)]

use athena_core::{Registry, SourceType};

#[cfg(any(
    feature = "source-github",
    feature = "source-slack",
    feature = "source-jira",
    feature = "source-circleci",
    feature = "source-linear",
    feature = "source-gmail",
    feature = "source-google-calendar"
))]
mod api;
#[cfg(feature = "source-api-log")]
pub mod api_log;
#[cfg(feature = "source-circleci")]
pub mod circleci;
#[cfg(feature = "source-files")]
pub mod files;
#[cfg(feature = "source-git")]
pub mod git;
#[cfg(feature = "source-github")]
pub mod github;
#[cfg(feature = "source-gmail")]
pub mod gmail;
#[cfg(any(feature = "source-gmail", feature = "source-google-calendar"))]
pub mod google;
#[cfg(feature = "source-google-calendar")]
pub mod google_calendar;
#[cfg(feature = "source-jira")]
pub mod jira;
#[cfg(feature = "source-linear")]
pub mod linear;
#[cfg(feature = "source-slack")]
pub mod slack;
#[cfg(all(
    test,
    any(
        feature = "source-github",
        feature = "source-slack",
        feature = "source-jira",
        feature = "source-circleci",
        feature = "source-linear",
        feature = "source-gmail",
        feature = "source-google-calendar"
    )
))]
mod synced;

/// Every source type compiled into this build.
pub fn builtin_types() -> Vec<SourceType> {
    vec![
        #[cfg(feature = "source-api-log")]
        api_log::source_type(),
        #[cfg(feature = "source-circleci")]
        circleci::source_type(),
        #[cfg(feature = "source-files")]
        files::source_type(),
        #[cfg(feature = "source-git")]
        git::source_type(),
        #[cfg(feature = "source-gmail")]
        gmail::source_type(),
        #[cfg(feature = "source-github")]
        github::source_type(),
        #[cfg(feature = "source-google-calendar")]
        google_calendar::source_type(),
        #[cfg(feature = "source-jira")]
        jira::source_type(),
        #[cfg(feature = "source-linear")]
        linear::source_type(),
        #[cfg(feature = "source-slack")]
        slack::source_type(),
    ]
}

/// A registry holding every built-in source type.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    for t in builtin_types() {
        // Built-in names are distinct; a clash would be a bug caught by the tests.
        registry
            .register(t)
            .expect("built-in source types have distinct names");
    }
    registry
}

#[cfg(all(test, feature = "all-sources"))]
mod readme_tables;

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_type_registers_under_its_own_name() {
        let r = super::registry();
        let names: Vec<_> = r.list().map(|t| t.name).collect();
        #[cfg(all(
            feature = "source-git",
            feature = "source-api-log",
            feature = "source-files",
            feature = "source-github",
            feature = "source-slack",
            feature = "source-jira",
            feature = "source-circleci",
            feature = "source-linear",
            feature = "source-gmail",
            feature = "source-google-calendar"
        ))]
        assert_eq!(
            names,
            [
                "api_log",
                "circleci",
                "files",
                "git",
                "github",
                "gmail",
                "google_calendar",
                "jira",
                "linear",
                "slack"
            ]
        );
        for t in r.list() {
            assert!(!t.keys.is_empty(), "{} lists no config keys", t.name);
        }
    }
}
