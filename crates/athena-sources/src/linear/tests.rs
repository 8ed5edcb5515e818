//! The `linear` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake Linear.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use athena_core::memory::SharedMemoryStore;
use athena_core::{ErrorKind, SourceStatusKind};
use athena_http::testing::TestResponse;
use serde_json::{json, Value};

use super::fake::{
    assignment, comment, graphql_error, issue, ratelimited, state_change, FakeLinear, OAUTH_TOKEN,
    TOKEN,
};
use crate::synced::sync;

fn config(url: &str, extra: &[(&str, toml::Value)]) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("api_url".into(), format!("{url}/graphql").into());
    table.insert("token".into(), TOKEN.into());
    table.insert("retry_delay_ms".into(), 10.into());
    for (k, v) in extra {
        table.insert((*k).into(), v.clone());
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
    store.with(|s| s.cursors["lin"].as_json().clone())
}

/// Three issues of ENG and one of OPS, with a history and comments.
fn populate(fake: &FakeLinear) {
    let mut one = issue(1, "ENG", 30);
    one["history"] = json!([
        state_change("h1", 10, "Todo", "In Progress", "started"),
        assignment("h2", 11, "dee"),
        state_change("h3", 30, "In Progress", "Done", "completed"),
    ]);
    one["comments"] = json!([comment("c1", 12, "Looking at it")]);
    let mut two = issue(2, "ENG", 20);
    two["history"] = json!([state_change("h4", 20, "Todo", "Canceled", "canceled")]);
    fake.set_issues(vec![one, two, issue(3, "ENG", 3), issue(4, "OPS", 4)]);
}

#[tokio::test]
async fn a_first_sync_stores_every_kind_then_an_incremental_one_reads_from_the_mark() {
    let fake = FakeLinear::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(
        &store,
        "lin",
        "linear",
        config(&server.url(), &[("page_size", 2.into())]),
    )
    .await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let want: BTreeMap<String, usize> = [
        ("issue_assigned", 1),
        ("issue_canceled", 1),
        ("issue_comment", 1),
        ("issue_completed", 1),
        ("issue_created", 4),
        ("issue_state_changed", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(kinds(&store), want);
    store.with(|s| {
        let e = s
            .events
            .iter()
            .find(|e| e.id == "h3:state")
            .expect("by history id");
        assert_eq!(e.context["team"], "ENG");
        assert_eq!(e.context["issue"], "ENG-1");
        assert_eq!(e.actor.as_deref(), Some("bob"));
        assert_eq!(e.source_type, "linear");
    });
    let c = cursor(&store);
    assert_eq!(c, json!({"version": 1, "mark": super::fake::ts(30)}), "{c}");
    // Two issues a page: the issues of the first pass took two queries, no nested ones.
    let posts = server.requests();
    assert_eq!(posts.len(), 2);
    assert!(posts
        .iter()
        .all(|r| r.header("authorization") == Some(TOKEN)));

    // One issue updated: the next sync asks from the mark less the overlap.
    server.clear_requests();
    fake.edit_issue("issue-3", |i| {
        i["updatedAt"] = json!(super::fake::ts(40));
        i["comments"] = json!([comment("c9", 40, "New")]);
    });
    let report = sync(&store, "lin", "linear", config(&server.url(), &[])).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 1, "only the new comment: {report:?}");
    let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(
        body["variables"]["filter"]["updatedAt"]["gte"],
        super::fake::ts(25),
        "the mark less 300 s"
    );
    assert_eq!(cursor(&store)["mark"], super::fake::ts(40));
}

#[tokio::test]
async fn teams_filter_the_issues_and_an_oauth_token_is_sent_as_bearer() {
    let fake = FakeLinear::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let teams = toml::Value::Array(vec!["OPS".into()]);
    let report = sync(
        &store,
        "lin",
        "linear",
        config(
            &server.url(),
            &[("teams", teams), ("token", OAUTH_TOKEN.into())],
        ),
    )
    .await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 1);
    let auth = server.requests()[0]
        .header("authorization")
        .map(str::to_string);
    assert_eq!(auth, Some(format!("Bearer {OAUTH_TOKEN}")));
}

#[tokio::test]
async fn nested_history_and_comments_past_fifty_are_paged_with_their_own_queries() {
    let fake = FakeLinear::new();
    let mut big = issue(1, "ENG", 500);
    big["history"] = (0..120)
        .map(|n| assignment(&format!("h{n}"), n, "dee"))
        .collect();
    big["comments"] = (0..75)
        .map(|n| comment(&format!("c{n}"), n, "hi"))
        .collect();
    fake.set_issues(vec![big]);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "lin", "linear", config(&server.url(), &[])).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let k = kinds(&store);
    assert_eq!(
        (k["issue_assigned"], k["issue_comment"]),
        (120, 75),
        "{k:?}"
    );
    let ops: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_slice(&r.body).unwrap();
            b["operationName"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        ops,
        ["Issues", "IssueHistory", "IssueHistory", "IssueComments"]
    );
}

#[tokio::test]
async fn ratelimited_waits_for_the_reset_and_5xx_and_a_malformed_body_are_retried() {
    let fake = FakeLinear::new();
    populate(&fake);
    fake.fault("/graphql", ratelimited(Duration::from_millis(1200)));
    fake.fault("/graphql", TestResponse::status(502));
    fake.fault(
        "/graphql",
        TestResponse::text(200, "{\"data\": {\"issues\""),
    );
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let started = Instant::now();
    let report = sync(&store, "lin", "linear", config(&server.url(), &[])).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 9);
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the reset was waited for"
    );
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_nearly_spent_complexity_budget_waits_for_its_reset() {
    let fake = FakeLinear::new();
    fake.set_issues((1..=4).map(|n| issue(n, "ENG", n)).collect());
    fake.set_budget(1000, 10, Duration::from_millis(800));
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let started = Instant::now();
    let report = sync(
        &store,
        "lin",
        "linear",
        config(&server.url(), &[("page_size", 2.into())]),
    )
    .await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "two waits"
    );
    // A reset later than the source may wait fails it, as rate limited.
    fake.set_budget(0, 0, Duration::from_secs(3600));
    let store = SharedMemoryStore::new();
    let report = sync(
        &store,
        "lin",
        "linear",
        config(&server.url(), &[("max_wait_secs", 1.into())]),
    )
    .await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::RateLimited),
        "{report:?}"
    );
}

#[tokio::test]
async fn errors_in_a_200_and_a_refused_key_fail_clearly_without_the_token() {
    let fake = FakeLinear::new();
    populate(&fake);
    fake.fault(
        "/graphql",
        graphql_error("Argument Validation Error", "INVALID_INPUT"),
    );
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "lin", "linear", config(&server.url(), &[])).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    let error = report.error.clone().unwrap();
    assert!(error.contains("Argument Validation Error"), "{error}");
    assert!(error.contains("source lin"), "{error}");
    assert!(
        error.contains("INVALID_INPUT") && error.contains("issues"),
        "{error}"
    );

    let report = sync(
        &store,
        "lin",
        "linear",
        config(
            &server.url(),
            &[("token", "lin_api_wrong_key_000000".into())],
        ),
    )
    .await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::Unauthorized),
        "{report:?}"
    );
    let error = report.error.unwrap();
    assert!(error.contains("rejected the token"), "{error}");
    assert!(!error.contains("lin_api_wrong"), "{error}");
}

#[tokio::test]
async fn a_failure_half_way_keeps_the_pages_stored_and_the_next_sync_goes_on_from_them() {
    let fake = FakeLinear::new();
    fake.set_issues((1..=6).map(|n| issue(n, "ENG", n)).collect());
    // The third page's query keeps failing.
    fake.break_page_after("issue-3", TestResponse::text(500, "internal error"));
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let cfg = || {
        config(
            &server.url(),
            &[
                ("page_size", 2.into()),
                ("batch_size", 1.into()),
                ("max_retries", 0.into()),
            ],
        )
    };
    let report = sync(&store, "lin", "linear", cfg()).await;
    assert_eq!(report.error_kind, Some(ErrorKind::Http), "{report:?}");
    store.with(|s| assert_eq!(s.events.len(), 4, "two pages stored"));
    let c = cursor(&store);
    assert_eq!(c["pass"]["after"], "issue-3", "{c}");
    assert!(c.get("mark").is_none(), "{c}");

    fake.mend_pages();
    server.clear_requests();
    let report = sync(&store, "lin", "linear", cfg()).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 2);
    assert_eq!(server.requests().len(), 1, "the pass went on from its page");
    store.with(|s| assert_eq!(s.events.len(), 6));
    let c = cursor(&store);
    assert!(c.get("pass").is_none(), "{c}");
    assert_eq!(c["mark"], super::fake::ts(6));
}

#[tokio::test]
async fn a_stored_page_cursor_linear_refuses_starts_the_pass_again_without_losing_anything() {
    let fake = FakeLinear::new();
    fake.set_issues((1..=6).map(|n| issue(n, "ENG", n)).collect());
    fake.break_page_after("issue-3", TestResponse::text(500, "internal error"));
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let cfg = || {
        config(
            &server.url(),
            &[
                ("page_size", 2.into()),
                ("batch_size", 1.into()),
                ("max_retries", 0.into()),
            ],
        )
    };
    let report = sync(&store, "lin", "linear", cfg()).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    assert_eq!(cursor(&store)["pass"]["after"], "issue-3");
    // The issue the cursor names is deleted, and one older is added.
    fake.mend_pages();
    fake.set_issues(
        [1, 2, 4, 5, 6]
            .into_iter()
            .map(|n| issue(n, "ENG", n))
            .chain([issue(7, "ENG", 0)])
            .collect(),
    );
    server.clear_requests();
    let report = sync(&store, "lin", "linear", cfg()).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        server.requests().len(),
        1 + 3,
        "refused, then the whole list"
    );
    assert_eq!(
        (report.events_written, report.duplicates),
        (3, 3),
        "{report:?}"
    );
    assert!(cursor(&store).get("pass").is_none());
}

#[tokio::test]
async fn a_rate_limit_resetting_past_max_wait_stops_the_sync_with_its_pages_stored() {
    let fake = FakeLinear::new();
    fake.set_issues((1..=6).map(|n| issue(n, "ENG", n)).collect());
    fake.break_page_after("issue-5", ratelimited(Duration::from_secs(3600)));
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let cfg = || {
        config(
            &server.url(),
            &[("page_size", 2.into()), ("max_wait_secs", 1.into())],
        )
    };
    let started = Instant::now();
    let report = sync(&store, "lin", "linear", cfg()).await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::RateLimited),
        "{report:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no hour-long wait"
    );
    let error = report.error.unwrap();
    assert!(
        error.contains("longer than this source may wait"),
        "{error}"
    );
    store.with(|s| assert_eq!(s.events.len(), 2, "the first page is stored"));
    assert_eq!(cursor(&store)["pass"]["after"], "issue-5");

    fake.mend_pages();
    let report = sync(&store, "lin", "linear", cfg()).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        (report.events_written, report.duplicates),
        (4, 0),
        "{report:?}"
    );
}
