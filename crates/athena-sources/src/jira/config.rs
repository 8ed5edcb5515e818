//! The `jira` source's configuration: a `[[sources]]` entry with `type = "jira"`.

use athena_core::config::BATCH_SIZE_RANGE;
use athena_core::Secret;

athena_core::declare_config! {
    /// Configuration of a `jira` source.
    #[derive(Debug, Clone)]
    pub struct JiraConfig {
        /// The site, `"https://your-domain.atlassian.net"`.
        #[key(kind = "URL")]
        pub base_url: String,
        /// The Atlassian account's email, with `token` (Basic auth).
        pub email: Option<String> = None,
        /// An API token of that account, usually `"${JIRA_TOKEN}"`; never logged or stored.
        pub token: Option<Secret> = None,
        /// An OAuth 2.0 access token instead of `email` and `token`.
        pub bearer_token: Option<Secret> = None,
        /// Project keys to read (`["ABC", "OPS"]`).
        #[key(default_text = "every project the account can browse")]
        pub projects: Vec<String> = Vec::new(),
        /// An extra JQL filter, ANDed with the projects (no `ORDER BY`: the source orders).
        pub jql: Option<String> = None,
        /// Minutes read again before the stored high-water mark at each sync, for issues the
        /// search index shows late.
        #[key(range = 0..=1440)]
        pub overlap_minutes: u64 = 10,
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}
