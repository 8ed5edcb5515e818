//! The metrics a sync counts, read back from the registry and rendered: they agree with what
//! the store holds, and the text passes `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{counting, engine};
use crate::cursor::Cursor;
use crate::engine::SyncOptions;
use crate::memory::SharedMemoryStore;
use crate::metrics::{EventOutcome, Metrics, RunResult};
use crate::source::{Batch, BatchStream, EventSource, HttpStatus, SourceInfo, SourceStats};
use crate::{DeadLetter, Event, SourceError};

/// One batch of three events (an hour, two and three hours old) and two dead letters; it
/// says it sent three requests: a `429` waited for, a `503` retried, then a `200`.
struct Mixed(SourceInfo);

#[async_trait::async_trait]
impl EventSource for Mixed {
    fn info(&self) -> &SourceInfo {
        &self.0
    }
    async fn validate(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
    fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
        let events = (0..3)
            .map(|i| {
                let at = chrono::Utc::now() - chrono::Duration::hours(i + 1);
                Event::new(format!("m{i}"), "tick", at, "t")
            })
            .collect();
        let mut batch = Batch::new(events, Cursor::from_json(serde_json::json!({"version":1})));
        batch.dead_letters = (0..2)
            .map(|i| DeadLetter {
                origin: format!("line {i}"),
                reason: "not a record".into(),
                raw: "?".into(),
            })
            .collect();
        Box::pin(futures_util::stream::iter([Ok(batch)]))
    }
    fn stats(&self) -> SourceStats {
        SourceStats {
            requests: 3,
            retries: 1,
            rate_limit_waits: 1,
            responses: [(429, 1), (503, 1), (200, 1)]
                .into_iter()
                .map(|(code, n)| (HttpStatus::Code(code), n))
                .collect(),
            ..SourceStats::default()
        }
    }
}

fn mixed(id: &str) -> Mixed {
    Mixed(SourceInfo {
        id: id.into(),
        source_type: "mixed".into(),
        name: id.into(),
    })
}

/// Two syncs into one registry: `a` (25 events, then the same 25 again with `--full`), `m`
/// (3 events, 2 dead letters, then nothing new: its stats again) and `bad` (fails after its
/// first batch of 10).
async fn two_syncs(shared: &SharedMemoryStore) -> Metrics {
    let metrics = Metrics::with_version("9.8.7");
    let mut bad = counting("bad", 100, 10);
    bad.fail_after = Some(1);
    let options = SyncOptions {
        metrics: metrics.clone(),
        ..SyncOptions::default()
    };
    engine()
        .run(
            Box::new(shared.clone()),
            vec![
                Box::new(counting("a", 25, 10)),
                Box::new(mixed("m")),
                Box::new(bad),
            ],
            options,
        )
        .await;
    let options = SyncOptions {
        full: true,
        metrics: metrics.clone(),
        ..SyncOptions::default()
    };
    engine()
        .run(
            Box::new(shared.clone()),
            vec![Box::new(counting("a", 25, 10)), Box::new(mixed("m"))],
            options,
        )
        .await;
    metrics
}

#[tokio::test]
async fn events_total_equals_what_the_store_holds() {
    let shared = SharedMemoryStore::new();
    let metrics = two_syncs(&shared).await;
    for id in ["a", "m", "bad"] {
        let (stored, dead) = shared.with(|s| {
            (
                s.events.iter().filter(|e| e.source_id == id).count() as u64,
                s.dead_letters.iter().filter(|d| d.source_id == id).count() as u64,
            )
        });
        assert_eq!(
            metrics.events_total(id, EventOutcome::Written),
            stored,
            "{id}"
        );
        assert_eq!(
            metrics.events_total(id, EventOutcome::Invalid),
            dead,
            "{id}"
        );
    }
    assert_eq!(metrics.events_total("a", EventOutcome::Written), 25);
    assert_eq!(metrics.events_total("a", EventOutcome::Duplicate), 25);
    assert_eq!(metrics.events_total("m", EventOutcome::Invalid), 2);
    assert_eq!(metrics.events_total("bad", EventOutcome::Written), 10);
    assert_eq!(metrics.sync_runs_total("a", RunResult::Ok), 2);
    assert_eq!(metrics.sync_runs_total("m", RunResult::Ok), 2);
    assert_eq!(metrics.sync_runs_total("bad", RunResult::Failed), 1);
    assert_eq!(metrics.sync_runs_total("bad", RunResult::Ok), 0);
    assert!(metrics.last_success("a").is_some());
    assert!(metrics.last_success("bad").is_none());

    let text = metrics.render();
    for line in [
        "athena_ingest_build_info{version=\"9.8.7\"} 1",
        "athena_ingest_http_requests_total{source=\"m\",status=\"200\"} 2",
        "athena_ingest_http_requests_total{source=\"m\",status=\"429\"} 2",
        "athena_ingest_http_requests_total{source=\"m\",status=\"503\"} 2",
        "athena_ingest_http_retries_total{source=\"m\"} 2",
        "athena_ingest_rate_limit_waits_total{source=\"m\"} 2",
        "athena_ingest_events_total{source=\"a\",outcome=\"written\"} 25",
        "athena_ingest_events_total{source=\"a\",outcome=\"duplicate\"} 25",
        "athena_ingest_events_total{source=\"a\",outcome=\"invalid\"} 0",
        "athena_ingest_events_total{source=\"m\",outcome=\"written\"} 3",
        "athena_ingest_events_total{source=\"m\",outcome=\"invalid\"} 2",
        "athena_ingest_events_total{source=\"bad\",outcome=\"written\"} 10",
        "athena_ingest_sync_runs_total{source=\"a\",result=\"ok\"} 2",
        "athena_ingest_sync_runs_total{source=\"bad\",result=\"failed\"} 1",
        "athena_ingest_sync_runs_total{source=\"bad\",result=\"ok\"} 0",
        "athena_ingest_sync_duration_seconds_count{source=\"a\"} 2",
        "athena_ingest_sync_duration_seconds_count{source=\"bad\"} 1",
        "athena_ingest_sync_duration_seconds_bucket{source=\"a\",le=\"+Inf\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("athena_ingest_last_success_timestamp_seconds{source=\"a\"} "));
    // `m`'s newest event is an hour old, whichever of its two runs stored it.
    let lag = text
        .lines()
        .find_map(|l| l.strip_prefix("athena_ingest_source_lag_seconds{source=\"m\"} "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(lag.is_some_and(|s| (3600.0..3660.0).contains(&s)), "{text}");
    assert!(text.contains("athena_ingest_source_lag_seconds{source=\"bad\"} "));
    assert!(
        !text.contains("athena_ingest_http_requests_total{source=\"a\""),
        "a source that sends no request has no HTTP series\n{text}"
    );
    assert!(!text.contains("athena_ingest_last_success_timestamp_seconds{source=\"bad\"}"));
    let commits = text
        .lines()
        .find_map(|l| l.strip_prefix("athena_ingest_store_commit_duration_seconds_count "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(commits.is_some_and(|n| n >= 1), "{text}");
    for (name, kind) in [
        ("athena_ingest_build_info", "gauge"),
        ("athena_ingest_events_total", "counter"),
        ("athena_ingest_sync_runs_total", "counter"),
        ("athena_ingest_sync_duration_seconds", "histogram"),
        ("athena_ingest_last_success_timestamp_seconds", "gauge"),
        ("athena_ingest_store_commit_duration_seconds", "histogram"),
        ("athena_ingest_source_lag_seconds", "gauge"),
        ("athena_ingest_http_requests_total", "counter"),
        ("athena_ingest_http_retries_total", "counter"),
        ("athena_ingest_rate_limit_waits_total", "counter"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}\n{text}");
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}\n{text}"
        );
    }
}

/// `promtool check metrics` (Debian package `prometheus`; `scripts/test-setup.sh` installs it
/// as root). Missing is a failure, not a skip: a check that silently does not run checks
/// nothing.
fn promtool_check(text: &str) -> (bool, String) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "promtool is not on PATH; install the Debian package `prometheus` \
             (`apt-get install prometheus`, as scripts/test-setup.sh does as root) to check the metrics format"
        ),
        Err(e) => panic!("running promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("waiting for promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

#[tokio::test]
async fn rendered_metrics_pass_promtool_check_metrics() {
    let metrics = two_syncs(&SharedMemoryStore::new()).await;
    // Tricky label values are escaped, not passed through.
    metrics.add_events("odd \"id\"\\\n", EventOutcome::Written, 1);
    let text = metrics.render();
    let (ok, said) = promtool_check(&text);
    assert!(ok, "promtool check metrics:\n{said}\non\n{text}");
    // And before anything ran: families with no samples yet.
    let (ok, said) = promtool_check(&Metrics::new().render());
    assert!(ok, "promtool check metrics on empty metrics:\n{said}");
}

#[test]
fn promtool_rejects_what_it_should() {
    // The check above can fail: promtool reads our output and objects to a broken one.
    let (ok, _) = promtool_check("# TYPE athena_ingest_events counter\nathena_ingest_events 1\n");
    assert!(!ok, "promtool accepted a counter without _total");
}
