//! What a client is configured with: the API, its credentials, retries, rate limits and
//! the bound on a response body.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use athena_core::Secret;
use url::Url;

use crate::oauth::TokenSource;

/// The default of [`ClientConfig::max_response_bytes`]: 32 MiB. The largest page a supported
/// API sends (100 issues with their bodies, a Gmail message in full) is a few MB, so this is
/// ten times that; and a body is held about three times while it is decoded (bytes, JSON
/// values, events), so a source's memory stays near 100 MB whatever an upstream answers.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

/// When to try a failed request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// No retry starts later than this after the first attempt.
    pub max_elapsed: Duration,
    /// The first retry's delay; each next one doubles, up to `max_delay`. Each is jittered
    /// down to half, so clients failing together do not retry together.
    pub initial_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Retries of a request that found no connection at all ([`HttpErrorKind::Unreachable`]:
    /// the name did not resolve, the connection was refused), at most: a host that cannot
    /// be reached now will not be reached in the seconds a backoff waits, and the user is
    /// waiting for the word. `max_retries` lowers it further.
    ///
    /// [`HttpErrorKind::Unreachable`]: crate::HttpErrorKind::Unreachable
    pub const CONNECT_RETRIES: u32 = 2;

    /// The longest wait before such a retry (before jitter).
    pub const CONNECT_MAX_DELAY: Duration = Duration::from_secs(1);
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            max_elapsed: Duration::from_secs(120),
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// The names of the headers in which the server says how much of its rate limit is left and
/// when it resets (seconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// Requests left in the window (`X-RateLimit-Remaining`).
    pub remaining: &'static str,
    /// When the window resets, epoch seconds (`X-RateLimit-Reset`).
    pub reset: &'static str,
}

impl RateLimitHeaders {
    /// GitHub's (also used by many others).
    pub const GITHUB: RateLimitHeaders = RateLimitHeaders {
        remaining: "x-ratelimit-remaining",
        reset: "x-ratelimit-reset",
    };
}

/// How to talk to one API for one source.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The source, named in errors.
    pub source_id: String,
    /// Paths are resolved against this (`https://api.github.com/`, a GitHub Enterprise
    /// `https://host/api/v3/`, a local mock).
    pub base_url: Url,
    /// The `Authorization` header's value (`Bearer …`), if any. Never logged.
    pub authorization: Option<Secret>,
    /// The header `authorization` is sent in: `Authorization`, or an API's own
    /// (CircleCI's `Circle-Token`, which takes the bare token).
    pub authorization_header: &'static str,
    /// Other headers sent with every request (`Accept`, API versions).
    pub headers: Vec<(String, String)>,
    /// Sent as `User-Agent`.
    pub user_agent: String,
    /// Connecting may take this long.
    pub connect_timeout: Duration,
    /// A whole request (connect to last body byte) may take this long.
    pub timeout: Duration,
    /// The largest response body read, in bytes; a larger one fails the request
    /// ([`HttpErrorKind::TooLarge`]) before more of it is read. The bytes counted are the
    /// body as decoded: reqwest's `chunk()` yields decompressed bytes when decompression is
    /// on (it is off in this build, and no `Accept-Encoding` is sent), so a compressed bomb
    /// is bounded too.
    pub max_response_bytes: u64,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// The longest the client waits for a rate limit to reset (or a `Retry-After`); past
    /// it, the request fails with [`HttpErrorKind::RateLimited`].
    pub max_wait: Duration,
    /// A cap on the request rate, if any.
    pub requests_per_second: Option<NonZeroU32>,
    /// The server's rate-limit headers, if it sends them.
    pub rate_limit: Option<RateLimitHeaders>,
    /// Where each request's bearer token comes from, when it expires (OAuth 2.0): asked
    /// before every request, told when the API refuses it (401), and asked once more then.
    /// Takes the place of `authorization`.
    pub token_source: Option<Arc<dyn TokenSource>>,
    /// Whether a `GET`'s 4xx whose body decodes is judged by the body check too, as a
    /// `POST`'s is: for APIs that say in an error body why they refused (Google's `403
    /// rateLimitExceeded`, a rate limit to back off from, beside a `403 forbidden`).
    pub judge_client_errors: bool,
}

impl ClientConfig {
    /// Defaults: 10 s to connect, 30 s per request, bodies up to 32 MiB, 5 retries within 2
    /// minutes, rate limits waited for up to 15 minutes, GitHub's rate-limit headers.
    pub fn new(source_id: impl Into<String>, base_url: Url) -> Self {
        ClientConfig {
            source_id: source_id.into(),
            base_url,
            authorization: None,
            authorization_header: "authorization",
            token_source: None,
            headers: Vec::new(),
            user_agent: concat!("athena-ingest/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
            max_wait: Duration::from_secs(900),
            requests_per_second: None,
            rate_limit: Some(RateLimitHeaders::GITHUB),
            judge_client_errors: false,
        }
    }
}
