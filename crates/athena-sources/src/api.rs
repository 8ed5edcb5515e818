//! What the API sources (github, slack) share beyond the HTTP client itself: the config keys
//! that tune the client, building it from them, and the stats. (Running a source is the kit's:
//! `athena_core::kit`.)

use std::num::NonZeroU32;
use std::time::Duration;

use athena_core::{ConfigError, ConfigKey, Secret, SourceConfig, SourceStats};
use athena_http::{ApiClient, ClientConfig, HttpStats, Url};

/// The client-tuning keys, as each API source's config holds them.
pub(crate) struct HttpKnobs {
    pub max_retries: u32,
    pub retry_delay_ms: u64,
    pub max_wait_secs: u64,
    pub requests_per_second: Option<u32>,
    pub timeout_secs: u64,
    pub batch_size: usize,
}

pub(crate) fn default_max_retries() -> u32 {
    5
}

pub(crate) fn default_retry_delay_ms() -> u64 {
    500
}

pub(crate) fn default_max_wait_secs() -> u64 {
    900
}

pub(crate) fn default_timeout_secs() -> u64 {
    30
}

pub(crate) fn default_batch_size() -> usize {
    500
}

/// An [`ApiClient`] for `config`'s source at `api_url`, sending `authorization`, tuned by
/// `knobs`; bad values are config errors naming their key.
pub(crate) fn client(
    config: &SourceConfig,
    api_url: &str,
    authorization: Option<Secret>,
    knobs: &HttpKnobs,
    adjust: impl FnOnce(&mut ClientConfig),
) -> Result<ApiClient, ConfigError> {
    let api = Url::parse(api_url)
        .map_err(|e| config.error(Some("api_url"), format!("not a URL: {e}")))?;
    if !matches!(api.scheme(), "http" | "https") {
        return Err(config.error(Some("api_url"), "must be an http or https URL"));
    }
    if !(1..=3600).contains(&knobs.timeout_secs) {
        return Err(config.error(Some("timeout_secs"), "must be between 1 and 3600"));
    }
    if !(1..=100_000).contains(&knobs.batch_size) {
        return Err(config.error(Some("batch_size"), "must be between 1 and 100000"));
    }
    let mut http = ClientConfig::new(config.id.clone(), api);
    http.authorization = authorization;
    http.timeout = Duration::from_secs(knobs.timeout_secs);
    http.retry.max_retries = knobs.max_retries;
    http.retry.initial_delay = Duration::from_millis(knobs.retry_delay_ms);
    http.max_wait = Duration::from_secs(knobs.max_wait_secs);
    http.requests_per_second = match knobs.requests_per_second {
        None => None,
        Some(n) => Some(
            NonZeroU32::new(n)
                .ok_or_else(|| config.error(Some("requests_per_second"), "must be at least 1"))?,
        ),
    };
    adjust(&mut http);
    ApiClient::new(http).map_err(|e| config.error(Some("token"), e.message.clone()))
}

/// The keys every API source has, after its own.
pub(crate) fn knob_keys() -> Vec<ConfigKey> {
    vec![
        ConfigKey {
            name: "max_retries",
            kind: "integer",
            required: false,
            default: Some("5"),
            doc: "retries of a request failing with 5xx, a timeout or a broken connection",
        },
        ConfigKey {
            name: "retry_delay_ms",
            kind: "integer",
            required: false,
            default: Some("500"),
            doc: "the first retry's delay, doubling after (with jitter)",
        },
        ConfigKey {
            name: "max_wait_secs",
            kind: "integer",
            required: false,
            default: Some("900"),
            doc: "the longest wait for a rate limit; past it the sync fails, cursor kept",
        },
        ConfigKey {
            name: "requests_per_second",
            kind: "integer",
            required: false,
            default: None,
            doc: "a cap on the request rate",
        },
        ConfigKey {
            name: "timeout_secs",
            kind: "integer",
            required: false,
            default: Some("30"),
            doc: "seconds a request may take",
        },
        ConfigKey {
            name: "batch_size",
            kind: "integer",
            required: false,
            default: Some("500"),
            doc: "events per stored batch",
        },
    ]
}

/// The client's counters as the source's stats.
pub(crate) fn stats(http: &HttpStats) -> SourceStats {
    SourceStats {
        requests: http.requests(),
        retries: http.retries(),
        bytes: http.bytes(),
        not_modified: http.not_modified(),
        rate_limit_waits: http.rate_limit_waits(),
        ..SourceStats::default()
    }
}
