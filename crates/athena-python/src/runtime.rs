//! The one tokio runtime the package runs Rust sources and syncs on, and a count of the
//! source streams running on it (so a test can see that leaving a loop stopped its source).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The runtime: two workers, started on first use, for the life of the process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("athena-ingest")
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

static STREAMS: AtomicUsize = AtomicUsize::new(0);

/// Held while a source's stream runs; counted by [`running_streams`].
pub struct StreamGuard(());

impl StreamGuard {
    pub fn new() -> Self {
        STREAMS.fetch_add(1, Ordering::SeqCst);
        StreamGuard(())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        STREAMS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Source streams running now, Rust sources' and Python sources' alike.
pub fn running_streams() -> usize {
    STREAMS.load(Ordering::SeqCst)
}
