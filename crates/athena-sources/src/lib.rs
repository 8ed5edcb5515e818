//! The built-in sources of athena-ingest, one module per source type, named as in the config.
//!
//! - [`registry()`] returns a [`Registry`] with every built-in type compiled in; the
//!   `builtin_sources!` list in this file is the one place a new source is added.
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
//! - `singer/`: `type = "singer"`, any Singer tap run as a child process, its records stored
//!   with its STATE.
//!
//! Feature `test-server` adds fakes of the APIs (`github::fake`, `slack::fake`, `jira::fake`,
//! `circleci::fake`, `linear::fake`, `gmail::fake`, `google_calendar::fake`) that a test, here
//! or in a crate using these sources, drives
//! a source against.
#![warn(missing_docs)]

use athena_core::{Registry, SourceType};

/// Declares the built-in source modules, each compiled in by its feature, and
/// [`builtin_types`] over them.
macro_rules! builtin_sources {
    ($($module:ident: $feature:literal,)+) => {
        $(
            #[cfg(feature = $feature)]
            pub mod $module;
        )+

        /// Every source type compiled into this build, sorted by name.
        pub fn builtin_types() -> Vec<SourceType> {
            vec![$(
                #[cfg(feature = $feature)]
                $module::source_type(),
            )+]
        }
    };
}

// The one list of built-in sources: a module (its folder, with `source_type()` in its
// `mod.rs`) and the feature that compiles it in. A new source is its folder, one line here and
// its feature in Cargo.toml.
builtin_sources! {
    api_log: "source-api-log",
    circleci: "source-circleci",
    files: "source-files",
    git: "source-git",
    github: "source-github",
    gmail: "source-gmail",
    google_calendar: "source-google-calendar",
    jira: "source-jira",
    linear: "source-linear",
    singer: "source-singer",
    slack: "source-slack",
}

#[cfg(feature = "api")]
mod api;
#[cfg(feature = "google")]
pub mod google;
#[cfg(all(test, feature = "api"))]
mod synced;

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
mod people_tests;
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
            feature = "source-google-calendar",
            feature = "source-singer"
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
                "singer",
                "slack"
            ]
        );
        for t in r.list() {
            assert!(!t.keys.is_empty(), "{} lists no config keys", t.name);
        }
    }
}
