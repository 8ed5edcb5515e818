//! The one way HTTP and MCP read the store: every recall query runs on a bounded set of
//! blocking threads, one per store connection, behind a short queue, within a time budget.
//!
//! What this guarantees, whatever the clients do:
//! - at most [`Limits::connections`] queries run at once, so threads and the memory of
//!   answers being built stay bounded however many clients connect;
//! - at most [`Limits::queue`] requests wait for a connection, and none waits longer than
//!   [`Limits::wait`]: the rest are turned away at once ([`Refused::Busy`], a 503 with
//!   `Retry-After`) rather than queued without bound;
//! - each [`Cost`] has connections it may not take: big pages leave one connection to small
//!   questions, full-text searches and timelines (the costly kinds) leave half of them, and
//!   each cost waits in its own queue; so a flood of costly or big requests never turns away
//!   a small one, which only its own kind can crowd out;
//! - a query stops when its [`QueryBudget`] is spent: past [`Limits::time`] from its arrival
//!   (its wait included), when its caller goes away (the request's future is dropped), or
//!   when the server stops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use athena_core::recall::{QueryBudget, Recall, Spent};
use athena_core::{CancelToken, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bounds of [`RecallService`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
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
    /// of 32 waits at most about 8 queries' time; 2 s is ten times what the slowest
    /// full-text page of the recall benchmark takes on a million events.
    fn default() -> Self {
        Limits {
            connections: 4,
            queue: 32,
            wait: Duration::from_millis(500),
            time: Duration::from_secs(2),
        }
    }
}

/// How much a query may cost, which decides the connections it may use and its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// One event, the sources, a page of up to [`Cost::LIGHT_PAGE`] events by time: any
    /// connection.
    Light,
    /// A bigger page by time: all connections but one.
    Heavy,
    /// A full-text search, an actor's substring, a timeline (may read much of the store):
    /// half the connections.
    Costly,
}

impl Cost {
    /// The largest page that is [`Cost::Light`].
    pub(crate) const LIGHT_PAGE: usize = 100;

    /// A page of `limit` events, with or without a condition that may read many rows.
    pub(crate) fn of_page(limit: usize, reads_many: bool) -> Cost {
        if reads_many {
            Cost::Costly
        } else if limit > Cost::LIGHT_PAGE {
            Cost::Heavy
        } else {
            Cost::Light
        }
    }

    fn index(self) -> usize {
        self as usize
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
pub(crate) struct RecallService {
    inner: Arc<Inner>,
}

struct Inner {
    recall: Arc<dyn Recall>,
    limits: Limits,
    /// One permit per connection.
    running: Arc<Semaphore>,
    /// All connections but one, for heavy and costly queries (taken before `running`).
    heavy: Arc<Semaphore>,
    /// Half the connections, for costly queries (taken before `heavy`).
    costly: Arc<Semaphore>,
    /// Requests waiting, per [`Cost`].
    waiting: [AtomicUsize; 3],
    /// Cancelled when the server stops: every query's budget is a child of it.
    stop: CancelToken,
}

impl RecallService {
    pub(crate) fn new(recall: Arc<dyn Recall>, limits: Limits, stop: CancelToken) -> Self {
        let connections = limits.connections.max(1);
        RecallService {
            inner: Arc::new(Inner {
                recall,
                limits,
                running: Arc::new(Semaphore::new(connections)),
                heavy: Arc::new(Semaphore::new((connections - 1).max(1))),
                costly: Arc::new(Semaphore::new(connections.div_ceil(2))),
                waiting: Default::default(),
                stop,
            }),
        }
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
        let budget = QueryBudget::new(inner.limits.time, inner.stop.child());
        let _cancel_when_dropped = CancelOnDrop(budget.cancel_token().clone());
        let permits = self.admit(cost).await?;
        let recall = inner.recall.clone();
        let task = tokio::task::spawn_blocking(move || {
            // Held until the query has ended, even if its caller has gone: a connection is
            // never shared by two queries, and the threads stay as many as the connections.
            let _permits = permits;
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

    /// The permits `cost` needs (a connection, and the share its cost may take), or `Busy`
    /// when its queue is full or the wait too long.
    async fn admit(&self, cost: Cost) -> Result<Vec<OwnedSemaphorePermit>, Refused> {
        let inner = &self.inner;
        let busy = Refused::Busy {
            retry_after: Duration::from_secs(1),
        };
        // Taken at once when free: the queue is for those that must wait.
        if let Some(permits) = self.try_admit(cost) {
            return Ok(permits);
        }
        let waiting = &inner.waiting[cost.index()];
        if waiting.fetch_add(1, Ordering::SeqCst) >= inner.limits.queue {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy);
        }
        let _waiting = Waiting(waiting);
        let acquire = async {
            let mut permits = Vec::with_capacity(3);
            for semaphore in self.semaphores(cost) {
                permits.push(semaphore.clone().acquire_owned().await.ok()?);
            }
            Some(permits)
        };
        match tokio::time::timeout(inner.limits.wait, acquire).await {
            Ok(Some(permits)) => Ok(permits),
            _ => Err(busy),
        }
    }

    fn try_admit(&self, cost: Cost) -> Option<Vec<OwnedSemaphorePermit>> {
        (self.semaphores(cost).iter())
            .map(|s| (*s).clone().try_acquire_owned().ok())
            .collect()
    }

    /// What a query of `cost` must hold, the narrowest share first (always in this order,
    /// so two waiting queries never hold what the other needs).
    fn semaphores(&self, cost: Cost) -> Vec<&Arc<Semaphore>> {
        let inner = &self.inner;
        match cost {
            Cost::Light => vec![&inner.running],
            Cost::Heavy => vec![&inner.heavy, &inner.running],
            Cost::Costly => vec![&inner.costly, &inner.heavy, &inner.running],
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

/// One request counted in the queue while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

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
        let service = RecallService::new(store.clone(), limits, stop.clone());
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
        let refused = sources(&service, Cost::Light).await.unwrap_err();
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
            async move { sources(&service, Cost::Light).await }
        });
        started(&store, 1).await;
        running.abort();
        while !store.cancelled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Its connection is free again: the next query gets it (and runs until stopped).
        let next = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::Light).await }
        });
        started(&store, 2).await;
        next.abort();
    }

    #[tokio::test]
    async fn past_the_connections_and_the_queue_a_request_is_turned_away_at_once() {
        let (service, store, stop) = service(limits(1, 1, Duration::from_secs(3600)));
        let spawn = |cost| {
            let service = service.clone();
            tokio::spawn(async move { sources(&service, cost).await })
        };
        let running = spawn(Cost::Light);
        started(&store, 1).await;
        let queued = spawn(Cost::Light);
        while service.inner.waiting[Cost::Light.index()].load(Ordering::SeqCst) < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let refused = sources(&service, Cost::Light).await.unwrap_err();
        assert!(matches!(refused, Refused::Busy { .. }), "{refused:?}");
        // The stop ends the one running; the queued one then starts and is stopped too.
        stop.cancel();
        for task in [running, queued] {
            let ended = task.await.unwrap().unwrap_err();
            assert!(
                matches!(ended, Refused::Spent(Spent::Cancelled)),
                "{ended:?}"
            );
        }
    }

    #[tokio::test]
    async fn big_pages_leave_one_connection_to_small_questions() {
        let mut limits = limits(2, 4, Duration::from_secs(3600));
        limits.wait = Duration::from_millis(30);
        let (service, store, stop) = service(limits);
        let heavy = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::Heavy).await }
        });
        started(&store, 1).await;
        let refused = sources(&service, Cost::Heavy).await.unwrap_err();
        assert!(matches!(refused, Refused::Busy { .. }), "{refused:?}");
        let light = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::Light).await }
        });
        started(&store, 2).await;
        stop.cancel();
        for task in [heavy, light] {
            assert!(task.await.unwrap().is_err());
        }
    }

    #[test]
    fn a_page_costs_by_its_size_and_its_conditions() {
        assert_eq!(Cost::of_page(5, false), Cost::Light);
        assert_eq!(Cost::of_page(Cost::LIGHT_PAGE, false), Cost::Light);
        assert_eq!(Cost::of_page(1000, false), Cost::Heavy);
        assert_eq!(Cost::of_page(5, true), Cost::Costly);
    }

    #[tokio::test]
    async fn costly_queries_leave_half_the_connections_to_cheap_ones() {
        let mut limits = limits(2, 4, Duration::from_secs(3600));
        limits.wait = Duration::from_millis(30);
        let (service, store, stop) = service(limits);
        let costly = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::Costly).await }
        });
        started(&store, 1).await;
        // A second costly query waits for the costly half, and is turned away after `wait`...
        let refused = sources(&service, Cost::Costly).await.unwrap_err();
        assert!(matches!(refused, Refused::Busy { .. }), "{refused:?}");
        assert_eq!(store.started.load(Ordering::SeqCst), 1);
        // ... while a cheap one runs on the other connection.
        let cheap = tokio::spawn({
            let service = service.clone();
            async move { sources(&service, Cost::Light).await }
        });
        started(&store, 2).await;
        stop.cancel();
        for task in [costly, cheap] {
            assert!(task.await.unwrap().is_err());
        }
    }
}
