//! The `circleci` source's configuration: a `[[sources]]` entry with `type = "circleci"`.

use athena_core::config::BATCH_SIZE_RANGE;
use athena_core::Secret;

athena_core::declare_config! {
    /// Configuration of a `circleci` source.
    #[derive(Debug, Clone)]
    pub struct CircleciConfig {
        /// The project: `gh/ORG/REPO`, `bb/ORG/REPO`, or `circleci/ORG_ID/PROJECT_ID`.
        pub project_slug: String,
        /// A personal API token, usually `"${CIRCLECI_TOKEN}"`; sent as `Circle-Token`, never
        /// logged or stored.
        pub token: Secret,
        /// Only this branch's pipelines.
        #[key(default_text = "every branch")]
        pub branch: Option<String> = None,
        /// How far below the newest pipeline stored each sync lists again, for workflows
        /// re-run since (`6h`, `2d`).
        #[key(kind = "duration")]
        pub overlap: String = "6h".into(),
        /// The API root (CircleCI server: `"https://HOST/api/v2"`).
        #[key(kind = "URL")]
        pub api_url: String = "https://circleci.com/api/v2".into(),
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}

impl CircleciConfig {
    pub(crate) fn knobs(&self) -> crate::api::HttpKnobs {
        self.http
    }
}
