//! The retry loop around one request: backoff on passing failures, waits on rate limits (the
//! server's word on when, within `max_wait`), one new access token on a 401, and the
//! requests-per-second cap.

use std::time::{Duration, Instant};

use athena_core::Secret;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use url::Url;

use super::attempt::{Attempt, Request};
use super::settings::RetryPolicy;
use super::transport::same_origin;
use super::{ApiClient, BodyVerdict, Fetched};
use crate::error::{HttpError, HttpErrorKind};
use crate::oauth::TokenSource;
use crate::redact::redact_url;
use crate::wait::{WaitNotice, WaitReason};

/// Rate-limit waits for one request before it fails, whatever their length.
const MAX_WAITS: u32 = 30;

impl ApiClient {
    pub(super) async fn send<T: DeserializeOwned>(
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
                retry_after: None,
            });
        }
        if let Some(e) = self.unreachable_error(method, url) {
            return Err(e);
        }
        // A refused token is replaced once per request: a second refusal is the credentials'.
        let mut token_refreshed = false;
        loop {
            self.wait_for_budget(url, &mut waited).await?;
            let token = match &self.config.token_source {
                Some(source) => Some(self.access_token(source.as_ref()).await?),
                None => None,
            };
            let request = Request {
                url,
                etag,
                post,
                token: token.as_ref(),
            };
            let attempt = self.attempt::<T>(&request, check).await;
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
                            retry_after: Some(wait),
                            ..e
                        });
                    }
                    self.stats.add_rate_limit_waits(1);
                    let detail = format!(" ({})", redact_url(url));
                    self.sleep(wait, WaitReason::RateLimit, &detail).await;
                    waited += wait;
                }
                Attempt::Retry(e, after) => {
                    let policy = &self.config.retry;
                    let of = retries_for(policy, e.kind);
                    let delay = after.unwrap_or_else(|| retry_delay(policy, e.kind, retries + 1));
                    if retries >= of || started.elapsed() + delay > policy.max_elapsed + waited {
                        if e.kind == HttpErrorKind::Unreachable {
                            self.mark_unreachable(&e);
                        }
                        return Err(HttpError {
                            message: format!("{} (gave up after {} retries)", e.message, retries),
                            retry_after: after.or(e.retry_after),
                            ..e
                        });
                    }
                    retries += 1;
                    self.stats.add_retries(1);
                    let attempt = retries;
                    self.sleep(delay, WaitReason::Retry { attempt, of }, &e.to_string())
                        .await;
                }
            }
        }
    }

    /// Sleeps `wait`, said before and after as [`WaitNotice`]s (`detail`: what is waited out).
    async fn sleep(&self, wait: Duration, why: WaitReason, detail: &str) {
        let source_id = self.config.source_id.clone();
        WaitNotice::Waiting {
            source_id: source_id.clone(),
            api: self.api_name(),
            wait,
            why,
        }
        .emit(detail);
        tokio::time::sleep(wait).await;
        WaitNotice::Over { source_id }.emit("");
    }

    /// A token from `source`; a token endpoint that fails for a moment (5xx, 429, no answer)
    /// is asked again under the request's retry policy (one that cannot be reached, twice
    /// quickly, and then the run sends nothing more).
    async fn access_token(&self, source: &dyn TokenSource) -> Result<Secret, HttpError> {
        let mut tries = 0;
        loop {
            match source.access_token().await {
                Ok(token) => return Ok(token),
                Err(e)
                    if matches!(
                        e.kind,
                        HttpErrorKind::Network
                            | HttpErrorKind::Unreachable
                            | HttpErrorKind::Server
                            | HttpErrorKind::RateLimited
                    ) && tries < retries_for(&self.config.retry, e.kind) =>
                {
                    tries += 1;
                    self.stats.add_retries(1);
                    let delay = retry_delay(&self.config.retry, e.kind, tries);
                    tracing::debug!(source = %self.config.source_id, "retry {tries} of the token in {} ms: {e}", delay.as_millis());
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    if e.kind == HttpErrorKind::Unreachable {
                        self.mark_unreachable(&e);
                    }
                    return Err(e);
                }
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
            retry_after: Some(wait),
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
                    retry_after: None,
                };
                if *waited + wait > self.config.max_wait {
                    return Err(self.spent(e, wait));
                }
                self.stats.add_rate_limit_waits(1);
                let detail = " for the spent rate limit to reset";
                self.sleep(wait, WaitReason::RateLimit, detail).await;
                *waited += wait;
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        Ok(())
    }
}

/// The retries a failure of `kind` gets at most: the policy's, and for a host that cannot be
/// reached at all no more than [`RetryPolicy::CONNECT_RETRIES`].
pub(crate) fn retries_for(policy: &RetryPolicy, kind: HttpErrorKind) -> u32 {
    match kind {
        HttpErrorKind::Unreachable => policy.max_retries.min(RetryPolicy::CONNECT_RETRIES),
        _ => policy.max_retries,
    }
}

/// The delay before retry `n` (1-based) of a failure of `kind`: the [`backoff`], kept within
/// [`RetryPolicy::CONNECT_MAX_DELAY`] for a host that cannot be reached.
pub(crate) fn retry_delay(policy: &RetryPolicy, kind: HttpErrorKind, n: u32) -> Duration {
    match kind {
        HttpErrorKind::Unreachable => backoff(
            &RetryPolicy {
                max_delay: policy.max_delay.min(RetryPolicy::CONNECT_MAX_DELAY),
                ..*policy
            },
            n,
        ),
        _ => backoff(policy, n),
    }
}

/// The delay before retry `n` (1-based): doubling from the initial delay, capped, and jittered
/// down to half so clients failing together spread out.
pub(super) fn backoff(policy: &RetryPolicy, n: u32) -> Duration {
    let exp = policy
        .initial_delay
        .saturating_mul(1u32 << (n.saturating_sub(1)).min(20));
    let full = exp.min(policy.max_delay);
    full / 2 + full.mul_f64(fastrand::f64() / 2.0)
}
