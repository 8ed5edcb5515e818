//! The HTTP client every API source of athena-ingest shares (GitHub, Slack, and the ones to
//! come), so paging, retrying, rate limits and conditional requests are written once.
//!
//! - [`ApiClient`]: `GET` a URL as JSON, with retries (exponential backoff with jitter on 5xx,
//!   timeouts and broken connections; `Retry-After` honoured on 429 and 503; never on 400, 401,
//!   404; a host that cannot be reached at all only twice, quickly, and then not asked again
//!   in the run), the server's rate-limit headers obeyed (wait for the reset, or fail past `max_wait`),
//!   an optional requests-per-second cap, and `If-None-Match` for ETags ([`Fetched::NotModified`]);
//!   `POST` a JSON body the same way for GraphQL APIs ([`ApiClient::post_checked`]).
//! - [`Pages`]: where the next page of a list is (a `Link` header, a token in the body, a page
//!   number, GraphQL's `pageInfo`), with one guard against paging loops; [`link`] parses.
//! - [`HttpError`]: what failed, where (method and URL without credentials), the status and the
//!   first bytes of the body.
//! - [`oauth`]: access tokens that expire ([`oauth::TokenSource`]): cached, refreshed, and
//!   asked for again once when the API answers 401.
//! - [`wait`]: the notices of the client's waits (retries, rate limits), for progress displays.
//! - [`HttpStats`]: requests (and by status code), retries, 304s, bytes, rate-limit waits.
//! - `testing` (feature `test-server`): the kit for fakes of APIs in tests (`FakeApi`: routes
//!   and data, faults, delays, paging, ETags) on a tiny local HTTP/1.1 server.
#![warn(missing_docs)]

mod client;
#[cfg(test)]
mod client_tests;
mod error;
pub mod link;
pub mod oauth;
mod pages;
mod redact;
mod stats;
#[cfg(any(test, feature = "test-server"))]
pub mod testing;
pub mod wait;
#[cfg(test)]
mod wait_tests;

pub use client::{
    ApiClient, BodyVerdict, ClientConfig, Fetched, Page, RateLimitHeaders, RetryPolicy,
    DEFAULT_MAX_RESPONSE_BYTES,
};
pub use error::{HttpError, HttpErrorKind};
pub use pages::{PageRead, Pages, Paging};
pub use redact::redact_url;
pub use reqwest::header::HeaderMap;
pub use stats::HttpStats;
pub use url::Url;
