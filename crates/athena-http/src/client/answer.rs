//! What a request gives back: a decoded page, a 304, and a source's verdict on a body.

use std::time::Duration;

use reqwest::header::HeaderMap;
use url::Url;

use crate::error::HttpErrorKind;

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

impl BodyVerdict {
    /// Every body is a good answer: the check of APIs that say their errors by status only.
    pub fn accept<T>(_: &T, _: &HeaderMap) -> BodyVerdict {
        BodyVerdict::Accept
    }
}
