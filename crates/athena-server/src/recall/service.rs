//! The one way HTTP and MCP read the store: every recall query runs on a bounded set of
//! blocking threads, one per store connection, behind a short queue, within a time budget.
//!
//! What this guarantees, whatever the clients do:
//! - at most [`Limits::connections`] queries run at once, so threads and the memory of
//!   answers being built stay bounded however many clients connect;
//! - at most [`Limits::queue`] requests wait for a connection, the cheapest first, and none
//!   longer than [`Limits::wait`]: the rest are turned away at once ([`Refused::Busy`], a 503
//!   with `Retry-After`) rather than queued without bound (see [`super::gate`]);
//! - big pages and costly queries never take every connection, so small questions are
//!   answered under any flood of them;
//! - a query stops when its [`QueryBudget`] is spent: past [`Limits::time`] from its arrival
//!   (its wait included), when its caller goes away (the request's future is dropped), or
//!   when the server stops.

use std::sync::Arc;
use std::time::Duration;

use athena_core::recall::{QueryBudget, Recall, Spent};
use athena_core::{CancelToken, Registry, StoreError};

use super::gate::{Cost, Gate};

/// The bounds of [`RecallService`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Queries running at once: one per store connection.
    pub connections: usize,
    /// Requests waiting for a connection, at most.
    pub queue: usize,
    /// How long a request may wait for a connection before it is turned away.
    pub wait: Duration,
    /// How long a query may take from its arrival, its wait included.
    pub time: Duration,
}

impl Default for Limits {
    /// Four connections (a page of 50 takes a few ms, so four keep two cores busy); a queue
    /// of 64, served cheapest first, none waiting over half a second; 2 s is ten times what
    /// the slowest full-text page of the recall benchmark takes on a million events.
    fn default() -> Self {
        Limits {
            connections: 4,
            queue: 64,
            wait: Duration::from_millis(500),
            time: Duration::from_secs(2),
        }
    }
}

/// Why a query gave no answer.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Every connection is taken and the queue is full, or the wait was too long.
    Busy {
        /// When to try again.
        retry_after: Duration,
    },
    /// The query was stopped: out of time, or cancelled.
    Spent(Spent),
    /// The store refused or failed.
    Store(StoreError),
    /// The query panicked (a bug; logged).
    Panicked,
}

/// Recall behind the bounds above; cheap to clone (shared).
#[derive(Clone)]
pub struct RecallService {
    inner: Arc<Inner>,
}

struct Inner {
    recall: Arc<dyn Recall>,
    /// The source types, for what names an episode in the Athena shape.
    registry: Arc<Registry>,
    limits: Limits,
    gate: Arc<Gate>,
    /// Cancelled when the server stops: every query's budget is a child of it.
    stop: CancelToken,
    /// The sources' configured priorities, when the server runs them (`serve`): shown in the
    /// sources' rows. The store does not keep them.
    priorities: KnownPriorities,
}

/// The configured sources' priorities as a server knows them now (a reload changes them);
/// `None` where no config was read.
pub type KnownPriorities = Arc<std::sync::RwLock<Option<athena_core::Priorities>>>;

impl RecallService {
    /// Recall over `recall` within `limits`; cancelling `stop` ends every query running.
    /// `registry` holds the source types whose events it shows.
    pub fn new(
        recall: Arc<dyn Recall>,
        registry: Arc<Registry>,
        limits: Limits,
        stop: CancelToken,
    ) -> Self {
        RecallService {
            inner: Arc::new(Inner {
                recall,
                registry,
                limits,
                gate: Gate::new(limits.connections, limits.queue, limits.wait),
                stop,
                priorities: KnownPriorities::default(),
            }),
        }
    }

    /// The same service (its connections, queue and budgets), showing the sources'
    /// priorities from `priorities`, which its owner keeps up to date.
    pub fn with_priorities(self, priorities: KnownPriorities) -> Self {
        let inner = &self.inner;
        RecallService {
            inner: Arc::new(Inner {
                recall: inner.recall.clone(),
                registry: inner.registry.clone(),
                limits: inner.limits,
                gate: inner.gate.clone(),
                stop: inner.stop.clone(),
                priorities,
            }),
        }
    }

    /// The configured priorities, if known.
    pub(crate) fn priorities(&self) -> Option<athena_core::Priorities> {
        (self.inner.priorities.read())
            .map(|p| p.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The source types whose events it shows.
    pub(crate) fn registry(&self) -> Arc<Registry> {
        self.inner.registry.clone()
    }

    /// Runs `f` over the store on a blocking thread once a connection is free, within the
    /// query's budget. Dropping the returned future (a client that went away) cancels the
    /// query; its connection is free again once the store has noticed, within about a
    /// millisecond.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        cost: Cost,
        f: impl FnOnce(&dyn Recall, &QueryBudget) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Refused> {
        let inner = &self.inner;
        let budget = QueryBudget::new(inner.limits.time, inner.stop.child_token());
        let _cancel_when_dropped = CancelOnDrop(budget.cancel_token().clone());
        let ticket = (inner.gate.enter(cost).await).map_err(|_| Refused::Busy {
            retry_after: Duration::from_secs(1),
        })?;
        let recall = inner.recall.clone();
        let task = tokio::task::spawn_blocking(move || {
            // Held until the query has ended, even if its caller has gone: a connection is
            // never shared by two queries, and the threads stay as many as the connections.
            let _ticket = ticket;
            f(&*recall, &budget)
        });
        match task.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(StoreError::Interrupted(spent))) => Err(Refused::Spent(spent)),
            Ok(Err(e)) => Err(Refused::Store(e)),
            Err(e) => {
                tracing::error!("recall: a store query panicked: {e}");
                Err(Refused::Panicked)
            }
        }
    }
}

/// Cancels a query's budget when the request that asked for it is dropped (or ends: a
/// finished query no longer reads its token).
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use athena_core::recall::{Bucket, Page, PageQuery, TimelineCount};
    use athena_core::{Event, EventQuery, SourceStatus};

    use super::*;

    /// A store whose every query runs until its budget is spent, as SQLite's progress
    /// handler makes a real one do, and says how it ended.
    #[derive(Default)]
    struct Endless {
        started: AtomicUsize,
        cancelled: AtomicBool,
    }

    impl Endless {
        fn spin(&self, budget: &QueryBudget) -> StoreError {
            self.started.fetch_add(1, Ordering::SeqCst);
            loop {
                if let Some(spent) = budget.spent() {
                    if spent == Spent::Cancelled {
                        self.cancelled.store(true, Ordering::SeqCst);
                    }
                    return StoreError::Interrupted(spent);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    impl Recall for Endless {
        fn page(&self, _: &PageQuery, b: &QueryBudget) -> Result<Page, StoreError> {
            Err(self.spin(b))
        }
        fn event(&self, _: &str, _: &str, b: &QueryBudget) -> Result<Option<Event>, StoreError> {
            Err(self.spin(b))
        }
        fn sources(&self, b: &QueryBudget) -> Result<Vec<SourceStatus>, StoreError> {
            Err(self.spin(b))
        }
        fn timeline(
            &self,
            _: &EventQuery,
            _: Bucket,
            b: &QueryBudget,
        ) -> Result<Vec<TimelineCount>, StoreError> {
            Err(self.spin(b))
        }
    }

    fn service(limits: Limits) -> (RecallService, Arc<Endless>, CancelToken) {
        let store = Arc::new(Endless::default());
        let stop = CancelToken::new();
        let service = RecallService::new(store.clone(), Arc::default(), limits, stop.clone());
        (service, store, stop)
    }

    fn limits(connections: usize, queue: usize, time: Duration) -> Limits {
        Limits {
            connections,
            queue,
            wait: Duration::from_secs(3600),
            time,
        }
    }

    async fn sources(service: &RecallService, cost: Cost) -> Result<(), Refused> {
        service.run(cost, |r, b| r.sources(b).map(drop)).await
    }

    /// Waits until `n` queries have started on the store.
    async fn started(store: &Endless, n: usize) {
        while store.started.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_query_past_its_time_limit_is_answered_as_spent() {
        let (service, _, _) = service(limits(1, 1, Duration::from_millis(20)));
        let refused = sources(&service, Cost::ONE).await.unwrap_err();
        assert!(
            matches!(refused, Refused::Spent(Spent::TimedOut(t)) if t == Duration::from_millis(20)),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_cancels_its_query_and_frees_its_connection() {
        let (service, store, _) = service(limits(1, 1, Duration::from_secs(3600)));
        let running = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::ONE).await }
        });
        started(&store, 1).await;
        running.abort();
        while !store.cancelled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Its connection is free again: the next query gets it (and runs until stopped).
        let next = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::ONE).await }
        });
        started(&store, 2).await;
        next.abort();
    }

    #[tokio::test]
    async fn past_the_connections_and_the_queue_a_request_is_turned_away_at_once() {
        let (service, store, stop) = service(limits(1, 0, Duration::from_secs(3600)));
        let running = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::ONE).await }
        });
        started(&store, 1).await;
        let refused = sources(&service, Cost::ONE).await.unwrap_err();
        assert!(matches!(refused, Refused::Busy { .. }), "{refused:?}");
        // The stop ends the one running.
        stop.cancel();
        let ended = running.await.unwrap().unwrap_err();
        assert!(
            matches!(ended, Refused::Spent(Spent::Cancelled)),
            "{ended:?}"
        );
    }
}
