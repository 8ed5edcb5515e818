//! The wire: a body read with a bound, redirects kept to the API's origin, and a failed
//! request described without its URL.

use url::Url;

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
pub(super) fn same_origin_redirects() -> reqwest::redirect::Policy {
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
pub(super) fn same_origin(url: &Url, base: &Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

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

/// An error and its causes, on one line (reqwest's own message is terse).
pub(super) fn source_chain(e: &dyn std::error::Error) -> String {
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
