//! [`Failure`]: why an API source's reading stopped, the same for every API source.

use athena_core::kit::Stopped;
use athena_core::SourceError;
use athena_http::HttpError;

/// Why an API source's reading stopped before its end.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The consumer went away: not a failure, the reading ends quietly.
    Stopped,
    /// A request failed; the source's [`Hints`](super::Hints) say it in its user's words.
    Http(HttpError),
    /// The source failed in words of its own (a cursor it cannot read, a query refused).
    Source(SourceError),
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        Failure::Http(e)
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        Failure::Source(e)
    }
}

impl From<Stopped> for Failure {
    fn from(_: Stopped) -> Self {
        Failure::Stopped
    }
}
