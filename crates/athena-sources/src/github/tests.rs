//! The `github` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake GitHub.

use std::collections::BTreeMap;

use athena_core::memory::SharedMemoryStore;
use athena_core::{HttpStatus, Metrics, SourceStatusKind, SyncOptions};
use athena_http::testing::TestResponse;
use serde_json::Value;

use super::fake::{comment, commit, issue, pull, release, run, ts, FakeGitHub, TOKEN};
use crate::synced::{sync, sync_with};

fn config(url: &str) -> toml::Table {
    let mut table = toml::Table::new();
    for (key, value) in [
        ("api_url", url),
        ("owner", "o"),
        ("repo", "r"),
        ("token", TOKEN),
    ] {
        table.insert(key.into(), value.into());
    }
    table
}

fn kinds(store: &SharedMemoryStore) -> BTreeMap<String, usize> {
    store.with(|s| {
        let mut out = BTreeMap::new();
        for e in &s.events {
            *out.entry(e.kind.clone()).or_default() += 1;
        }
        out
    })
}

fn cursor(store: &SharedMemoryStore) -> Value {
    store.with(|s| s.cursors["gh"].as_json().clone())
}

#[tokio::test]
async fn a_full_sync_then_an_incremental_one_that_costs_only_304s_then_one_new_issue() {
    let fake = FakeGitHub::new();
    fake.set("commits", (1..=5).map(commit).collect());
    fake.set("pulls", (11..=12).map(|n| pull(n, n)).collect());
    fake.set("issues", (1..=3).map(|n| issue(n, n)).collect());
    fake.set("comments", (1..=2).map(|n| comment(n, 1)).collect());
    fake.set("releases", vec![release(1)]);
    fake.set("runs", (1..=2).map(run).collect());
    let server = fake.start();
    let store = SharedMemoryStore::new();

    let report = sync(&store, "gh", "github", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let want: BTreeMap<String, usize> = [
        ("commit", 5),
        ("issue_comment", 2),
        ("issue_opened", 3),
        ("pull_request_merged", 2),
        ("pull_request_opened", 2),
        ("release_published", 1),
        ("workflow_run_completed", 2),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(kinds(&store), want);
    assert_eq!(report.events_written, 17);
    store.with(|s| {
        let e = s.events.iter().find(|e| e.id == "o/r#2:issue_opened");
        let e = e.expect("issue 2 is stored under its natural key");
        assert_eq!(
            (e.source_id.as_str(), e.actor.as_deref()),
            ("gh", Some("ann"))
        );
    });
    let first = cursor(&store);
    assert_eq!(first["version"], 1, "{first}");
    let streams = &first["streams"];
    assert_eq!(streams["commits"]["head"], format!("{:040x}", 5), "{first}");
    assert_eq!(streams["issues"]["mark"], ts(3), "{first}");
    for stream in [
        "commits",
        "pull_requests",
        "issues",
        "issue_comments",
        "releases",
    ] {
        assert!(streams[stream]["etag"].is_string(), "{stream}: {first}");
    }

    // Nothing new: one request per stream, each sent with its ETag and answered 304.
    server.clear_requests();
    let report = sync(&store, "gh", "github", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        (
            report.events_written,
            report.stats.requests,
            report.stats.not_modified
        ),
        (0, 6, 6)
    );
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.header("if-none-match").is_some()),
        "{requests:?}"
    );
    assert_eq!(cursor(&store), first, "a 304 leaves the cursor as it was");

    // One new issue: only its list answers 200, and its mark moves to it.
    fake.add("issues", vec![issue(4, 40)]);
    let report = sync(&store, "gh", "github", config(&server.url())).await;
    assert_eq!(
        (
            report.events_written,
            report.stats.requests,
            report.stats.not_modified
        ),
        (1, 6, 5)
    );
    assert_eq!(cursor(&store)["streams"]["issues"]["mark"], ts(40));
    assert_eq!(kinds(&store)["issue_opened"], 4);
}

#[tokio::test]
async fn http_requests_are_counted_by_status_across_runs_with_a_429_and_a_retried_503() {
    let fake = FakeGitHub::new();
    fake.set("commits", (1..=3).map(commit).collect());
    fake.set("issues", (1..=2).map(|n| issue(n, n)).collect());
    fake.fault(
        "/pulls",
        TestResponse::text(429, "secondary rate limit").header("Retry-After", "1"),
    );
    fake.fault("/issues", TestResponse::text(503, "unavailable"));
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let metrics = Metrics::new();
    let mut table = config(&server.url());
    table.insert("retry_delay_ms".into(), 10.into());
    let options = || SyncOptions {
        metrics: metrics.clone(),
        ..SyncOptions::default()
    };

    let first = sync_with(&store, "gh", "github", table.clone(), options()).await;
    assert_eq!(first.status, SourceStatusKind::Ok, "{:?}", first.error);
    assert_eq!((first.stats.retries, first.stats.rate_limit_waits), (1, 1));
    // Nothing new: each stream asks with its ETag and is answered 304.
    let second = sync_with(&store, "gh", "github", table, options()).await;
    assert_eq!(second.status, SourceStatusKind::Ok, "{:?}", second.error);
    assert_eq!(second.stats.not_modified, second.stats.requests);

    let count = |code| metrics.http_requests_total("gh", HttpStatus::Code(code));
    assert_eq!(count(429), 1, "the 429 waited for");
    assert_eq!(count(503), 1, "the 503 retried");
    assert_eq!(
        count(200),
        first.stats.requests - 2,
        "its retry and the rest"
    );
    assert_eq!(count(304), second.stats.requests);
    assert_eq!(metrics.http_requests_total("gh", HttpStatus::Error), 0);
    assert_eq!(metrics.http_retries_total("gh"), 1);
    assert_eq!(metrics.rate_limit_waits_total("gh"), 1);
    let text = metrics.render();
    assert!(
        text.contains("athena_ingest_http_requests_total{source=\"gh\",status=\"429\"} 1\n"),
        "{text}"
    );
    // No URL, path or token reaches a label.
    for leak in [TOKEN, "/repos", "127.0.0.1"] {
        assert!(!text.contains(leak), "{leak} in\n{text}");
    }
    assert!(metrics.source_lag("gh").is_some_and(|s| s >= 0.0));
}
