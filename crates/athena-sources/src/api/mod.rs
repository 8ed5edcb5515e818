//! What the API sources share beyond the HTTP client itself, so a source is its requests, its
//! page parser and its words for failures, and nothing else.
//!
//! - here: the config keys that tune the client ([`HttpKnobs`]), building the client from them,
//!   and the client's counters as the source's stats;
//! - `failure`: [`Failure`], why a source's reading stopped (the consumer left, a request
//!   failed, the source failed);
//! - `hints`: [`Hints`], a source's words for each kind of HTTP failure, and the one place an
//!   [`HttpError`](athena_http::HttpError) becomes the source's error;
//! - `parts`: [`PartsFailed`], the one message of a source read in parts (streams, channels)
//!   when some failed: which, why, which were not tried, and what was stored;
//! - `driver`: [`ApiSource`], what a source gives (its cursor, its sync, its hints), and the one
//!   loop every API source runs (decode the cursor, read pages, on a failure store what was
//!   read whole and explain); `driven!` makes an `ApiSource` the kit's `AsyncSource`.

use std::num::NonZeroU32;
use std::time::Duration;

use athena_core::{ConfigError, Secret, SourceConfig, SourceStats};
use athena_http::{ApiClient, ClientConfig, HttpStats, Url};

mod driver;
mod failure;
mod hints;
mod parts;
#[cfg(test)]
mod parts_tests;

pub(crate) use driver::{check, drive, driven, limits, ApiSource, Keep, Parts};
pub(crate) use failure::Failure;
pub(crate) use hints::{Hint, Hints};
pub(crate) use parts::PartsFailed;

athena_core::declare_config! {
    /// The keys that tune the HTTP client, the same in every API source's table (declared
    /// once here, flattened into each source's config).
    #[derive(Debug, Clone, Copy)]
    pub struct HttpKnobs {
        /// Retries of a request failing with 5xx, a timeout or a broken connection (a host
        /// that cannot be reached at all, its name unresolved or its port closed: at most 2,
        /// within a second each, and the source's other lists are then not asked in that sync).
        pub max_retries: u32 = 5,
        /// The first retry's delay in milliseconds; doubling after, with jitter, at most 30 s.
        pub retry_delay_ms: u64 = 500,
        /// The longest wait in seconds for a spent rate limit to reset; past it the sync fails
        /// with the cursor kept.
        pub max_wait_secs: u64 = 900,
        /// A cap on the request rate, in requests per second (none: the API's own limits are
        /// obeyed).
        #[key(range = 1..)]
        pub requests_per_second: Option<u32> = None,
        /// Seconds a request may take (connecting: 10 s).
        #[key(range = 1..=3600)]
        pub timeout_secs: u64 = 30,
        /// The largest response body read, in bytes (default 32 MiB, ten times the largest
        /// page these APIs send); a larger body fails the sync naming the URL, not memory.
        #[key(range = 1024..)]
        pub max_response_bytes: u64 = athena_http::DEFAULT_MAX_RESPONSE_BYTES,
    }
}

/// Events per stored batch of an API source (a page is at most 100 items, so batches of a few
/// pages).
pub(crate) const DEFAULT_BATCH_SIZE: usize = 500;

/// An [`ApiClient`] for `config`'s source at `api_url`, sending `authorization`, tuned by
/// `knobs`; a bad `api_url` is a config error naming it.
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
    let mut http = ClientConfig::new(config.id.clone(), api);
    http.authorization = authorization;
    http.timeout = Duration::from_secs(knobs.timeout_secs);
    http.max_response_bytes = knobs.max_response_bytes;
    http.retry.max_retries = knobs.max_retries;
    http.retry.initial_delay = Duration::from_millis(knobs.retry_delay_ms);
    http.max_wait = Duration::from_secs(knobs.max_wait_secs);
    // Its declared range (`1..`) has been checked as the config was read.
    http.requests_per_second = knobs.requests_per_second.and_then(NonZeroU32::new);
    adjust(&mut http);
    ApiClient::new(http).map_err(|e| config.error(Some("token"), e.message.clone()))
}

/// A duration key (`7d`, `12h`, `30m`) as a duration; anything else is a config error naming
/// the key, with `examples` of what it takes.
pub(crate) fn duration(
    config: &SourceConfig,
    key: &str,
    text: &str,
    examples: &str,
) -> Result<chrono::Duration, ConfigError> {
    let now = chrono::Utc::now();
    text.trim()
        .ends_with(|ch: char| ch.is_ascii_alphabetic())
        .then(|| athena_core::time::parse_time_arg(text, now).ok())
        .flatten()
        .map(|t| now - t)
        .filter(|d| *d >= chrono::Duration::zero())
        .ok_or_else(|| config.error(Some(key), format!("must be a duration like {examples}")))
}

/// The client's counters as the source's stats.
pub(crate) fn stats(http: &HttpStats) -> SourceStats {
    SourceStats {
        requests: http.requests(),
        retries: http.retries(),
        bytes: http.bytes(),
        not_modified: http.not_modified(),
        rate_limit_waits: http.rate_limit_waits(),
        responses: http.responses(),
        ..SourceStats::default()
    }
}
