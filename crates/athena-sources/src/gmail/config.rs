//! The `gmail` source's configuration: a `[[sources]]` entry with `type = "gmail"`.

use athena_core::config::BATCH_SIZE_RANGE;

athena_core::declare_config! {
    /// Configuration of a `gmail` source.
    #[derive(Debug, Clone)]
    pub struct GmailConfig {
        /// The Gmail API's base URL.
        #[key(kind = "URL")]
        pub api_url: String = "https://gmail.googleapis.com/gmail/v1".into(),
        /// The mailbox: `me` (the authorized user) or an address the credentials may read.
        pub user: String = "me".into(),
        /// Label ids whose messages are read (`INBOX`, `SENT`, a user label's id such as
        /// `Label_12`); a message needs one of them.
        pub labels: Vec<String> = vec!["INBOX".into(), "SENT".into()],
        /// A Gmail search (`"newer_than:30d -category:promotions"`) limiting the first sync;
        /// later syncs read every change of the labels.
        pub query: Option<String> = None,
        /// Store the text/plain body instead of Gmail's snippet (one `format=full` read per
        /// message).
        pub include_body: bool = false,
        /// With `include_body`: the longest body stored, in bytes (cut at a character
        /// boundary).
        #[key(range = 1..=10_000_000)]
        pub max_body_bytes: usize = 65_536,
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The OAuth 2.0 keys (scope `gmail.readonly`).
        pub auth: crate::google::GoogleAuthKeys,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}
