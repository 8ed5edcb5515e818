//! The engine's metrics, held in a registry the caller owns and rendered in the Prometheus text
//! format (version 0.0.4). Counted in one place, [`telemetry`](crate::telemetry), beside the log
//! line of the same event.
//!
//! A caller makes one [`Metrics`], hands a clone to each sync in
//! [`SyncOptions::metrics`](crate::SyncOptions), and renders it whenever it is scraped:
//!
//! ```
//! let metrics = athena_core::Metrics::new();
//! // … Engine::run(store, sources, SyncOptions { metrics: metrics.clone(), ..Default::default() })
//! let text = metrics.render();
//! assert!(text.contains("# TYPE athena_ingest_events_total counter"));
//! ```
//!
//! Labels carry only the configured source id, fixed words (`outcome`, `result`, `version`) and
//! HTTP status codes; never a path, a URL, a user or a token. The set of metrics is fixed, so each family is a typed field
//! rather than a name looked up at run time; that keeps the core crate free of a metrics
//! dependency, and `promtool check metrics` (in the tests) checks the format.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::source::{HttpStatus, SourceStats};
use crate::store::{EventQuery, Store, StoreError};

mod render;

/// What became of an event a source read (label `outcome` of `athena_ingest_events_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventOutcome {
    /// Newly stored.
    Written,
    /// Already stored (same id).
    Duplicate,
    /// Bad input, kept as a dead letter.
    Invalid,
}

impl EventOutcome {
    const ALL: [EventOutcome; 3] = [
        EventOutcome::Written,
        EventOutcome::Duplicate,
        EventOutcome::Invalid,
    ];

    /// `written`, `duplicate` or `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Written => "written",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Invalid => "invalid",
        }
    }
}

/// How a source's run ended (label `result` of `athena_ingest_sync_runs_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RunResult {
    /// Read to the end.
    Ok,
    /// Failed.
    Failed,
    /// Stopped by a signal after committing what it had read.
    Interrupted,
}

impl RunResult {
    /// `ok`, `failed` or `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Ok => "ok",
            RunResult::Failed => "failed",
            RunResult::Interrupted => "interrupted",
        }
    }
}

/// Bucket bounds of `athena_ingest_sync_duration_seconds`: a run takes from milliseconds (an
/// incremental sync with nothing new) to an hour (a first full sync).
const SYNC_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Bucket bounds of `athena_ingest_store_commit_duration_seconds`: one group commit (an fsync
/// and the pages it writes).
const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The engine's metrics. Cloning shares them: clones count into, and render, the same values.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Mutex<Families>>,
}

#[derive(Debug)]
struct Families {
    version: String,
    events: BTreeMap<(String, EventOutcome), u64>,
    sync_runs: BTreeMap<(String, RunResult), u64>,
    sync_duration: BTreeMap<String, Histogram>,
    last_success: BTreeMap<String, f64>,
    commit_duration: Histogram,
    /// Per source, the newest `occurred_at` stored, in seconds since the Unix epoch; the lag
    /// is taken against the clock when rendered, so it grows between syncs.
    newest_event: BTreeMap<String, f64>,
    http_requests: BTreeMap<(String, HttpStatus), u64>,
    http_retries: BTreeMap<String, u64>,
    rate_limit_waits: BTreeMap<String, u64>,
    /// Per feed: what its relay published, and what waits in the outbox for it.
    feeds: BTreeMap<String, FeedGauges>,
}

/// A feed's counter and gauges.
#[derive(Debug, Default, Clone, Copy)]
struct FeedGauges {
    published: u64,
    waiting: u64,
    /// When the oldest event waiting was stored, in seconds since the Unix epoch.
    oldest: Option<f64>,
}

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; rendering adds them up.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics; `athena_ingest_build_info` carries this crate's version (the workspace's).
    pub fn new() -> Self {
        Metrics::with_version(env!("CARGO_PKG_VERSION"))
    }

    /// Empty metrics whose `athena_ingest_build_info` carries `version`.
    pub fn with_version(version: &str) -> Self {
        Metrics {
            inner: Arc::new(Mutex::new(Families {
                version: version.to_string(),
                events: BTreeMap::new(),
                sync_runs: BTreeMap::new(),
                sync_duration: BTreeMap::new(),
                last_success: BTreeMap::new(),
                commit_duration: Histogram::new(COMMIT_BUCKETS),
                newest_event: BTreeMap::new(),
                http_requests: BTreeMap::new(),
                http_retries: BTreeMap::new(),
                rate_limit_waits: BTreeMap::new(),
                feeds: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Families> {
        // Counting cannot leave the families half-updated, so a panic elsewhere while the lock
        // was held poisons nothing that matters.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `athena_ingest_events_total{source, outcome}`.
    pub fn events_total(&self, source_id: &str, outcome: EventOutcome) -> u64 {
        let f = self.lock();
        f.events
            .get(&(source_id.to_string(), outcome))
            .copied()
            .unwrap_or(0)
    }

    /// `athena_ingest_sync_runs_total{source, result}`.
    pub fn sync_runs_total(&self, source_id: &str, result: RunResult) -> u64 {
        let f = self.lock();
        f.sync_runs
            .get(&(source_id.to_string(), result))
            .copied()
            .unwrap_or(0)
    }

    /// `athena_ingest_last_success_timestamp_seconds{source}`, if the source has succeeded.
    pub fn last_success(&self, source_id: &str) -> Option<f64> {
        self.lock().last_success.get(source_id).copied()
    }

    /// `athena_ingest_source_lag_seconds{source}` as it would be rendered now, if the source
    /// has a stored event.
    pub fn source_lag(&self, source_id: &str) -> Option<f64> {
        let newest = self.lock().newest_event.get(source_id).copied()?;
        Some(lag(newest, now_seconds()))
    }

    /// `athena_ingest_http_requests_total{source, status}`.
    pub fn http_requests_total(&self, source_id: &str, status: HttpStatus) -> u64 {
        let f = self.lock();
        f.http_requests
            .get(&(source_id.to_string(), status))
            .copied()
            .unwrap_or(0)
    }

    /// `athena_ingest_http_retries_total{source}`.
    pub fn http_retries_total(&self, source_id: &str) -> u64 {
        self.lock()
            .http_retries
            .get(source_id)
            .copied()
            .unwrap_or(0)
    }

    /// `athena_ingest_rate_limit_waits_total{source}`.
    pub fn rate_limit_waits_total(&self, source_id: &str) -> u64 {
        self.lock()
            .rate_limit_waits
            .get(source_id)
            .copied()
            .unwrap_or(0)
    }

    /// Tells the metrics that `source_id` has a stored event that occurred at `time`; its lag
    /// is measured from the newest such time. The engine calls this for every batch it
    /// commits; a long-running caller seeds it from the store at start
    /// ([`seed_newest_from`](Metrics::seed_newest_from)), so the lag of a source with nothing
    /// new is known before its next event.
    pub fn seed_newest(&self, source_id: &str, time: DateTime<Utc>) {
        // Milliseconds: the store's resolution.
        let t = time.timestamp_millis() as f64 / 1000.0;
        let mut f = self.lock();
        let newest = f
            .newest_event
            .entry(source_id.to_string())
            .or_insert(f64::NEG_INFINITY);
        *newest = newest.max(t);
    }

    /// [`seed_newest`](Metrics::seed_newest) for each of `sources` that has an event in
    /// `store` (one indexed query each). Only the sources given: a source no longer configured
    /// would otherwise show a lag that grows for ever.
    pub fn seed_newest_from<'a>(
        &self,
        store: &dyn Store,
        sources: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        for source_id in sources {
            let newest = store.query_events(&EventQuery {
                sources: vec![source_id.to_string()],
                limit: Some(1),
                ..EventQuery::default()
            })?;
            if let Some(event) = newest.first() {
                self.seed_newest(source_id, event.occurred_at);
            }
        }
        Ok(())
    }

    /// Counts `events` that feed `feed` published.
    pub fn feed_published(&self, feed: &str, events: u64) {
        self.lock()
            .feeds
            .entry(feed.to_string())
            .or_default()
            .published += events;
    }

    /// What waits in the outbox for `feed`: `events`, the oldest stored at `oldest`.
    pub fn feed_backlog(&self, feed: &str, events: u64, oldest: Option<DateTime<Utc>>) {
        let mut f = self.lock();
        let gauges = f.feeds.entry(feed.to_string()).or_default();
        gauges.waiting = events;
        gauges.oldest = oldest.map(|t| t.timestamp_millis() as f64 / 1000.0);
    }

    /// Events feed `feed` published, as counted.
    pub fn feed_published_total(&self, feed: &str) -> u64 {
        self.lock().feeds.get(feed).map_or(0, |g| g.published)
    }

    /// Drops every series of `source_id`, for a source no longer configured (a reload removed
    /// it): else it would be scraped for ever, its counters frozen and its lag growing, and
    /// alerts on it would fire for a source that does not exist. Should the id come back, its
    /// counters start again from zero, which Prometheus reads as a counter reset.
    pub fn forget_source(&self, source_id: &str) {
        let mut f = self.lock();
        f.events.retain(|(s, _), _| s != source_id);
        f.sync_runs.retain(|(s, _), _| s != source_id);
        f.sync_duration.remove(source_id);
        f.last_success.remove(source_id);
        f.newest_event.remove(source_id);
        f.http_requests.retain(|(s, _), _| s != source_id);
        f.http_retries.remove(source_id);
        f.rate_limit_waits.remove(source_id);
    }

    /// Adds a finished run's HTTP counters. A source's stats cover the one run it is built
    /// for, so adding them at its end keeps the totals monotonic across runs. Sources that sent
    /// no request (not an API source) get no series.
    pub(crate) fn add_http(&self, source_id: &str, stats: &SourceStats) {
        if stats.requests == 0 && stats.responses.is_empty() {
            return;
        }
        let mut f = self.lock();
        for (status, n) in &stats.responses {
            *f.http_requests
                .entry((source_id.to_string(), *status))
                .or_insert(0) += n;
        }
        *f.http_retries.entry(source_id.to_string()).or_insert(0) += stats.retries;
        *f.rate_limit_waits.entry(source_id.to_string()).or_insert(0) += stats.rate_limit_waits;
    }

    /// Makes a source's counters exist at zero, so a scrape shows it before its first event
    /// (a rate over a series that appears at its first increment misses that increment).
    pub(crate) fn source_seen(&self, source_id: &str) {
        let mut f = self.lock();
        for outcome in EventOutcome::ALL {
            f.events
                .entry((source_id.to_string(), outcome))
                .or_insert(0);
        }
        for result in [RunResult::Ok, RunResult::Failed] {
            f.sync_runs
                .entry((source_id.to_string(), result))
                .or_insert(0);
        }
    }

    pub(crate) fn add_events(&self, source_id: &str, outcome: EventOutcome, n: u64) {
        *self
            .lock()
            .events
            .entry((source_id.to_string(), outcome))
            .or_insert(0) += n;
    }

    /// Counts a finished run; its duration is observed when known (a panicked source's is not).
    pub(crate) fn run_finished(
        &self,
        source_id: &str,
        result: RunResult,
        duration: Option<Duration>,
    ) {
        let mut f = self.lock();
        *f.sync_runs
            .entry((source_id.to_string(), result))
            .or_insert(0) += 1;
        if let Some(d) = duration {
            f.sync_duration
                .entry(source_id.to_string())
                .or_insert_with(|| Histogram::new(SYNC_BUCKETS))
                .observe(d.as_secs_f64());
        }
        if result == RunResult::Ok {
            f.last_success.insert(source_id.to_string(), now_seconds());
        }
    }

    pub(crate) fn store_committed(&self, duration: Duration) {
        self.lock().commit_duration.observe(duration.as_secs_f64());
    }
}

/// Seconds since the Unix epoch.
fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The lag of an event at `newest` seen at `now`, never below zero: an event dated ahead of
/// the clock is not news from the future, and a negative lag would read as a broken gauge.
/// Rounded to milliseconds, the store's resolution.
fn lag(newest: f64, now: f64) -> f64 {
    ((now - newest).max(0.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
