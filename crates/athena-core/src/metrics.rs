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
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::source::{HttpStatus, SourceStats};
use crate::store::{EventQuery, Store, StoreError};

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

    /// The metrics in the Prometheus text format (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let f = self.lock();
        let mut out = String::new();
        header(
            &mut out,
            "athena_ingest_build_info",
            "gauge",
            "Always 1; the version of athena-ingest that is running.",
        );
        let _ = writeln!(
            out,
            "athena_ingest_build_info{{version=\"{}\"}} 1",
            escape(&f.version)
        );

        header(
            &mut out,
            "athena_ingest_events_total",
            "counter",
            "Events read by the engine, by what became of them: written (newly stored), \
             duplicate (already stored), invalid (kept as a dead letter).",
        );
        for ((source, outcome), n) in &f.events {
            let _ = writeln!(
                out,
                "athena_ingest_events_total{{source=\"{}\",outcome=\"{}\"}} {n}",
                escape(source),
                outcome.as_str()
            );
        }

        header(
            &mut out,
            "athena_ingest_sync_runs_total",
            "counter",
            "Runs of a source, by how they ended: ok, failed or interrupted.",
        );
        for ((source, result), n) in &f.sync_runs {
            let _ = writeln!(
                out,
                "athena_ingest_sync_runs_total{{source=\"{}\",result=\"{}\"}} {n}",
                escape(source),
                result.as_str()
            );
        }

        header(
            &mut out,
            "athena_ingest_sync_duration_seconds",
            "histogram",
            "Wall time of a source's run.",
        );
        for (source, h) in &f.sync_duration {
            let label = format!("source=\"{}\"", escape(source));
            histogram(&mut out, "athena_ingest_sync_duration_seconds", &label, h);
        }

        header(
            &mut out,
            "athena_ingest_last_success_timestamp_seconds",
            "gauge",
            "When a source's last successful run ended, in seconds since the Unix epoch.",
        );
        for (source, t) in &f.last_success {
            let _ = writeln!(
                out,
                "athena_ingest_last_success_timestamp_seconds{{source=\"{}\"}} {}",
                escape(source),
                number(*t)
            );
        }

        header(
            &mut out,
            "athena_ingest_store_commit_duration_seconds",
            "histogram",
            "Time the store took to commit one group of batches (one transaction).",
        );
        histogram(
            &mut out,
            "athena_ingest_store_commit_duration_seconds",
            "",
            &f.commit_duration,
        );

        header(
            &mut out,
            "athena_ingest_source_lag_seconds",
            "gauge",
            "Seconds from the newest stored event's occurred_at of a source to now \
             (0 when that event is dated in the future).",
        );
        let now = now_seconds();
        for (source, newest) in &f.newest_event {
            let _ = writeln!(
                out,
                "athena_ingest_source_lag_seconds{{source=\"{}\"}} {}",
                escape(source),
                number(lag(*newest, now))
            );
        }

        header(
            &mut out,
            "athena_ingest_http_requests_total",
            "counter",
            "HTTP requests an API source sent, each attempt once, by the status code that \
             answered (error: no answer, a connection failure or timeout).",
        );
        for ((source, status), n) in &f.http_requests {
            let _ = writeln!(
                out,
                "athena_ingest_http_requests_total{{source=\"{}\",status=\"{status}\"}} {n}",
                escape(source),
            );
        }

        header(
            &mut out,
            "athena_ingest_http_retries_total",
            "counter",
            "HTTP requests an API source sent again after a failure (5xx, timeout, bad body).",
        );
        for (source, n) in &f.http_retries {
            let _ = writeln!(
                out,
                "athena_ingest_http_retries_total{{source=\"{}\"}} {n}",
                escape(source),
            );
        }

        header(
            &mut out,
            "athena_ingest_rate_limit_waits_total",
            "counter",
            "Times an API source waited for a rate limit to reset or for a Retry-After.",
        );
        for (source, n) in &f.rate_limit_waits {
            let _ = writeln!(
                out,
                "athena_ingest_rate_limit_waits_total{{source=\"{}\"}} {n}",
                escape(source),
            );
        }
        out
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

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes a histogram's cumulative buckets, sum and count; `labels` is `""` or `a="b",…`.
fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (bound, n) in h.bounds.iter().zip(&h.counts) {
        cumulative += n;
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{}\"}} {cumulative}",
            number(*bound)
        );
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", number(h.sum));
    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
}

/// A float as Prometheus reads it (Rust's `Display` never uses an exponent, and gives `1` for
/// 1.0, which Prometheus reads as the same number).
fn number(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    let mut s = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let m = Metrics::with_version("1.2.3");
        m.store_committed(Duration::from_micros(300));
        m.store_committed(Duration::from_millis(20));
        m.store_committed(Duration::from_secs(10));
        let text = m.render();
        let name = "athena_ingest_store_commit_duration_seconds";
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"0.0005\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"0.025\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"2.5\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"+Inf\"}} 3\n")),
            "{text}"
        );
        assert!(text.contains(&format!("{name}_count 3\n")), "{text}");
        assert!(text.contains("athena_ingest_build_info{version=\"1.2.3\"} 1\n"));
    }

    #[test]
    fn a_label_value_with_quotes_backslashes_and_newlines_is_escaped() {
        let m = Metrics::new();
        m.add_events("a\"b\\c\nd", EventOutcome::Written, 2);
        let text = m.render();
        assert!(
            text.contains(
                "athena_ingest_events_total{source=\"a\\\"b\\\\c\\nd\",outcome=\"written\"} 2\n"
            ),
            "{text}"
        );
    }

    fn run_stats(responses: &[(HttpStatus, u64)], retries: u64, waits: u64) -> SourceStats {
        SourceStats {
            requests: responses.iter().map(|(_, n)| n).sum(),
            retries,
            rate_limit_waits: waits,
            responses: responses.iter().copied().collect(),
            ..SourceStats::default()
        }
    }

    /// The `# HELP` and `# TYPE` lines of `name`, in that order, with nothing between.
    fn assert_declared(text: &str, name: &str, kind: &str) {
        let help = format!("# HELP {name} ");
        let at = text
            .find(&help)
            .unwrap_or_else(|| panic!("no HELP for {name}:\n{text}"));
        let next = text[at..].lines().nth(1).unwrap_or_default();
        assert_eq!(next, format!("# TYPE {name} {kind}"), "{text}");
    }

    #[test]
    fn the_new_families_are_declared_with_their_types() {
        let text = Metrics::new().render();
        assert_declared(&text, "athena_ingest_source_lag_seconds", "gauge");
        assert_declared(&text, "athena_ingest_http_requests_total", "counter");
        assert_declared(&text, "athena_ingest_http_retries_total", "counter");
        assert_declared(&text, "athena_ingest_rate_limit_waits_total", "counter");
        assert!(
            !text
                .lines()
                .any(|l| !l.starts_with('#') && l.contains("lag")),
            "no series for a source without events: {text}"
        );
    }

    #[test]
    fn http_counters_add_up_over_runs_and_never_go_back() {
        let m = Metrics::new();
        let (ok, limited) = (HttpStatus::Code(200), HttpStatus::Code(429));
        m.add_http("gh", &run_stats(&[(limited, 1), (ok, 2)], 0, 1));
        m.add_http("gh", &run_stats(&[(ok, 1), (HttpStatus::Error, 1)], 1, 0));
        m.add_http("gh", &run_stats(&[], 0, 0));
        assert_eq!(m.http_requests_total("gh", ok), 3);
        assert_eq!(m.http_requests_total("gh", limited), 1);
        assert_eq!(m.http_requests_total("gh", HttpStatus::Error), 1);
        assert_eq!(m.http_retries_total("gh"), 1);
        assert_eq!(m.rate_limit_waits_total("gh"), 1);
        let text = m.render();
        for line in [
            "athena_ingest_http_requests_total{source=\"gh\",status=\"200\"} 3\n",
            "athena_ingest_http_requests_total{source=\"gh\",status=\"429\"} 1\n",
            "athena_ingest_http_requests_total{source=\"gh\",status=\"error\"} 1\n",
            "athena_ingest_http_retries_total{source=\"gh\"} 1\n",
            "athena_ingest_rate_limit_waits_total{source=\"gh\"} 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
    }

    #[test]
    fn a_source_that_sent_no_request_has_no_http_series() {
        let m = Metrics::new();
        m.add_http("files", &SourceStats::default());
        let text = m.render();
        assert!(!text.contains("source=\"files\""), "{text}");
    }

    #[test]
    fn http_series_escape_the_source_id() {
        let m = Metrics::new();
        m.add_http("a\"b", &run_stats(&[(HttpStatus::Code(503), 2)], 2, 0));
        let text = m.render();
        assert!(
            text.contains(
                "athena_ingest_http_requests_total{source=\"a\\\"b\",status=\"503\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("athena_ingest_http_retries_total{source=\"a\\\"b\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn lag_is_taken_from_the_newest_event_against_the_clock() {
        let m = Metrics::new();
        let hour_ago = Utc::now() - chrono::Duration::hours(1);
        m.seed_newest("log", hour_ago);
        // An older event committed later does not make the source look further behind.
        m.seed_newest("log", hour_ago - chrono::Duration::days(3));
        let lag = m.source_lag("log").unwrap();
        assert!((3599.0..3700.0).contains(&lag), "{lag}");
        m.seed_newest("log", Utc::now() + chrono::Duration::hours(1));
        assert_eq!(m.source_lag("log"), Some(0.0), "never negative");
        assert_eq!(m.source_lag("other"), None);
        let text = m.render();
        assert!(
            text.contains("athena_ingest_source_lag_seconds{source=\"log\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn lag_is_seeded_from_the_store_for_the_sources_asked_only() {
        use crate::source::{Batch, SourceInfo};
        let mut store = crate::memory::MemoryStore::new();
        let at = |s| DateTime::from_timestamp(s, 0).unwrap();
        for (id, times) in [("a", &[100, 300, 200][..]), ("gone", &[500][..])] {
            let info = SourceInfo {
                id: id.into(),
                source_type: "test".into(),
                name: id.into(),
            };
            let events = times
                .iter()
                .enumerate()
                .map(|(i, t)| crate::Event::new(format!("{id}{i}"), "note", at(*t), "t"))
                .collect();
            let cursor = crate::Cursor::from_json(serde_json::json!({"version": 1}));
            store
                .commit_batch(&info, &Batch::new(events, cursor))
                .unwrap();
        }
        let m = Metrics::new();
        m.seed_newest_from(&store, ["a", "empty"]).unwrap();
        let newest = m.lock().newest_event.clone();
        assert_eq!(newest, BTreeMap::from([("a".to_string(), 300.0)]));
    }

    #[test]
    fn a_removed_source_s_series_are_dropped_and_the_others_kept() {
        let m = Metrics::new();
        for id in ["gone", "kept"] {
            m.source_seen(id);
            m.add_events(id, EventOutcome::Written, 2);
            m.run_finished(id, RunResult::Ok, Some(Duration::from_millis(20)));
            m.seed_newest(id, Utc::now());
            m.add_http(id, &run_stats(&[(HttpStatus::Code(200), 1)], 1, 1));
        }
        m.forget_source("gone");
        let text = m.render();
        assert!(!text.contains("source=\"gone\""), "{text}");
        let kept = text
            .lines()
            .filter(|l| l.contains("source=\"kept\""))
            .count();
        // 3 outcomes, 2 results, 15 histogram lines, last success, lag, 1 status, retries,
        // waits.
        assert_eq!(kept, 3 + 2 + 15 + 1 + 1 + 1 + 1 + 1, "{text}");
        assert_eq!(m.events_total("gone", EventOutcome::Written), 0);
        assert_eq!(m.source_lag("gone"), None);
    }

    #[test]
    fn clones_share_their_counts() {
        let m = Metrics::new();
        m.clone().add_events("s", EventOutcome::Invalid, 3);
        assert_eq!(m.events_total("s", EventOutcome::Invalid), 3);
        assert_eq!(m.events_total("s", EventOutcome::Written), 0);
    }
}
