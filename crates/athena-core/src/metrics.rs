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
//! Labels carry only the configured source id and fixed words (`outcome`, `result`, `version`);
//! never a path, a user or a token. The set of metrics is fixed, so each family is a typed field
//! rather than a name looked up at run time; that keeps the core crate free of a metrics
//! dependency, and `promtool check metrics` (in the tests) checks the format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            f.last_success.insert(source_id.to_string(), now);
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
        out
    }
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

    #[test]
    fn clones_share_their_counts() {
        let m = Metrics::new();
        m.clone().add_events("s", EventOutcome::Invalid, 3);
        assert_eq!(m.events_total("s", EventOutcome::Invalid), 3);
        assert_eq!(m.events_total("s", EventOutcome::Written), 0);
    }
}
