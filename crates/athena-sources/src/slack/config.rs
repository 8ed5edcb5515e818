//! The `slack` source's configuration: a `[[sources]]` entry with `type = "slack"`.

use athena_core::config::BATCH_SIZE_RANGE;
use athena_core::Secret;

athena_core::declare_config! {
    /// Configuration of a `slack` source.
    #[derive(Debug, Clone)]
    pub struct SlackConfig {
        /// A bot or user token (`xoxb-…`, `xoxp-…`), usually `"${SLACK_TOKEN}"`; never logged
        /// or stored.
        pub token: Secret,
        /// Channel names (`general`, `#general`) or IDs (`C0123…`); archived channels are read
        /// when named.
        #[key(default_text = "every channel the token is a member of (not archived)")]
        pub channels: Vec<String> = Vec::new(),
        /// Read thread replies (`conversations.replies`).
        pub include_threads: bool = true,
        /// How far back each sync reads again for new replies, edits and reactions (`7d`,
        /// `12h`).
        #[key(kind = "duration")]
        pub lookback: String = "7d".into(),
        /// Show people by display name (`users.info`, once per person per sync).
        pub resolve_users: bool = true,
        /// The Web API root.
        #[key(kind = "URL")]
        pub api_url: String = "https://slack.com/api".into(),
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}

impl SlackConfig {
    pub(crate) fn knobs(&self) -> crate::api::HttpKnobs {
        self.http
    }
}
