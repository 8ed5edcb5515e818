//! One attempt of a request: sent with its token, the answer judged by its status and, where
//! a source asks, by its body: done, retried, waited for, or failed.

use std::time::Duration;

use athena_core::{HttpStatus, Redactor, Secret};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use super::rate_limit::retry_after;
use super::transport::{describe_request_error, read_body, same_origin, source_chain, BodyError};
use super::{ApiClient, BodyVerdict, Fetched, Page};
use crate::error::{excerpt, HttpError, HttpErrorKind};
use crate::redact::redact_url;

/// The outcome of one attempt, before the retry decision.
pub(super) enum Attempt<T> {
    Done(Fetched<T>),
    /// Try again after the backoff; the error is what to report if no retry is left.
    Retry(HttpError, Option<Duration>),
    /// A rate limit: try again after this wait (not a retry: it does not use the retry budget).
    Wait(HttpError, Duration),
    Fail(HttpError),
}

/// One request to send: where, how, and with what.
pub(super) struct Request<'a> {
    pub url: &'a Url,
    pub etag: Option<&'a str>,
    pub post: Option<&'a [u8]>,
    pub token: Option<&'a Secret>,
}

impl Request<'_> {
    fn method(&self) -> &'static str {
        if self.post.is_some() {
            "POST"
        } else {
            "GET"
        }
    }
}

/// Every error of an attempt is built here, so the credentials (the static ones and this
/// attempt's access token) are masked once for all, in the URL, the message and the body.
struct Errors {
    method: &'static str,
    url: String,
    secrets: Redactor,
}

impl Errors {
    fn new(client: &ApiClient, request: &Request<'_>) -> Self {
        let mut secrets = client.secrets.clone();
        if let Some(token) = request.token {
            secrets.add(token.expose());
        }
        // A source may have put its credentials in the URL under a name `redact_url` does not
        // know.
        let url = secrets.redact(&redact_url(request.url)).into_owned();
        Errors {
            method: request.method(),
            url,
            secrets,
        }
    }

    fn error(
        &self,
        kind: HttpErrorKind,
        status: Option<u16>,
        message: &str,
        body: &[u8],
    ) -> HttpError {
        HttpError {
            kind,
            method: self.method,
            url: self.url.clone(),
            status,
            message: self.secrets.redact(message).into_owned(),
            body: if body.is_empty() {
                String::new()
            } else {
                excerpt(body, &self.secrets)
            },
            retry_after: None,
        }
    }
}

/// A response read whole: its status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl ApiClient {
    /// Sends `request` once and judges the answer.
    pub(super) async fn attempt<T: DeserializeOwned>(
        &self,
        request: &Request<'_>,
        check: &(dyn Fn(&T, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Attempt<T> {
        let errors = Errors::new(self, request);
        let answer = match self.exchange(request, &errors).await {
            Ok(answer) => answer,
            Err(done) => return done,
        };
        if answer.status.is_success() {
            return self.judge_success(request.url, answer, &errors, check);
        }
        let judge_body = request.post.is_some() || self.config.judge_client_errors;
        if judge_body && answer.status.is_client_error() {
            if let Ok(value) = serde_json::from_slice::<T>(&answer.body) {
                if let Some(verdict) = judged(check(&value, &answer.headers), &answer, &errors) {
                    return verdict;
                }
            }
        }
        self.judge_status(&answer, &errors)
    }

    /// The request sent and its answer read (within `max_response_bytes`); what ends the
    /// attempt before any judging (no answer, a 304, a redirect elsewhere, a body too large)
    /// comes back as `Err`.
    async fn exchange<T>(
        &self,
        request: &Request<'_>,
        errors: &Errors,
    ) -> Result<Answer, Attempt<T>> {
        let builder = self.build(request, errors).map_err(Attempt::Fail)?;
        self.stats.add_requests(1);
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                self.stats.add_response(HttpStatus::Error);
                // No connection at all (a name that does not resolve, a refused or unanswered
                // connect) is told apart from one that broke: it gets fewer retries.
                let kind = if e.is_connect() {
                    HttpErrorKind::Unreachable
                } else {
                    HttpErrorKind::Network
                };
                let message = describe_request_error(e);
                let error = errors.error(kind, None, &message, b"");
                return Err(Attempt::Retry(error, None));
            }
        };
        let status = response.status();
        self.stats.add_response(HttpStatus::Code(status.as_u16()));
        let headers = response.headers().clone();
        self.note_rate_limit(&headers);
        if status == StatusCode::NOT_MODIFIED {
            self.stats.add_not_modified(1);
            return Err(Attempt::Done(Fetched::NotModified));
        }
        if let Some(to) = redirected_elsewhere(status, &headers, request.url) {
            let message = format!(
                "redirected to {}, another host than {}; not followed, so that neither the credentials nor another host's data pass for this source's (set the source's URL to the new address if the API moved)",
                redact_url(&to),
                redact_url(&self.config.base_url)
            );
            let code = Some(status.as_u16());
            return Err(Attempt::Fail(errors.error(
                HttpErrorKind::Client,
                code,
                &message,
                b"",
            )));
        }
        let limit = self.config.max_response_bytes;
        let body = match read_body(response, limit).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                self.stats.add_bytes(limit);
                let message = format!(
                    "the response body is larger than {limit} bytes (max_response_bytes of source {}); not read further. Raise `max_response_bytes` in the source's config if the API's answers are this large",
                    self.config.source_id
                );
                let code = Some(status.as_u16());
                return Err(Attempt::Fail(errors.error(
                    HttpErrorKind::TooLarge,
                    code,
                    &message,
                    b"",
                )));
            }
            Err(BodyError::Read(e)) => {
                let message = format!(
                    "reading the body failed: {}",
                    source_chain(&e.without_url())
                );
                let code = Some(status.as_u16());
                return Err(Attempt::Retry(
                    errors.error(HttpErrorKind::Network, code, &message, b""),
                    None,
                ));
            }
        };
        self.stats.add_bytes(body.len() as u64);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The request, with its ETag and this attempt's access token.
    fn build(
        &self,
        request: &Request<'_>,
        errors: &Errors,
    ) -> Result<reqwest::RequestBuilder, HttpError> {
        let url = request.url.clone();
        let mut builder = match request.post {
            Some(body) => (self.http.post(url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec()),
            None => self.http.get(url),
        };
        if let Some(tag) = request.etag {
            builder = builder.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        if let Some(token) = request.token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    let message = "the access token holds characters a header cannot carry";
                    errors.error(HttpErrorKind::Request, None, message, b"")
                })?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        Ok(builder)
    }

    /// A 2xx: decoded as `T` and judged by the source, then a page with its next link and
    /// ETag. A body that is not the JSON expected is retried (a proxy's page, a cut answer).
    fn judge_success<T: DeserializeOwned>(
        &self,
        url: &Url,
        answer: Answer,
        errors: &Errors,
        check: &(dyn Fn(&T, &HeaderMap) -> BodyVerdict + Sync),
    ) -> Attempt<T> {
        let value = match serde_json::from_slice::<T>(&answer.body) {
            Ok(value) => value,
            Err(e) => {
                let message = format!("the body is not the JSON expected: {e}");
                let code = Some(answer.status.as_u16());
                let error = errors.error(HttpErrorKind::Decode, code, &message, &answer.body);
                return Attempt::Retry(error, None);
            }
        };
        if let Some(verdict) = judged(check(&value, &answer.headers), &answer, errors) {
            return verdict;
        }
        let header = |name| answer.headers.get(name).and_then(|v| v.to_str().ok());
        let next = header(reqwest::header::LINK).and_then(|h| crate::link::next(h, url));
        let etag = header(reqwest::header::ETAG).map(str::to_string);
        Attempt::Done(Fetched::Page(Box::new(Page {
            value,
            url: url.clone(),
            etag,
            next,
            headers: answer.headers,
        })))
    }

    /// Anything but a 2xx, by its status: 429 (and a 403 that says it is a rate limit) waits;
    /// 408, 503 and other 5xx are retried; 401, 403, 404 and other 4xx fail.
    fn judge_status<T>(&self, answer: &Answer, errors: &Errors) -> Attempt<T> {
        let code = answer.status.as_u16();
        let reason = answer.status.canonical_reason().unwrap_or("");
        let fail = |kind| errors.error(kind, Some(code), reason, &answer.body);
        let retry_after = retry_after(&answer.headers);
        match code {
            // Unavailable: retried (it counts against the retries), after `Retry-After` if said.
            503 => Attempt::Retry(fail(HttpErrorKind::Server), retry_after),
            429 | 403 => {
                let rate_limit_reset = self.spent_reset(&answer.headers);
                let limited = code == 429
                    || retry_after.is_some()
                    || rate_limit_reset.is_some()
                    || String::from_utf8_lossy(&answer.body)
                        .to_ascii_lowercase()
                        .contains("rate limit");
                if !limited {
                    return Attempt::Fail(fail(HttpErrorKind::Forbidden));
                }
                // The server's own word on when to come back, else the limit's reset, else a
                // minute (GitHub's advice for secondary limits without a header).
                let wait = (retry_after.or(rate_limit_reset)).unwrap_or(Duration::from_secs(60));
                Attempt::Wait(fail(HttpErrorKind::RateLimited), wait)
            }
            401 => Attempt::Fail(fail(HttpErrorKind::Unauthorized)),
            404 => Attempt::Fail(fail(HttpErrorKind::NotFound)),
            408 => Attempt::Retry(fail(HttpErrorKind::Network), None),
            500..=599 => Attempt::Retry(fail(HttpErrorKind::Server), retry_after),
            _ => Attempt::Fail(fail(HttpErrorKind::Client)),
        }
    }
}

/// A source's verdict on a decoded body as an attempt's end, or `None` to go on (accepted).
/// A wait the body asks for gives way to the response's own `Retry-After`.
fn judged<T>(verdict: BodyVerdict, answer: &Answer, errors: &Errors) -> Option<Attempt<T>> {
    let code = Some(answer.status.as_u16());
    let body = &answer.body;
    Some(match verdict {
        BodyVerdict::Accept => return None,
        BodyVerdict::Wait(wait) => {
            let wait = retry_after(&answer.headers).unwrap_or(wait);
            let reason = answer.status.canonical_reason().unwrap_or("");
            Attempt::Wait(
                errors.error(HttpErrorKind::RateLimited, code, reason, body),
                wait,
            )
        }
        BodyVerdict::Retry(message) => Attempt::Retry(
            errors.error(HttpErrorKind::Server, code, &message, body),
            None,
        ),
        BodyVerdict::Fail(kind, message) => Attempt::Fail(errors.error(kind, code, &message, body)),
    })
}

/// Where a redirect to another origin than `url`'s points (see `same_origin_redirects`).
fn redirected_elsewhere(status: StatusCode, headers: &HeaderMap, url: &Url) -> Option<Url> {
    if !status.is_redirection() {
        return None;
    }
    let location = headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
    url.join(location).ok().filter(|to| !same_origin(to, url))
}
