//! The `google_calendar` source's configuration: a `[[sources]]` entry with
//! `type = "google_calendar"`.

use athena_core::config::BATCH_SIZE_RANGE;

athena_core::declare_config! {
    /// Configuration of a `google_calendar` source.
    #[derive(Debug, Clone)]
    pub struct GoogleCalendarConfig {
        /// The API root.
        #[key(kind = "URL")]
        pub api_url: String = "https://www.googleapis.com/calendar/v3".into(),
        /// The calendars to read, by id (`"primary"`, `"team@group.calendar.google.com"`).
        pub calendars: Vec<String> = vec!["primary".to_string()],
        /// How far back the first sync of a calendar reads (`30d`); later syncs read what
        /// changed, wherever it lies.
        #[key(kind = "duration")]
        pub lookback: String = "30d".into(),
        /// How far ahead the first sync of a calendar reads (`30d`).
        #[key(kind = "duration")]
        pub lookahead: String = "30d".into(),
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The OAuth 2.0 keys, shared by the Google sources.
        pub auth: crate::google::GoogleAuthKeys,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}
