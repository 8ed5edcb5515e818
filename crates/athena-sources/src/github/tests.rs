//! The `github` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake GitHub.

use std::collections::BTreeMap;

use athena_core::memory::SharedMemoryStore;
use athena_core::SourceStatusKind;
use serde_json::Value;

use super::fake::{comment, commit, issue, pull, release, run, ts, FakeGitHub, TOKEN};
use crate::synced::sync;

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
