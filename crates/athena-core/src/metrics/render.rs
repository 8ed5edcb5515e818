//! [`Metrics::render`]: the families in the Prometheus text format (version 0.0.4).

use std::fmt::Write as _;

use super::{lag, now_seconds, Families, Histogram, Metrics};

impl Metrics {
    /// The metrics in the Prometheus text format (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let f = self.lock();
        let mut out = String::new();
        runs(&f, &mut out);
        store(&f, &mut out);
        http(&f, &mut out);
        feeds(&f, &mut out);
        out
    }
}

/// The build, and each source's events and runs.
fn runs(f: &Families, out: &mut String) {
    header(
        out,
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
        out,
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
        out,
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
        out,
        "athena_ingest_sync_duration_seconds",
        "histogram",
        "Wall time of a source's run.",
    );
    for (source, h) in &f.sync_duration {
        let label = format!("source=\"{}\"", escape(source));
        histogram(out, "athena_ingest_sync_duration_seconds", &label, h);
    }

    header(
        out,
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
}

/// The store's commits, and how far each source lags behind.
fn store(f: &Families, out: &mut String) {
    header(
        out,
        "athena_ingest_store_commit_duration_seconds",
        "histogram",
        "Time the store took to commit one group of batches (one transaction).",
    );
    histogram(
        out,
        "athena_ingest_store_commit_duration_seconds",
        "",
        &f.commit_duration,
    );

    header(
        out,
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
}

/// The feeds: what each published, and its outbox.
fn feeds(f: &Families, out: &mut String) {
    if f.feeds.is_empty() {
        return;
    }
    header(
        out,
        "athena_ingest_feed_published_total",
        "counter",
        "Events a feed's relay published (acknowledged by the stream).",
    );
    for (feed, g) in &f.feeds {
        let _ = writeln!(
            out,
            "athena_ingest_feed_published_total{{feed=\"{}\"}} {}",
            escape(feed),
            g.published
        );
    }
    header(
        out,
        "athena_ingest_feed_outbox_events",
        "gauge",
        "Stored events waiting in the outbox for a feed.",
    );
    for (feed, g) in &f.feeds {
        let _ = writeln!(
            out,
            "athena_ingest_feed_outbox_events{{feed=\"{}\"}} {}",
            escape(feed),
            g.waiting
        );
    }
    header(
        out,
        "athena_ingest_feed_outbox_age_seconds",
        "gauge",
        "Seconds since the oldest event waiting for a feed was stored (0 when none waits).",
    );
    let now = now_seconds();
    for (feed, g) in &f.feeds {
        let age = g.oldest.map_or(0.0, |t| lag(t, now));
        let _ = writeln!(
            out,
            "athena_ingest_feed_outbox_age_seconds{{feed=\"{}\"}} {}",
            escape(feed),
            number(age)
        );
    }
}

/// What the API sources asked of their APIs.
fn http(f: &Families, out: &mut String) {
    header(
        out,
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
        out,
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
        out,
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
}

pub(super) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes a histogram's cumulative buckets, sum and count; `labels` is `""` or `a="b",…`.
pub(super) fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
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
pub(super) fn number(v: f64) -> String {
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
pub(super) fn escape(value: &str) -> std::borrow::Cow<'_, str> {
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
