//! [`ApiClient`]: one source's connection to one API.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use athena_core::{HttpStatus, Redactor, Secret};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{excerpt, HttpError, HttpErrorKind};
use crate::oauth::TokenSource;
use crate::redact::redact_url;
use crate::stats::HttpStats;

/// Rate-limit waits for one request before it fails, whatever their length.
const MAX_WAITS: u32 = 30;

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

/// One response page, decoded.
#[derive(Debug)]
pub struct Page<T> {
    /// The decoded body.
    pub value: T,
    /// The URL that answered.
    pub url: Url,
    /// Its `ETag`, for the next [`ApiClient::get_json`] of the same URL.
    pub etag: Option<String>,
    /// The `Link: rel="next"` URL, if there is a next page.
    pub next: Option<Url>,
    /// All response headers.
    pub headers: HeaderMap,
}

/// What a conditional `GET` returned.
#[derive(Debug)]
pub enum Fetched<T> {
    /// `304`: the resource is as it was when its ETag was taken.
    NotModified,
    /// A page (boxed: it carries the headers).
    Page(Box<Page<T>>),
}

/// What a source says of a decoded body, for APIs that report errors inside a `200` (Slack's
/// `{"ok": false, "error": "…"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyVerdict {
    /// A good answer.
    Accept,
    /// A rate limit said in the body: wait this long, then ask again.
    Wait(Duration),
    /// A passing failure: retry with backoff.
    Retry(String),
    /// A failure: stop, with this kind and message.
    Fail(HttpErrorKind, String),
}

/// The outcome of one attempt, before the retry decision.
enum Attempt<T> {
    Done(Fetched<T>),
    /// Try again after the backoff; the error is what to report if no retry is left.
    Retry(HttpError, Option<Duration>),
    /// A rate limit: try again after this wait (not a retry: it does not use the retry budget).
    Wait(HttpError, Duration),
    Fail(HttpError),
}

/// An HTTP client for one source: JSON `GET`s with retries, rate limits and ETags.
pub struct ApiClient {
    http: reqwest::Client,
    config: ClientConfig,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Until when the server said not to send anything (a spent rate limit).
    blocked_until: Mutex<Option<Instant>>,
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
            }),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        url: &Url,
        etag: Option<&str>,
        post: Option<&[u8]>,
        check: &(dyn Fn(&T, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Result<Fetched<T>, HttpError> {
        let method = if post.is_some() { "POST" } else { "GET" };
        let started = Instant::now();
        let mut retries = 0u32;
        let mut waits = 0u32;
        let mut waited = Duration::ZERO;
        if !same_origin(url, &self.config.base_url) {
            // Credentials go to the configured API only, whatever a response links to.
            return Err(HttpError {
                kind: HttpErrorKind::Request,
                method,
                url: redact_url(url),
                status: None,
                message: format!(
                    "refusing to send the credentials to another host than {}",
                    redact_url(&self.config.base_url)
                ),
                body: String::new(),
            });
        }
        // A refused token is replaced once per request: a second refusal is the credentials'.
        let mut token_refreshed = false;
        loop {
            self.wait_for_budget(url, &mut waited).await?;
            let token = match &self.config.token_source {
                Some(source) => Some(self.access_token(source.as_ref()).await?),
                None => None,
            };
            let attempt = self
                .attempt::<T>(url, etag, post, token.as_ref(), check)
                .await;
            match attempt {
                Attempt::Done(f) => return Ok(f),
                Attempt::Fail(e) if e.kind == HttpErrorKind::Unauthorized && !token_refreshed => {
                    let (Some(source), Some(token)) = (&self.config.token_source, &token) else {
                        return Err(e);
                    };
                    tracing::debug!(source = %self.config.source_id, "access token refused; getting a new one");
                    source.reject(token);
                    token_refreshed = true;
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::Wait(e, wait) => {
                    // A `Retry-After: 0` (or a date past) still waits a second: never a spin.
                    let wait = wait.max(Duration::from_secs(1));
                    if waited + wait > self.config.max_wait {
                        return Err(self.spent(e, wait));
                    }
                    waits += 1;
                    if waits > MAX_WAITS {
                        return Err(HttpError {
                            kind: HttpErrorKind::RateLimited,
                            message: format!("still rate limited after {MAX_WAITS} waits"),
                            ..e
                        });
                    }
                    self.stats.add_rate_limit_waits(1);
                    tracing::info!(
                        source = %self.config.source_id,
                        url = %redact_url(url),
                        "rate limited; waiting {:.0} s",
                        wait.as_secs_f64().ceil()
                    );
                    waited += wait;
                    tokio::time::sleep(wait).await;
                }
                Attempt::Retry(e, after) => {
                    let policy = &self.config.retry;
                    let delay = after.unwrap_or_else(|| backoff(policy, retries + 1));
                    if retries >= policy.max_retries
                        || started.elapsed() + delay > policy.max_elapsed + waited
                    {
                        return Err(HttpError {
                            message: format!("{} (gave up after {} retries)", e.message, retries),
                            ..e
                        });
                    }
                    retries += 1;
                    self.stats.add_retries(1);
                    tracing::debug!(
                        source = %self.config.source_id,
                        "retry {retries} in {} ms: {e}",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// A token from `source`; a token endpoint that fails for a moment (5xx, 429, no answer)
    /// is asked again under the request's retry policy.
    async fn access_token(&self, source: &dyn TokenSource) -> Result<Secret, HttpError> {
        let mut tries = 0;
        loop {
            match source.access_token().await {
                Ok(token) => return Ok(token),
                Err(e)
                    if matches!(
                        e.kind,
                        HttpErrorKind::Network | HttpErrorKind::Server | HttpErrorKind::RateLimited
                    ) && tries < self.config.retry.max_retries =>
                {
                    tries += 1;
                    self.stats.add_retries(1);
                    let delay = backoff(&self.config.retry, tries);
                    tracing::debug!(source = %self.config.source_id, "retry {tries} of the token in {} ms: {e}", delay.as_millis());
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn spent(&self, e: HttpError, wait: Duration) -> HttpError {
        HttpError {
            kind: HttpErrorKind::RateLimited,
            message: format!(
                "rate limit spent; it resets in {} s, longer than this source may wait (max_wait {} s); the cursor is kept, sync again later",
                wait.as_secs_f64().ceil(),
                self.config.max_wait.as_secs()
            ),
            ..e
        }
    }

    /// Waits while a spent rate limit has not reset, and for the requests-per-second cap.
    async fn wait_for_budget(&self, url: &Url, waited: &mut Duration) -> Result<(), HttpError> {
        let until = *self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let wait = until.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                let e = HttpError {
                    kind: HttpErrorKind::RateLimited,
                    method: "GET",
                    url: redact_url(url),
                    status: None,
                    message: String::new(),
                    body: String::new(),
                };
                if *waited + wait > self.config.max_wait {
                    return Err(self.spent(e, wait));
                }
                self.stats.add_rate_limit_waits(1);
                tracing::info!(
                    source = %self.config.source_id,
                    "rate limit spent; waiting {:.0} s for it to reset",
                    wait.as_secs_f64().ceil()
                );
                *waited += wait;
                tokio::time::sleep(wait).await;
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        Ok(())
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        url: &Url,
        etag: Option<&str>,
        post: Option<&[u8]>,
        token: Option<&Secret>,
        check: &(dyn Fn(&T, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Attempt<T> {
        let method = if post.is_some() { "POST" } else { "GET" };
        // This attempt's access token is masked like the static credentials.
        let with_token;
        let secrets = match token {
            Some(token) => {
                with_token = {
                    let mut s = self.secrets.clone();
                    s.add(token.expose());
                    s
                };
                &with_token
            }
            None => &self.secrets,
        };
        // A source may have put its credentials in the URL under a name `redact_url` does not
        // know.
        let shown = secrets.redact(&redact_url(url)).into_owned();
        // Every error of an attempt is built here, so the credentials are masked once for all.
        let error = |kind, status: Option<u16>, message: String, body: String| HttpError {
            kind,
            method,
            url: shown.clone(),
            status,
            message: secrets.redact(&message).into_owned(),
            body,
        };
        let mut request = match post {
            Some(body) => self
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec()),
            None => self.http.get(url.clone()),
        };
        if let Some(tag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        if let Some(token) = token {
            match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
                Err(_) => {
                    return Attempt::Fail(error(
                        HttpErrorKind::Request,
                        None,
                        "the access token holds characters a header cannot carry".into(),
                        String::new(),
                    ))
                }
            }
        }
        self.stats.add_requests(1);
        let response = match request.send().await {
            Ok(r) => {
                self.stats
                    .add_response(HttpStatus::Code(r.status().as_u16()));
                r
            }
            Err(e) => {
                self.stats.add_response(HttpStatus::Error);
                return Attempt::Retry(
                    error(
                        HttpErrorKind::Network,
                        None,
                        describe_request_error(e),
                        String::new(),
                    ),
                    None,
                );
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.note_rate_limit(&headers);
        if status == StatusCode::NOT_MODIFIED {
            self.stats.add_not_modified(1);
            return Attempt::Done(Fetched::NotModified);
        }
        // A redirect to another origin stops here (see `same_origin_redirects`).
        let elsewhere = (status.is_redirection())
            .then(|| headers.get(reqwest::header::LOCATION)?.to_str().ok())
            .flatten()
            .and_then(|l| url.join(l).ok())
            .filter(|to| !same_origin(to, url));
        if let Some(to) = elsewhere {
            let to = redact_url(&to);
            return Attempt::Fail(error(
                HttpErrorKind::Client,
                Some(status.as_u16()),
                format!(
                    "redirected to {}, another host than {}; not followed, so that neither the credentials nor another host's data pass for this source's (set the source's URL to the new address if the API moved)",
                    secrets.redact(&to),
                    redact_url(&self.config.base_url)
                ),
                String::new(),
            ));
        }
        let limit = self.config.max_response_bytes;
        let body = match read_body(response, limit).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                self.stats.add_bytes(limit);
                return Attempt::Fail(error(
                    HttpErrorKind::TooLarge,
                    Some(status.as_u16()),
                    format!(
                        "the response body is larger than {limit} bytes (max_response_bytes of source {}); not read further. Raise `max_response_bytes` in the source's config if the API's answers are this large",
                        self.config.source_id
                    ),
                    String::new(),
                ));
            }
            Err(BodyError::Read(e)) => {
                return Attempt::Retry(
                    error(
                        HttpErrorKind::Network,
                        Some(status.as_u16()),
                        format!(
                            "reading the body failed: {}",
                            source_chain(&e.without_url())
                        ),
                        String::new(),
                    ),
                    None,
                )
            }
        };
        self.stats.add_bytes(body.len() as u64);
        let code = status.as_u16();
        let reason = status.canonical_reason().unwrap_or("").to_string();
        let excerpt = |body: &[u8]| excerpt(body, secrets);
        let fail = |kind| error(kind, Some(code), reason.clone(), excerpt(&body));
        if status.is_success() {
            return match serde_json::from_slice::<T>(&body) {
                Ok(value) => {
                    match check(&value, &headers) {
                        BodyVerdict::Accept => {}
                        BodyVerdict::Wait(wait) => {
                            let wait = retry_after(&headers).unwrap_or(wait);
                            return Attempt::Wait(fail(HttpErrorKind::RateLimited), wait);
                        }
                        BodyVerdict::Retry(message) => {
                            return Attempt::Retry(
                                error(HttpErrorKind::Server, Some(code), message, excerpt(&body)),
                                None,
                            )
                        }
                        BodyVerdict::Fail(kind, message) => {
                            return Attempt::Fail(error(kind, Some(code), message, excerpt(&body)))
                        }
                    }
                    let next = headers
                        .get(reqwest::header::LINK)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|h| crate::link::next(h, url));
                    let etag = headers
                        .get(reqwest::header::ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    Attempt::Done(Fetched::Page(Box::new(Page {
                        value,
                        url: url.clone(),
                        etag,
                        next,
                        headers,
                    })))
                }
                Err(e) => Attempt::Retry(
                    error(
                        HttpErrorKind::Decode,
                        Some(code),
                        format!("the body is not the JSON expected: {e}"),
                        excerpt(&body),
                    ),
                    None,
                ),
            };
        }
        let retry_after = retry_after(&headers);
        if (post.is_some() || self.config.judge_client_errors) && status.is_client_error() {
            if let Ok(value) = serde_json::from_slice::<T>(&body) {
                match check(&value, &headers) {
                    BodyVerdict::Accept => {}
                    BodyVerdict::Wait(wait) => {
                        let wait = retry_after.unwrap_or(wait);
                        return Attempt::Wait(fail(HttpErrorKind::RateLimited), wait);
                    }
                    BodyVerdict::Retry(message) => {
                        return Attempt::Retry(
                            error(HttpErrorKind::Server, Some(code), message, excerpt(&body)),
                            None,
                        )
                    }
                    BodyVerdict::Fail(kind, message) => {
                        return Attempt::Fail(error(kind, Some(code), message, excerpt(&body)))
                    }
                }
            }
        }
        let rate_limit_reset = self.spent_reset(&headers);
        match code {
            // Unavailable: retried (it counts against the retries), after `Retry-After` if said.
            503 => Attempt::Retry(fail(HttpErrorKind::Server), retry_after),
            429 | 403 => {
                let limited = code == 429
                    || retry_after.is_some()
                    || rate_limit_reset.is_some()
                    || String::from_utf8_lossy(&body)
                        .to_ascii_lowercase()
                        .contains("rate limit");
                if limited {
                    // The server's own word on when to come back, else the limit's reset, else
                    // a minute (GitHub's advice for secondary limits without a header).
                    let wait = retry_after
                        .or(rate_limit_reset)
                        .unwrap_or(Duration::from_secs(60));
                    return Attempt::Wait(fail(HttpErrorKind::RateLimited), wait);
                }
                Attempt::Fail(fail(HttpErrorKind::Forbidden))
            }
            401 => Attempt::Fail(fail(HttpErrorKind::Unauthorized)),
            404 => Attempt::Fail(fail(HttpErrorKind::NotFound)),
            408 => Attempt::Retry(fail(HttpErrorKind::Network), None),
            500..=599 => Attempt::Retry(fail(HttpErrorKind::Server), retry_after),
            _ => Attempt::Fail(fail(HttpErrorKind::Client)),
        }
    }

    /// Remembers a spent rate limit so the next request waits for its reset.
    fn note_rate_limit(&self, headers: &HeaderMap) {
        if let Some(wait) = self.spent_reset(headers) {
            let mut until = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
            *until = Some(Instant::now() + wait);
        }
    }

    /// How long until the rate limit resets, when the headers say it is spent.
    fn spent_reset(&self, headers: &HeaderMap) -> Option<Duration> {
        let names = self.config.rate_limit?;
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let remaining: u64 = header(names.remaining)?.trim().parse().ok()?;
        if remaining > 0 {
            return None;
        }
        let reset = header(names.reset)?.trim();
        // Epoch seconds (GitHub), or a time stamp (Jira Cloud's `2024-05-01T10:00:00Z`).
        let reset: u64 = reset.parse().ok().or_else(|| {
            let at = chrono::DateTime::parse_from_rfc3339(reset).ok()?;
            u64::try_from(at.timestamp()).ok()
        })?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        // One second of slack: the reset is a whole second, and clocks differ.
        Some(Duration::from_secs(reset).saturating_sub(now) + Duration::from_secs(1))
    }
}

/// Why a body was not read whole.
pub(crate) enum BodyError {
    /// Longer than the bound.
    TooLarge,
    /// The connection failed while reading.
    Read(reqwest::Error),
}

/// Reads `response`'s body chunk by chunk, failing as soon as it passes `limit` bytes (or at
/// once when its `Content-Length` says it will), so that no more than `limit` bytes and one
/// chunk are ever held.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    // What the server announced, but never more than the bound ahead of the bytes.
    let expected = response.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Redirects within the configured API's origin are followed (up to 10, reqwest's default); one
/// to another scheme, host or port is not: the response is the redirect itself, which
/// [`ApiClient::attempt`] turns into an error. Following it would store another host's data
/// as this source's and, for a header reqwest does not know as sensitive (CircleCI's
/// `Circle-Token`), send it the credentials.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else if first.is_some_and(|first| !same_origin(attempt.url(), &first)) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Whether `url` is on the same scheme, host and port as `base`.
fn same_origin(url: &Url, base: &Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = at.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// The delay before retry `n` (1-based): doubling from the initial delay, capped, and jittered
/// down to half so clients failing together spread out.
fn backoff(policy: &RetryPolicy, n: u32) -> Duration {
    let exp = policy
        .initial_delay
        .saturating_mul(1u32 << (n.saturating_sub(1)).min(20));
    let full = exp.min(policy.max_delay);
    full / 2 + full.mul_f64(fastrand::f64() / 2.0)
}

/// An error and its causes, on one line (reqwest's own message is terse).
/// What went wrong with a request that got no answer, without its URL (reqwest's message
/// repeats it, credentials and all).
pub(crate) fn describe_request_error(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{what}: {}", source_chain(&e.without_url()))
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
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
