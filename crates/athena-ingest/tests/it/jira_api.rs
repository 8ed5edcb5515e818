//! The jira source through the CLI against athena-sources' fake of Jira Cloud's REST API v3,
//! which serves its documented shapes: `search/jql` paged by `nextPageToken` and `isLast`,
//! `expand=changelog` with only the first histories, `issue/{id}/changelog` and
//! `issue/{id}/comment` paged by `startAt`, 401 for wrong credentials, 404, and 429 with
//! `Retry-After`.

use std::time::Duration;

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::jira::fake::{adf, time, FakeJira, EMAIL, TOKEN};
use serde_json::{json, Value};

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"jr\"\ntype = \"jira\"\nbase_url = \"{}\"\nemail = \"{EMAIL}\"\ntoken = \"${{JIRA_TEST_TOKEN}}\"\nretry_delay_ms = 20\n{extra}\n",
        server.url()
    )
}

fn sync_with(env: &TestEnv, token: &str) -> (Run, Value) {
    env.sync_json_with(&[], &[("JIRA_TEST_TOKEN", token)])
}

fn sync(env: &TestEnv) -> (Run, Value) {
    sync_with(env, TOKEN)
}

/// (kind, id) of stored events, in storage order.
fn stored(env: &TestEnv) -> Vec<(String, String)> {
    env.kinds_and_ids("jr")
}

/// 30 issues in two projects (three search pages); every third moved along and commented on,
/// issue 1 with a long history and a rich description comment.
fn populate(fake: &FakeJira) {
    for n in 1..=30 {
        let project = if n % 2 == 0 { "ABC" } else { "OPS" };
        fake.issue(project, n, n, &format!("issue number {n}"));
    }
    for n in (1..=30).step_by(3) {
        fake.transition(n, 100 + n, "Bob", "In Progress");
        fake.comment(n, 101 + n, "Cy", adf(&format!("looking at {n}")));
    }
    fake.assign(1, 140, "Bob", "Cy");
    fake.transition(1, 141, "Cy", "In Review");
    fake.resolve(1, 142, "Ann");
    fake.comment(
        1,
        143,
        "Ann",
        json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Fixed by "},
                {"type": "mention", "attrs": {"id": "acc-bob", "text": "@Bob"}},
                {"type": "text", "text": " in "},
                {"type": "text", "text": "PR 7", "marks": [{"type": "link", "attrs": {"href": "https://git.example/pr/7"}}]}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [
                    {"type": "text", "text": "run "},
                    {"type": "text", "text": "make check", "marks": [{"type": "code"}]}]}]}]}
        ]}),
    );
}

#[test]
fn first_sync_then_only_new_and_changed_issues() {
    let fake = FakeJira::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));

    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let events = stored(&env);
    let kinds = [
        "issue_created",
        "issue_transitioned",
        "issue_assigned",
        "issue_resolved",
        "issue_comment",
    ];
    let counts: Vec<usize> = kinds.iter().map(|k| count(&events, k)).collect();
    assert_eq!(counts, [30, 12, 1, 1, 11], "{json}");
    assert_eq!(json["sources"][0]["events_written"], 55);
    let (actor, body, url): (String, String, String) = env
        .store()
        .query_row(
            "SELECT actor, body, url FROM events WHERE kind = 'issue_comment' AND body LIKE 'Fixed%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(actor, "Ann");
    assert_eq!(
        body,
        "Fixed by @Bob in PR 7 (https://git.example/pr/7)\n\n- run `make check`"
    );
    assert!(url.starts_with(&format!("{}/browse/OPS-1?focusedCommentId=", server.url())));
    let cursor = env.cursor("jr").unwrap();
    assert_eq!(
        cursor["updated_ms"],
        time(143).timestamp_millis(),
        "{cursor}"
    );

    // Nothing new: the overlap is read again, nothing is written.
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
    assert!(
        json["sources"][0]["duplicates"].as_u64().unwrap() > 0,
        "{json}"
    );

    // A transition on an old issue, an edited comment, and a new issue: only they are stored.
    let h = fake.transition(2, 300, "Ann", "Done");
    let c = fake.comment(4, 301, "Bob", adf("first"));
    fake.edit_comment(4, c, 302, "Bob", adf("second"));
    fake.issue("ABC", 31, 303, "brand new");
    let n = stored(&env).len();
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 4, "{json}");
    let mut new = stored(&env)[n..].to_vec();
    new.sort();
    assert_eq!(
        new,
        [
            ("issue_comment".to_string(), format!("comment:{c}")),
            (
                "issue_comment_edited".to_string(),
                format!("comment:{c}:edited@{}", time(302).timestamp_millis())
            ),
            (
                "issue_created".to_string(),
                "issue:10031:created".to_string()
            ),
            (
                "issue_transitioned".to_string(),
                format!("history:{h}:transitioned")
            ),
        ]
    );
}

#[test]
fn rate_limits_and_5xx_are_survived_and_errors_fail_clearly_without_the_token() {
    let fake = FakeJira::new();
    populate(&fake);
    fake.fault(
        "/search/jql",
        TestResponse::json(429, &json!({"errorMessages": ["Rate limit exceeded."]}))
            .header("Retry-After", "1"),
    );
    fake.fault("/issue/10004/comment", TestResponse::text(503, "busy"));
    fake.fault("/issue/10007/comment", TestResponse::text(500, "oops"));
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(
        (s["events_written"].as_u64(), s["rate_limit_waits"].as_u64()),
        (Some(55), Some(1)),
        "{json}"
    );
    assert_eq!(s["retries"], 2, "{json}");

    // 401: at once, no retry, the token never shown.
    server.clear_requests();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync_with(&env, "wrong-jira-token-value");
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert_eq!(json["sources"][0]["error_kind"], "unauthorized", "{json}");
    assert!(
        run.stderr()
            .contains("Jira rejected the credentials for source jr"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr().contains("/rest/api/3/search/jql"),
        "{}",
        run.describe()
    );
    assert!(!run.describe().contains("wrong-jira-token-value"));
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");

    // 404: a base_url that is not the site, named in the error.
    let env = TestEnv::new();
    env.write_config(
        &config(&server, "").replace(&server.url(), &format!("{}/nope", server.url())),
    );
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1);
    assert_eq!(json["sources"][0]["error_kind"], "http", "{json}");
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("/nope/rest/api/3/search/jql") && error.contains("404"),
        "{error}"
    );

    // A body that stays malformed: retried, then the source fails naming the URL; the issues
    // before it (all the others: its new history makes it the latest updated) stay stored,
    // with their cursor, and the next sync reads on.
    for _ in 0..3 {
        fake.fault(
            "/issue/10013/changelog",
            TestResponse::text(200, "{\"values\": [tr"),
        );
    }
    fake.transition(13, 150, "Bob", "Blocked");
    fake.transition(13, 151, "Bob", "Unblocked");
    let env = TestEnv::new();
    env.write_config(&config(&server, "max_retries = 2"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1);
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("/rest/api/3/issue/10013/changelog?"),
        "{error}"
    );
    assert!(error.contains("not the JSON expected"), "{error}");
    assert_eq!(
        count(&stored(&env), "issue_created"),
        29,
        "all but issue 13 kept"
    );
    assert_eq!(
        env.cursor("jr").unwrap()["updated_ms"],
        time(143).timestamp_millis(),
        "the mark of the last issue stored whole"
    );
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    // Issue 13: created, three transitions, a comment.
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    assert_eq!(stored(&env).len(), 57);

    // Nor in the most verbose logs, nor in the store.
    let run = Run(env
        .cmd(&["-vvv", "sync"])
        .env("JIRA_TEST_TOKEN", TOKEN)
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(!run.describe().contains(TOKEN), "the token was logged");
    assert!(!env.store_text().contains(TOKEN));
}

#[test]
fn sigkill_mid_sync_then_resume_stores_exactly_the_uninterrupted_events() {
    let fake = FakeJira::new();
    populate(&fake);
    fake.set_delay(Duration::from_millis(15));
    let server = fake.start();
    assert_kill_safe(
        &config(&server, "batch_size = 4"),
        "jr",
        &[("JIRA_TEST_TOKEN", TOKEN)],
        |full, rng| full / 6 + rng.below(full * 2 / 3),
    );
}

#[test]
fn a_large_site_is_read_in_bounded_memory() {
    let fake = FakeJira::generated(5000);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let started = std::time::Instant::now();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 15_000, "{json}");
    let rss_mib = children_max_rss_kib() / 1024;
    eprintln!("5000 issues in {:?}, {rss_mib} MiB", started.elapsed());
    assert!(rss_mib < 80, "5,000 issues took {rss_mib} MiB of memory");
    assert_eq!(
        env.cursor("jr").unwrap()["updated_ms"],
        time(4999).timestamp_millis()
    );
}
