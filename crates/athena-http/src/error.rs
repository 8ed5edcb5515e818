//! What went wrong with a request, said so a person can act on it.

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
    /// Connection or timeout, still failing after the retries.
    Network,
    /// A 2xx whose body is not the JSON expected, still after the retries.
    Decode,
    /// The request could not be built (a bad URL, a bad header value).
    Request,
    /// The API answered with an error of its own in the body (Slack's `"ok": false`).
    Api,
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

/// The first [`BODY_EXCERPT`] bytes of `body`, as text, on one line.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_EXCERPT)];
    let text = String::from_utf8_lossy(cut);
    let mut s: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > BODY_EXCERPT {
        s.push('…');
    }
    s.trim().to_string()
}
