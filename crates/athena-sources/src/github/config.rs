//! The `github` source's configuration: a `[[sources]]` entry with `type = "github"`.

use athena_core::{ConfigKey, Secret};
use serde::Deserialize;

/// Configuration of a `github` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubConfig {
    /// The API root: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The repository's owner (user or organisation).
    pub owner: String,
    /// The repository's name.
    pub repo: String,
    /// A token (usually `"${GITHUB_TOKEN}"`); without one, only public repositories, at 60
    /// requests an hour.
    #[serde(default)]
    pub token: Option<Secret>,
    /// What to read.
    #[serde(default = "all_streams")]
    pub streams: Vec<Stream>,
    /// The branch whose commits are read (default: the repository's default branch).
    #[serde(default)]
    pub branch: Option<String>,
    /// Retries of a failed request.
    #[serde(default = "crate::api::default_max_retries")]
    pub max_retries: u32,
    /// The first retry's delay in milliseconds (doubling after).
    #[serde(default = "crate::api::default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    /// The longest wait for a rate limit to reset, in seconds; past it the sync fails and
    /// keeps its cursor.
    #[serde(default = "crate::api::default_max_wait_secs")]
    pub max_wait_secs: u64,
    /// A cap on requests per second (none by default: GitHub's own limits are obeyed).
    #[serde(default)]
    pub requests_per_second: Option<u32>,
    /// Seconds a request may take.
    #[serde(default = "crate::api::default_timeout_secs")]
    pub timeout_secs: u64,
    /// Events per stored batch.
    #[serde(default = "crate::api::default_batch_size")]
    pub batch_size: usize,
}

impl GitHubConfig {
    pub(crate) fn knobs(&self) -> crate::api::HttpKnobs {
        crate::api::HttpKnobs {
            max_retries: self.max_retries,
            retry_delay_ms: self.retry_delay_ms,
            max_wait_secs: self.max_wait_secs,
            requests_per_second: self.requests_per_second,
            timeout_secs: self.timeout_secs,
            batch_size: self.batch_size,
        }
    }
}

/// A kind of GitHub object read by the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
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

fn default_api_url() -> String {
    "https://api.github.com".into()
}

fn all_streams() -> Vec<Stream> {
    Stream::ALL.to_vec()
}

/// The keys `athena-ingest sources` lists for `github`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    [
        ConfigKey {
            name: "owner",
            kind: "string",
            required: true,
            default: None,
            doc: "the repository's owner (user or organisation)",
        },
        ConfigKey {
            name: "repo",
            kind: "string",
            required: true,
            default: None,
            doc: "the repository's name",
        },
        ConfigKey {
            name: "token",
            kind: "secret string",
            required: false,
            default: None,
            doc: "usually \"${GITHUB_TOKEN}\"; read access to contents, issues, pull requests, actions",
        },
        ConfigKey {
            name: "api_url",
            kind: "URL",
            required: false,
            default: Some("\"https://api.github.com\""),
            doc: "GitHub Enterprise: https://HOST/api/v3",
        },
        ConfigKey {
            name: "streams",
            kind: "array of strings",
            required: false,
            default: Some("all"),
            doc: "commits, pull_requests, issues, issue_comments, releases, workflow_runs",
        },
        ConfigKey {
            name: "branch",
            kind: "string",
            required: false,
            default: Some("the default branch"),
            doc: "the branch whose commits are read",
        },
    ]
    .into_iter()
    .chain(crate::api::knob_keys())
    .collect()
}
