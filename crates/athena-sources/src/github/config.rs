//! The `github` source's configuration: a `[[sources]]` entry with `type = "github"`.

use athena_core::config::BATCH_SIZE_RANGE;
use athena_core::Secret;
use serde::{Deserialize, Serialize};

athena_core::declare_config! {
    /// Configuration of a `github` source.
    #[derive(Debug, Clone)]
    pub struct GitHubConfig {
        /// The repository's owner (user or organisation).
        pub owner: String,
        /// The repository's name.
        pub repo: String,
        /// A token, usually `"${GITHUB_TOKEN}"`; without one only public repositories, at
        /// GitHub's 60 requests an hour.
        pub token: Option<Secret> = None,
        /// The API root; GitHub Enterprise: `"https://HOST/api/v3"`.
        #[key(kind = "URL")]
        pub api_url: String = "https://api.github.com".into(),
        /// What to read: `commits`, `pull_requests`, `issues`, `issue_comments`, `releases`,
        /// `workflow_runs`.
        #[key(default_text = "all six")]
        pub streams: Vec<Stream> = Stream::ALL.to_vec(),
        /// The branch whose commits are read.
        #[key(default_text = "the default branch")]
        pub branch: Option<String> = None,
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}

impl GitHubConfig {
    pub(crate) fn knobs(&self) -> crate::api::HttpKnobs {
        self.http
    }
}

/// A kind of GitHub object read by the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Commits of one branch.
    Commits,
    /// Pull requests: opened, merged, closed.
    PullRequests,
    /// Issues (not pull requests): opened, closed.
    Issues,
    /// Comments on issues and pull requests.
    IssueComments,
    /// Published releases.
    Releases,
    /// Completed GitHub Actions workflow runs.
    WorkflowRuns,
}

impl Stream {
    /// Every stream, in the order a sync reads them.
    pub const ALL: [Stream; 6] = [
        Stream::Commits,
        Stream::PullRequests,
        Stream::Issues,
        Stream::IssueComments,
        Stream::Releases,
        Stream::WorkflowRuns,
    ];

    /// The name used in the config and the cursor.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Commits => "commits",
            Stream::PullRequests => "pull_requests",
            Stream::Issues => "issues",
            Stream::IssueComments => "issue_comments",
            Stream::Releases => "releases",
            Stream::WorkflowRuns => "workflow_runs",
        }
    }
}

athena_core::config_enum!(Stream);
