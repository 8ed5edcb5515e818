//! Counters one source's client keeps; read at any time, from any thread.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use athena_core::HttpStatus;

/// What an [`ApiClient`](crate::ApiClient) did.
#[derive(Debug, Default)]
pub struct HttpStats {
    requests: AtomicU64,
    retries: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
    rate_limit_waits: AtomicU64,
    /// A handful of entries (the codes one API answers with); locked once per request.
    responses: Mutex<BTreeMap<HttpStatus, u64>>,
}

macro_rules! counter {
    ($get:ident, $add:ident, $doc:literal) => {
        #[doc = $doc]
        pub fn $get(&self) -> u64 {
            self.$get.load(Ordering::Relaxed)
        }

        pub(crate) fn $add(&self, n: u64) {
            self.$get.fetch_add(n, Ordering::Relaxed);
        }
    };
}

impl HttpStats {
    counter!(
        requests,
        add_requests,
        "Requests sent (each retry is one more)."
    );
    counter!(retries, add_retries, "Requests sent again after a failure.");
    counter!(
        not_modified,
        add_not_modified,
        "Answers `304 Not Modified`."
    );
    counter!(bytes, add_bytes, "Response body bytes received.");
    counter!(
        rate_limit_waits,
        add_rate_limit_waits,
        "Times the client waited for a rate limit to reset or a `Retry-After`."
    );

    /// Requests by how they were answered: each attempt once, retried and waited-for ones
    /// included, so they add up to [`requests`](HttpStats::requests).
    pub fn responses(&self) -> BTreeMap<HttpStatus, u64> {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn add_response(&self, status: HttpStatus) {
        *self
            .responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status)
            .or_insert(0) += 1;
    }
}
