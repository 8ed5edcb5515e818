//! The linear source through the CLI against athena-sources' fake of Linear's GraphQL API,
//! which serves its documented shapes: `pageInfo` paging of issues and of their nested
//! history and comments, `RATELIMITED` 400s with reset headers in epoch milliseconds, errors in
//! a 200, 5xx, malformed bodies and a refused key. Nothing reaches the internet.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::linear::fake::{
    assignment, comment, graphql_error, issue, ratelimited, state_change, ts, FakeLinear, TOKEN,
};
use serde_json::{json, Value};

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"lin\"\ntype = \"linear\"\napi_url = \"{}/graphql\"\ntoken = \"${{LINEAR_TEST_KEY}}\"\nretry_delay_ms = 20\n{extra}\n",
        server.url()
    )
}

fn sync(env: &TestEnv) -> (Run, Value) {
    env.sync_json_with(&[], &[("LINEAR_TEST_KEY", TOKEN)])
}

fn kinds(env: &TestEnv) -> BTreeMap<String, usize> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT kind, count(*) FROM events WHERE source_id = 'lin' GROUP BY kind")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// 12 issues of ENG, updated at minutes 101…112, the odd ones with a history and a comment:
/// 12 created + 6 × (state change, completion, assignment, comment) = 36 events.
fn populate(fake: &FakeLinear) {
    let issues = (1..=12)
        .map(|n| {
            let mut i = issue(n, "ENG", 100 + n);
            if n % 2 == 1 {
                i["history"] = json!([
                    state_change(&format!("h{n}a"), 50 + n, "Todo", "In Progress", "started"),
                    state_change(
                        &format!("h{n}b"),
                        100 + n,
                        "In Progress",
                        "Done",
                        "completed"
                    ),
                    assignment(&format!("h{n}c"), 60 + n, "dee"),
                ]);
                i["comments"] = json!([comment(&format!("c{n}"), 70 + n, "On it")]);
            }
            i
        })
        .collect();
    fake.set_issues(issues);
}

#[test]
fn a_first_sync_pages_every_issue_then_an_incremental_one_reads_only_the_changed() {
    let fake = FakeLinear::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "page_size = 5"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(
        (s["status"].as_str(), s["events_written"].as_u64()),
        (Some("ok"), Some(36)),
        "{json}"
    );
    assert_eq!(s["requests"], 3, "12 issues, 5 a page: {json}");
    let want: BTreeMap<String, usize> = [
        ("issue_assigned", 6),
        ("issue_comment", 6),
        ("issue_completed", 6),
        ("issue_created", 12),
        ("issue_state_changed", 6),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(kinds(&env), want);
    let meta = env.metadata("lin", "h3b:state");
    assert_eq!(meta["to_state_type"], "completed");
    let (context, actor, url): (String, String, String) = env
        .store()
        .query_row(
            "SELECT context, actor, url FROM events WHERE id = 'c5:comment'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let context: Value = serde_json::from_str(&context).unwrap();
    assert_eq!(
        (context["team"].as_str(), context["issue"].as_str()),
        (Some("ENG"), Some("ENG-5"))
    );
    assert_eq!(actor, "cy");
    assert!(url.ends_with("/comment/c5"), "{url}");
    assert_eq!(
        env.cursor("lin").unwrap(),
        json!({"version": 1, "mark": ts(112)})
    );

    // Nothing new: the 6 issues in the 5 minutes of overlap (two pages) come back as
    // duplicates.
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    let got = ["events_written", "duplicates", "requests"].map(|k| s[k].as_u64());
    assert_eq!(got, [Some(0), Some(18), Some(2)], "{json}");

    // One issue commented on, one created.
    fake.edit_issue("issue-2", |i| {
        i["updatedAt"] = json!(ts(200));
        i["comments"] = json!([comment("c2-new", 200, "A new comment")]);
    });
    fake.add_issue(issue(13, "ENG", 201));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 2, "{json}");
    assert_eq!(env.cursor("lin").unwrap()["mark"], ts(201));
    assert_eq!(env.ids("lin").len(), 38);
}

#[test]
fn sigkill_mid_sync_then_resume_stores_exactly_the_uninterrupted_events() {
    let fake = FakeLinear::new();
    populate(&fake);
    fake.set_delay(Duration::from_millis(60));
    let server = fake.start();
    assert_kill_safe(
        &config(&server, "page_size = 2\nbatch_size = 3"),
        "lin",
        &[("LINEAR_TEST_KEY", TOKEN)],
        |full, rng| full / 6 + rng.below(full / 2),
    );
}

#[test]
fn rate_limits_a_5xx_and_a_malformed_body_are_survived() {
    let fake = FakeLinear::new();
    populate(&fake);
    fake.fault("/graphql", ratelimited(Duration::from_millis(1500)));
    fake.fault(
        "/graphql",
        TestResponse::text(503, "<html>unavailable</html>"),
    );
    fake.fault("/graphql", TestResponse::text(200, "{\"data\": {\"iss"));
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let started = Instant::now();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 36, "{json}");
    assert_eq!(s["rate_limit_waits"], 1, "{json}");
    assert_eq!(s["retries"], 2, "{json}");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "the reset was waited for"
    );
}

#[test]
fn a_refused_key_and_an_error_in_a_200_fail_clearly_without_the_token() {
    let fake = FakeLinear::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let wrong = "lin_api_wrong0000000000000000000000";
    let (run, json) = env.sync_json_with(&[], &[("LINEAR_TEST_KEY", wrong)]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["error_kind"], "unauthorized", "{json}");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("Linear rejected the token of source lin"),
        "{json}"
    );
    assert_eq!(server.requests().len(), 1, "a refused key is not retried");
    assert!(!run.describe().contains(wrong), "the key was shown");

    fake.fault(
        "/graphql",
        graphql_error("Query too complex", "QUERY_TOO_COMPLEX"),
    );
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let error = json["sources"][0]["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("Query too complex (at issues) [QUERY_TOO_COMPLEX]"),
        "{error}"
    );
    assert!(error.contains("source lin"), "{error}");

    let (run, _) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(!env.store_text().contains(TOKEN));

    // `validate` asks who the key belongs to.
    server.clear_requests();
    let run = Run(env
        .cmd(&["validate"])
        .env("LINEAR_TEST_KEY", TOKEN)
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{}", run.describe());
    let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(body["operationName"], "Viewer");
    let run = Run(env
        .cmd(&["validate"])
        .env("LINEAR_TEST_KEY", wrong)
        .output()
        .unwrap());
    assert_ne!(run.code(), 0, "{}", run.describe());
    assert!(
        run.describe().contains("rejected the token"),
        "{}",
        run.describe()
    );
    assert!(!run.describe().contains(wrong), "the key was shown");
}

#[test]
fn a_large_workspace_is_synced_whole_in_bounded_memory() {
    let fake = FakeLinear::new();
    fake.generate(5_000);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "page_size = 50"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 20_000, "{json}");
    assert_eq!(s["requests"], 100, "{json}");
    // About 38 MiB when written; holding the workspace's events (20,000) would pass 64.
    let rss_mib = children_max_rss_kib() / 1024;
    eprintln!("peak RSS of the sync: {rss_mib} MiB");
    assert!(rss_mib < 64, "5,000 issues took {rss_mib} MiB of memory");
}
