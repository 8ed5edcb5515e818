//! What went wrong with a request, said so a person can act on it. The causes stay typed
//! (kind, status, the wait the server asked for) until a source turns the error into its own.

use std::time::Duration;

use athena_core::{Redactor, SourceError};
use url::Url;

use crate::redact_url;

/// The kind of failure, for sources that react differently (a 401 is a token problem).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// 401: the credentials were refused.
    Unauthorized,
    /// 403 that is not a rate limit: the credentials lack a permission.
    Forbidden,
    /// 404.
    NotFound,
    /// The rate limit is spent and resets later than the source may wait.
    RateLimited,
    /// Another 4xx.
    Client,
    /// 5xx, still failing after the retries.
    Server,
    /// A timeout or a connection broken mid-answer, still failing after the retries.
    Network,
    /// No connection at all: the host's name did not resolve, or it refused (or never
    /// answered) the connection; still so after a couple of quick retries. Once a request
    /// ends so, the client sends nothing more to the API in this run
    /// ([`ApiClient::forget_unreachable`](crate::ApiClient::forget_unreachable)).
    Unreachable,
    /// A 2xx whose body is not the JSON expected, still after the retries.
    Decode,
    /// The request could not be built (a bad URL, a bad header value).
    Request,
    /// The API answered with an error of its own in the body (Slack's `"ok": false`).
    Api,
    /// The response body was larger than the client reads (`max_response_bytes`).
    TooLarge,
}

/// A failed request: method, URL without credentials, status, and the start of the body.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {url}: {}{message}{}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default(), body_suffix(body))]
pub struct HttpError {
    /// What kind of failure.
    pub kind: HttpErrorKind,
    /// `GET`, …
    pub method: &'static str,
    /// The URL, credentials removed.
    pub url: String,
    /// The last HTTP status, if a response came.
    pub status: Option<u16>,
    /// What happened, in words.
    pub message: String,
    /// The first bytes of the response body, if any.
    pub body: String,
    /// How long the server asked to wait before trying again (`Retry-After`, a rate limit's
    /// reset), when it said: set on a spent rate limit that resets later than the source may
    /// wait.
    pub retry_after: Option<Duration>,
}

impl HttpError {
    /// An error of `kind` about `url` (already without credentials), with no body and no wait.
    pub fn new(
        kind: HttpErrorKind,
        method: &'static str,
        url: impl Into<String>,
        status: Option<u16>,
        message: impl Into<String>,
    ) -> Self {
        HttpError {
            kind,
            method,
            url: url.into(),
            status,
            message: message.into(),
            body: String::new(),
            retry_after: None,
        }
    }

    /// An error of `kind` about an answer (status 200) from `url` that is not what was asked
    /// for: a missing list, a paging loop. The URL is shown without credentials.
    pub fn answer(
        kind: HttpErrorKind,
        method: &'static str,
        url: &Url,
        message: impl Into<String>,
    ) -> Self {
        HttpError::new(kind, method, redact_url(url), Some(200), message)
    }

    /// This failure as source `source_id`'s error, typed by its kind: refused credentials are
    /// [`SourceError::Unauthorized`], a spent rate limit [`SourceError::RateLimited`], the rest
    /// [`SourceError::Http`] with the status. `message` is what the user reads (this error's
    /// text, or the source's words around it).
    pub fn source_error(&self, source_id: &str, message: String) -> SourceError {
        let source_id = source_id.to_string();
        match self.kind {
            HttpErrorKind::Unauthorized | HttpErrorKind::Forbidden => {
                SourceError::Unauthorized { source_id, message }
            }
            HttpErrorKind::RateLimited => SourceError::RateLimited {
                source_id,
                retry_after: self.retry_after,
                message,
            },
            _ => SourceError::Http {
                source_id,
                status: self.status,
                message,
            },
        }
    }
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(" (body: {body})")
    }
}

/// Response text kept in an error.
pub(crate) const BODY_EXCERPT: usize = 200;

/// How much of the body past [`BODY_EXCERPT`] is read for masking: a secret that starts inside
/// the excerpt and ends past it must be seen whole, or its first bytes would be shown.
const SECRET_MARGIN: usize = 4096;

/// The first [`BODY_EXCERPT`] bytes of `body`, as text, on one line, with `secrets` masked
/// before the cut (some servers echo the request's token in an error body).
pub(crate) fn excerpt(body: &[u8], secrets: &Redactor) -> String {
    let window = &body[..body.len().min(BODY_EXCERPT + SECRET_MARGIN)];
    let text = String::from_utf8_lossy(window);
    let text = secrets.redact(&text);
    let mut cut = text.len().min(BODY_EXCERPT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut s: String = text[..cut]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cut < text.len() || window.len() < body.len() {
        s.push('…');
    }
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_straddling_the_excerpts_end_is_masked_not_cut() {
        let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
        let mut secrets = Redactor::new();
        secrets.add(token);
        // The token starts 10 bytes before the cut.
        let body = format!("{}{token} tail", "x".repeat(BODY_EXCERPT - 10));
        let shown = excerpt(body.as_bytes(), &secrets);
        assert!(!shown.contains("ghp_"), "{shown}");
        assert!(shown.ends_with("*** tail"), "{shown}");
        assert_eq!(excerpt(b"short\nbody", &Redactor::new()), "short body");
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;
    use athena_core::ErrorKind;

    fn error(kind: HttpErrorKind, status: Option<u16>) -> HttpError {
        HttpError::new(kind, "GET", "http://x/", status, "m")
    }

    #[test]
    fn http_failures_become_typed_source_errors() {
        let kind = |k, s| error(k, s).source_error("s", "m".into()).kind();
        assert_eq!(
            kind(HttpErrorKind::Unauthorized, Some(401)),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            kind(HttpErrorKind::Forbidden, Some(403)),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            kind(HttpErrorKind::RateLimited, Some(429)),
            ErrorKind::RateLimited
        );
        assert_eq!(kind(HttpErrorKind::Server, Some(503)), ErrorKind::Http);
        assert_eq!(kind(HttpErrorKind::Network, None), ErrorKind::Http);
        let mut limited = error(HttpErrorKind::RateLimited, Some(429));
        limited.retry_after = Some(std::time::Duration::from_secs(3600));
        let e = limited.source_error("s", "m".into());
        assert!(
            matches!(e, SourceError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 3600),
            "{e:?}"
        );
        let e = error(HttpErrorKind::NotFound, Some(404)).source_error("s", "gone".into());
        assert!(
            matches!(
                e,
                SourceError::Http {
                    status: Some(404),
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
