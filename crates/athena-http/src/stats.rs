//! Counters one source's client keeps; read at any time, from any thread.

use std::sync::atomic::{AtomicU64, Ordering};

/// What an [`ApiClient`](crate::ApiClient) did.
#[derive(Debug, Default)]
pub struct HttpStats {
    requests: AtomicU64,
    retries: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
    rate_limit_waits: AtomicU64,
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
}
