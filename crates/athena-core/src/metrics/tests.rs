//! Tests of the metrics: counting, forgetting, and the text format.

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
        text.contains("athena_ingest_http_requests_total{source=\"a\\\"b\",status=\"503\"} 2\n"),
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
