//! [`ApiClient`]: one source's connection to one API.
//!
//! - `settings`: [`ClientConfig`], [`RetryPolicy`], [`RateLimitHeaders`];
//! - `retry`: the loop around a request (backoff, rate-limit waits, a new token on a 401);
//! - `attempt`: one attempt, its answer judged by status and body ([`BodyVerdict`]);
//! - `answer`: what comes back ([`Page`], [`Fetched`]);
//! - `rate_limit`: the server's rate-limit headers; `transport`: bounded bodies, redirects;
//! - `reach`: an API found unreachable is not asked again in the same run.

use std::num::NonZeroU32;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use athena_core::Redactor;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{HttpError, HttpErrorKind};
use crate::redact::redact_url;
use crate::stats::HttpStats;

mod answer;
mod attempt;
mod rate_limit;
mod reach;
pub(crate) mod retry;
mod settings;
mod transport;

pub use answer::{BodyVerdict, Fetched, Page};
pub use settings::{ClientConfig, RateLimitHeaders, RetryPolicy, DEFAULT_MAX_RESPONSE_BYTES};
use transport::same_origin_redirects;
pub(crate) use transport::{describe_request_error, read_body, BodyError};

/// An HTTP client for one source: JSON `GET`s with retries, rate limits and ETags.
pub struct ApiClient {
    http: reqwest::Client,
    config: ClientConfig,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Until when the server said not to send anything (a spent rate limit).
    blocked_until: Mutex<Option<Instant>>,
    /// Whether a request of this run found no connection to the API (see `reach`).
    unreachable: AtomicBool,
    stats: Arc<HttpStats>,
    /// The credentials, masked in every error this client builds: a server may echo them.
    secrets: Redactor,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("source_id", &self.config.source_id)
            .field("base_url", &redact_url(&self.config.base_url))
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client; fails only on a header value that cannot be sent.
    pub fn new(config: ClientConfig) -> Result<Self, HttpError> {
        let bad = |message: String| HttpError {
            kind: HttpErrorKind::Request,
            method: "GET",
            url: redact_url(&config.base_url),
            status: None,
            message,
            body: String::new(),
            retry_after: None,
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad(format!("header name {name:?}: {e}")))?;
            let value =
                HeaderValue::from_str(value).map_err(|e| bad(format!("header {name}: {e}")))?;
            headers.insert(name, value);
        }
        let mut secrets = Redactor::new();
        if let Some(auth) = &config.authorization {
            secrets.add(auth.expose());
            // `Bearer TOKEN`, `token TOKEN`, `Basic B64`: the credential alone, echoed too.
            if let Some((_, credential)) = auth.expose().trim().split_once(char::is_whitespace) {
                secrets.add(credential);
            }
            let mut value = HeaderValue::from_str(auth.expose())
                .map_err(|_| bad("the token holds characters a header cannot carry".into()))?;
            value.set_sensitive(true);
            let name =
                HeaderName::from_bytes(config.authorization_header.as_bytes()).map_err(|e| {
                    bad(format!(
                        "header name {:?}: {e}",
                        config.authorization_header
                    ))
                })?;
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .default_headers(headers)
            .redirect(same_origin_redirects())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        let limiter = config
            .requests_per_second
            // No bursts: requests are spaced evenly.
            .map(|n| RateLimiter::direct(Quota::per_second(n).allow_burst(NonZeroU32::MIN)));
        Ok(ApiClient {
            http,
            config,
            limiter,
            blocked_until: Mutex::new(None),
            unreachable: AtomicBool::new(false),
            stats: Arc::new(HttpStats::default()),
            secrets,
        })
    }

    /// The counters, shared: they keep counting after this call.
    pub fn stats(&self) -> Arc<HttpStats> {
        self.stats.clone()
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.config.base_url
    }

    /// `path` (with its query) resolved against the base URL, which is taken as a directory:
    /// `repos/o/r` under `https://host/api/v3` is `https://host/api/v3/repos/o/r`.
    pub fn url(&self, path: &str) -> Result<Url, HttpError> {
        let mut base = self.config.base_url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        base.join(path.trim_start_matches('/'))
            .map_err(|e| HttpError {
                kind: HttpErrorKind::Request,
                method: "GET",
                url: redact_url(&base),
                status: None,
                message: format!("bad path {path:?}: {e}"),
                body: String::new(),
                retry_after: None,
            })
    }

    /// `GET url` decoded as JSON `T`. With `etag`, sends `If-None-Match` and returns
    /// [`Fetched::NotModified`] on a 304. Retries and rate-limit waits happen inside; the error
    /// is the last failure once no retry is left.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        etag: Option<&str>,
    ) -> Result<Fetched<T>, HttpError> {
        self.get_checked(url, etag, &|_: &T, _: &HeaderMap| BodyVerdict::Accept)
            .await
    }

    /// [`get_json`](ApiClient::get_json), with `check` judging each decoded body: an error
    /// inside a `200` can then be retried, waited for, or fail like any other. A 4xx whose body
    /// decodes as `T` is judged first too (Google's `403 rateLimitExceeded` says in its body
    /// that it is a rate limit); [`BodyVerdict::Accept`] there leaves it to its status.
    pub async fn get_checked<T: DeserializeOwned>(
        &self,
        url: &Url,
        etag: Option<&str>,
        check: &(dyn Fn(&T, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Result<Fetched<T>, HttpError> {
        self.send(url, etag, None, check).await
    }

    /// `GET url` as a JSON value judged by `check` ([`BodyVerdict::accept`]: none), never
    /// conditionally: what a source reads whole each time.
    pub async fn get_value(
        &self,
        url: &Url,
        check: &(dyn Fn(&serde_json::Value, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Result<serde_json::Value, HttpError> {
        match self.get_checked(url, None, check).await? {
            Fetched::Page(p) => Ok(p.value),
            // Not asked conditionally, so not answered 304.
            Fetched::NotModified => Ok(serde_json::Value::Null),
        }
    }

    /// `POST body` (JSON) to `url`, the answer decoded as `T` and judged by `check`, with the
    /// same retries and rate-limit waits as a `GET`: for GraphQL APIs, which read every query
    /// from one endpoint. A GraphQL server also says why it refused a query in a 4xx body
    /// (Linear's `RATELIMITED` in a 400), so a 4xx whose body decodes as `T` is judged by
    /// `check` first; [`BodyVerdict::Accept`] there leaves it to its status.
    pub async fn post_checked<T: DeserializeOwned>(
        &self,
        url: &Url,
        body: &serde_json::Value,
        check: &(dyn Fn(&T, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Result<Page<T>, HttpError> {
        let body = body.to_string().into_bytes();
        match self.send(url, None, Some(&body), check).await? {
            Fetched::Page(page) => Ok(*page),
            // Only a request with an ETag gets a 304.
            Fetched::NotModified => Err(HttpError {
                kind: HttpErrorKind::Decode,
                method: "POST",
                url: redact_url(url),
                status: Some(304),
                message: "304 Not Modified to a POST".into(),
                body: String::new(),
                retry_after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::rate_limit::retry_after;
    use super::retry::backoff;
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_half() {
        let p = RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..100 {
            let d1 = backoff(&p, 1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = backoff(&p, 3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d9 = backoff(&p, 9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("soon"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn urls_resolve_under_the_base_path() {
        let mut c = ClientConfig::new("s", Url::parse("https://ghe.example/api/v3").unwrap());
        c.rate_limit = None;
        let client = ApiClient::new(c).unwrap();
        assert_eq!(
            client.url("/repos/o/r/issues?state=all").unwrap().as_str(),
            "https://ghe.example/api/v3/repos/o/r/issues?state=all"
        );
    }

    #[test]
    fn a_spent_limit_resets_at_epoch_seconds_or_at_a_time_stamp() {
        let c = ClientConfig::new("s", Url::parse("https://x.example").unwrap());
        let client = ApiClient::new(c).unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = chrono::Utc::now() + chrono::Duration::seconds(60);
        for text in [reset.timestamp().to_string(), reset.to_rfc3339()] {
            h.insert("x-ratelimit-reset", HeaderValue::from_str(&text).unwrap());
            let wait = client.spent_reset(&h).expect(&text);
            assert!(
                wait > Duration::from_secs(55) && wait <= Duration::from_secs(62),
                "{text}: {wait:?}"
            );
        }
        h.insert("x-ratelimit-reset", HeaderValue::from_static("soon"));
        assert_eq!(client.spent_reset(&h), None);
    }
}
