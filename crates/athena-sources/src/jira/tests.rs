//! The `jira` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake Jira.

use athena_core::memory::SharedMemoryStore;
use athena_core::{ErrorKind, SourceConfig, SourceStatusKind};
use athena_http::testing::TestResponse;
use serde_json::{json, Value};

use super::fake::{adf, time, FakeJira, BEARER, EMAIL, TOKEN};
use crate::synced::{stored, sync};

fn config(url: &str) -> toml::Table {
    let mut table = toml::Table::new();
    for (key, value) in [("base_url", url), ("email", EMAIL), ("token", TOKEN)] {
        table.insert(key.into(), value.into());
    }
    table.insert("retry_delay_ms".into(), 10.into());
    table
}

fn pair(kind: &str, id: String) -> (String, String) {
    (kind.to_string(), id)
}

/// Three issues in two projects; issue 1 has five histories (more than the search gives
/// inline) and four comments (more than a page), one of them edited.
fn populate(fake: &FakeJira) -> Vec<u64> {
    fake.issue("ABC", 1, 10, "Login fails");
    fake.issue("ABC", 2, 11, "Slow search");
    fake.issue("OPS", 3, 12, "Disk full");
    let mut h = vec![
        fake.transition(1, 20, "Bob", "In Progress"),
        fake.assign(1, 21, "Bob", "Cy"),
        fake.transition(1, 22, "Cy", "In Review"),
        fake.assign(1, 23, "Cy", "Ann"),
        fake.resolve(1, 24, "Ann"),
    ];
    let c: Vec<u64> = (0..4)
        .map(|i| fake.comment(1, 30 + i, "Bob", adf(&format!("comment {i}"))))
        .collect();
    fake.edit_comment(1, c[1], 40, "Cy", adf("comment 1, corrected"));
    h.extend(c);
    h
}

#[tokio::test]
async fn a_full_sync_reads_issues_histories_and_comments_then_an_incremental_one_only_what_changed()
{
    let fake = FakeJira::new();
    let ids = populate(&fake);
    let (h, c) = (&ids[..5], &ids[5..]);
    let server = fake.start();
    let store = SharedMemoryStore::new();

    let report = sync(&store, "jr", "jira", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let mut want = vec![
        pair("issue_created", "issue:10001:created".into()),
        pair("issue_created", "issue:10002:created".into()),
        pair("issue_created", "issue:10003:created".into()),
        pair(
            "issue_transitioned",
            format!("history:{}:transitioned", h[0]),
        ),
        pair("issue_assigned", format!("history:{}:assigned", h[1])),
        pair(
            "issue_transitioned",
            format!("history:{}:transitioned", h[2]),
        ),
        pair("issue_assigned", format!("history:{}:assigned", h[3])),
        pair(
            "issue_transitioned",
            format!("history:{}:transitioned", h[4]),
        ),
        pair("issue_resolved", format!("history:{}:resolved", h[4])),
        pair(
            "issue_comment_edited",
            format!("comment:{}:edited@{}", c[1], time(40).timestamp_millis()),
        ),
    ];
    want.extend(
        c.iter()
            .map(|c| pair("issue_comment", format!("comment:{c}"))),
    );
    want.sort();
    assert_eq!(stored(&store, 0), want);
    store.with(|s| {
        let e = s
            .events
            .iter()
            .find(|e| e.kind == "issue_resolved")
            .unwrap();
        assert_eq!(e.actor.as_deref(), Some("Ann"));
        assert_eq!(e.occurred_at, time(24), "Jira's -0700 times stored as UTC");
        assert_eq!(e.context["issue_key"], "ABC-1");
        assert_eq!(
            e.url.as_deref(),
            Some(format!("{}/browse/ABC-1", server.url()).as_str())
        );
        let e = s
            .events
            .iter()
            .find(|e| e.kind == "issue_comment_edited")
            .unwrap();
        assert_eq!(
            (e.actor.as_deref(), e.body.as_str()),
            (Some("Cy"), "comment 1, corrected")
        );
    });
    let cursor = store.with(|s| s.cursors["jr"].as_json().clone());
    assert_eq!(cursor["version"], 1, "{cursor}");
    assert_eq!(
        cursor["updated_ms"],
        time(40).timestamp_millis(),
        "{cursor}"
    );

    // Later: a comment on issue 2, a new issue, and issue 3 moved to another project. Only
    // their new events are stored; the move changes the key, not the ids.
    let comment = fake.comment(2, 100, "Ann", adf("new comment"));
    fake.issue("ABC", 4, 101, "New one");
    fake.move_to(3, "ABC", 5, 102);
    let n = store.with(|s| s.events.len());
    let report = sync(&store, "jr", "jira", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        stored(&store, n),
        [
            pair("issue_comment", format!("comment:{comment}")),
            pair("issue_created", "issue:10004:created".into()),
        ]
    );
    let searches: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/search/jql"))
        .filter_map(|r| r.query("jql"))
        .collect();
    let since = time(40).timestamp_millis() - 10 * 60_000;
    assert_eq!(
        searches.last().unwrap(),
        &format!("updated >= {since} ORDER BY updated ASC"),
        "the mark less the overlap, in epoch ms"
    );
}

#[tokio::test]
async fn projects_and_jql_narrow_the_search_and_a_bearer_token_is_accepted() {
    let fake = FakeJira::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let mut table = config(&server.url());
    table.remove("email");
    table.remove("token");
    table.insert("bearer_token".into(), BEARER.into());
    table.insert("projects".into(), toml::Value::Array(vec!["OPS".into()]));
    table.insert("jql".into(), "issuetype = Task".into());
    let report = sync(&store, "jr", "jira", table).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        stored(&store, 0),
        [pair("issue_created", "issue:10003:created".into())]
    );
    let jql = server.requests()[0].query("jql").unwrap();
    assert_eq!(
        jql,
        "(project in (\"OPS\") AND (issuetype = Task)) AND updated >= 0 ORDER BY updated ASC"
    );
}

#[tokio::test]
async fn rate_limits_and_a_5xx_are_survived_and_a_malformed_page_fails_keeping_what_was_stored() {
    let fake = FakeJira::new();
    for n in 1..=25 {
        fake.issue("ABC", n, n, &format!("issue {n}"));
    }
    fake.fault(
        "/search/jql",
        TestResponse::json(429, &json!({"errorMessages": ["Rate limit exceeded."]}))
            .header("Retry-After", "1")
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", "2020-01-01T00:00:00Z"),
    );
    fake.fault(
        "/issue/10003/comment",
        TestResponse::text(502, "Bad Gateway"),
    );
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "jr", "jira", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(store.with(|s| s.events.len()), 25);
    assert_eq!(
        (report.stats.rate_limit_waits, report.stats.retries),
        (1, 1)
    );

    // Issue 11's comments (on the second search page) stay malformed: the issues before it
    // are kept, with a mark at the last of them; the error names the URL.
    for _ in 0..5 {
        fake.fault(
            "/issue/10011/comment",
            TestResponse::text(200, "{\"issues\": [{\"id\""),
        );
    }
    let store = SharedMemoryStore::new();
    let mut table = config(&server.url());
    table.insert("max_retries".into(), 1.into());
    let report = sync(&store, "jr", "jira", table).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    let error = report.error.unwrap();
    assert!(
        error.contains("/rest/api/3/issue/10011/comment?"),
        "{error}"
    );
    assert!(error.contains("not the JSON expected"), "{error}");
    assert_eq!(store.with(|s| s.events.len()), 10);
    let cursor = store.with(|s| s.cursors["jr"].as_json().clone());
    assert_eq!(
        cursor["updated_ms"],
        time(10).timestamp_millis(),
        "{cursor}"
    );
}

#[tokio::test]
async fn wrong_credentials_and_a_wrong_site_fail_with_their_kind_naming_the_url() {
    let fake = FakeJira::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let mut table = config(&server.url());
    table.insert("token".into(), "wrong-token-value".into());
    let report = sync(&store, "jr", "jira", table).await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::Unauthorized),
        "{:?}",
        report.error
    );
    let error = report.error.unwrap();
    assert!(
        error.contains("Jira rejected the credentials for source jr"),
        "{error}"
    );
    assert!(
        error.contains(&format!("{}/rest/api/3/search/jql", server.url())),
        "{error}"
    );
    assert!(!error.contains("wrong-token-value"), "{error}");
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");

    let report = sync(
        &store,
        "jr",
        "jira",
        config(&format!("{}/wrong", server.url())),
    )
    .await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::Http),
        "{:?}",
        report.error
    );
    assert!(report.error.unwrap().contains("HTTP 404"));
}

#[test]
fn credentials_and_filters_are_checked_as_the_config_is_read() {
    let check = |f: &dyn Fn(&mut toml::Table)| {
        let mut t = config("https://x.atlassian.net");
        f(&mut t);
        super::JiraSource::from_config(&SourceConfig::new("jr", "jira", t))
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(check(&|_| {}), None);
    let err = check(&|t| {
        t.remove("email");
    });
    assert!(err.unwrap().contains("email"));
    let err = check(&|t| {
        t.insert("bearer_token".into(), "b".into());
    });
    assert!(err.unwrap().contains("one or the other"));
    let err = check(&|t| {
        t.insert("jql".into(), "project = A ORDER BY created".into());
    });
    assert!(err.unwrap().contains("ORDER BY"));
    let err = check(&|t| {
        t.insert("base_url".into(), "ftp://x".into());
    });
    assert!(err.unwrap().contains("base_url"));
    let err = check(&|t| {
        t.insert("projects".into(), toml::Value::Array(vec!["A B".into()]));
    });
    assert!(err.unwrap().contains("not a project key"));
    let _: Value = json!(null);
}

#[tokio::test]
async fn a_429_waiting_past_max_wait_is_rate_limited_with_the_wait_the_server_asked_for() {
    use athena_core::kit::Async;
    use athena_core::{EventSource, SourceError};
    use futures_util::StreamExt;

    let fake = FakeJira::new();
    fake.issue("ABC", 1, 1, "issue 1");
    fake.fault(
        "/search/jql",
        TestResponse::json(429, &json!({"errorMessages": ["Rate limit exceeded."]}))
            .header("Retry-After", "3600"),
    );
    let server = fake.start();
    let mut table = config(&server.url());
    table.insert("max_wait_secs".into(), 60.into());
    let config = SourceConfig::new("jr", "jira", table);
    let mut source = Async::new(super::JiraSource::from_config(&config).unwrap());
    let results: Vec<_> = source.events(None).collect().await;
    source.close().await.unwrap();
    let err = results
        .into_iter()
        .find_map(Result::err)
        .expect("the sync fails");
    let wait = match &err {
        SourceError::RateLimited { retry_after, .. } => *retry_after,
        other => panic!("not rate limited: {other:?}"),
    };
    assert_eq!(wait, Some(std::time::Duration::from_secs(3600)), "{err}");
}
