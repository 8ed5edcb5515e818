//! Whether the API could be reached in this run: once a request found no connection at all
//! (after its quick retries), the client sends nothing more until told that a new run begins,
//! so a source with many lists fails in seconds instead of retrying each list in turn.

use std::sync::atomic::Ordering;

use url::Url;

use super::ApiClient;
use crate::error::{HttpError, HttpErrorKind};
use crate::redact::redact_url;

impl ApiClient {
    /// A new run (a sync, a check): the API is tried again even if it could not be reached
    /// before. The sources' driver calls this at the start of each.
    pub fn forget_unreachable(&self) {
        self.unreachable.store(false, Ordering::SeqCst);
    }

    /// Whether a request of this run found the API unreachable.
    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::SeqCst)
    }

    /// Remembers that `e` (an [`HttpErrorKind::Unreachable`] out of retries) ended a request.
    pub(super) fn mark_unreachable(&self, e: &HttpError) {
        tracing::debug!(source = %self.config.source_id, "{} cannot be reached; nothing more is sent to it in this run: {e}", self.api_name());
        self.unreachable.store(true, Ordering::SeqCst);
    }

    /// The error of a request not sent because the API could not be reached earlier in this
    /// run; `None` while it could.
    pub(super) fn unreachable_error(&self, method: &'static str, url: &Url) -> Option<HttpError> {
        self.is_unreachable().then(|| {
            let message = format!(
                "not sent: {} could not be reached earlier in this run",
                self.api_name()
            );
            HttpError::new(
                HttpErrorKind::Unreachable,
                method,
                redact_url(url),
                None,
                message,
            )
        })
    }

    /// The API as people name it in a message: its host, and its port when not the scheme's.
    pub(crate) fn api_name(&self) -> String {
        let base = &self.config.base_url;
        let host = base.host_str().unwrap_or("the API");
        match base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}
