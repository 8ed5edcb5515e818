//! The github source through the CLI against athena-sources' fake of GitHub's REST API, which
//! serves its documented shapes: `Link` paging with absolute URLs, ETags and 304s, rate-limit
//! headers, 429 with `Retry-After`, 5xx bursts, malformed bodies, 401 and 404. Nothing reaches
//! the internet.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::github::fake::{
    comment, commit, issue, list_of, pull, release, run, ts, FakeGitHub, TOKEN,
};
use serde_json::{json, Value};

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"gh\"\ntype = \"github\"\napi_url = \"{}\"\nowner = \"o\"\nrepo = \"r\"\ntoken = \"${{GH_TEST_TOKEN}}\"\nretry_delay_ms = 20\n{extra}\n",
        server.url()
    )
}

fn sync(env: &TestEnv) -> (Run, Value) {
    sync_with(env, &[])
}

/// `sync --format json` with more arguments.
fn sync_with(env: &TestEnv, args: &[&str]) -> (Run, Value) {
    env.sync_json_with(args, &[("GH_TEST_TOKEN", TOKEN)])
}

/// A sync of one stream with nothing new: one request, answered 304.
fn assert_one_304(env: &TestEnv) {
    let (_, json) = sync(env);
    let s = &json["sources"][0];
    assert_eq!(
        (s["requests"].as_u64(), s["not_modified"].as_u64()),
        (Some(1), Some(1)),
        "{json}"
    );
}

fn kinds(env: &TestEnv) -> BTreeMap<String, usize> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT kind, count(*) FROM events WHERE source_id = 'gh' GROUP BY kind")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// List requests per list since the last call, and how many were answered 304 is not visible
/// here: the sync's JSON says.
fn requests_per_list(server: &TestServer) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in server.requests() {
        if let Some(list) = list_of(r.path()) {
            *out.entry(list).or_default() += 1;
        }
    }
    server.clear_requests();
    out
}

fn populate(fake: &FakeGitHub) {
    // 250 issues and 20 pull requests in the issues list (GitHub lists both there).
    let mut issues: Vec<Value> = (1..=250).map(|n| issue(n, n)).collect();
    for n in 251..=270 {
        let mut i = issue(n, n);
        i["pull_request"] = json!({"url": "https://api.github.com/repos/o/r/pulls/1"});
        issues.push(i);
    }
    // Five issues closed.
    for i in issues.iter_mut().take(5) {
        i["state"] = json!("closed");
        i["closed_at"] = i["updated_at"].clone();
    }
    fake.set("issues", issues);
    fake.set("pulls", (301..=420).map(|n| pull(n, n * 2)).collect());
    fake.set("commits", (1..=130).map(commit).collect());
    fake.set("comments", (1..=30).map(|n| comment(n, n)).collect());
    fake.set("releases", (1..=5).map(release).collect());
    fake.set("runs", (1..=10).map(run).collect());
}

#[test]
fn full_sync_pages_then_an_unchanged_repository_costs_one_304_per_stream() {
    let fake = FakeGitHub::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));

    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let want: BTreeMap<String, usize> = [
        ("commit", 130),
        ("issue_opened", 250),
        ("issue_closed", 5),
        ("pull_request_opened", 120),
        ("pull_request_merged", 120),
        ("issue_comment", 30),
        ("release_published", 5),
        ("workflow_run_completed", 10),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(kinds(&env), want);
    // ceil(N / 100) list requests per stream.
    let want_requests: BTreeMap<&str, usize> = [
        ("commits", 2),
        ("issues", 3),
        ("pulls", 2),
        ("comments", 1),
        ("releases", 1),
        ("runs", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(requests_per_list(&server), want_requests);
    assert_eq!(json["sources"][0]["requests"], 10);

    // Ids from natural keys, and the fields an agent recalls by.
    let md = env.metadata("gh", "o/r#307:pull_request_merged");
    assert_eq!(md["base"], "main");
    let (actor, title, url): (String, String, String) = env
        .store()
        .query_row(
            "SELECT actor, title, url FROM events WHERE id = 'o/r#3:issue_opened'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (actor.as_str(), title.as_str(), url.as_str()),
        (
            "ann",
            "opened #3: issue 3",
            "https://github.com/o/r/issues/3"
        )
    );
    let outcomes: Vec<(String, i64)> = {
        let c = env.store();
        let mut s = c
            .prepare("SELECT coalesce(outcome, '-'), count(*) FROM events WHERE kind = 'workflow_run_completed' GROUP BY 1 ORDER BY 1")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        outcomes,
        [("failure".to_string(), 3), ("success".to_string(), 7)]
    );
    let cursor = env.cursor("gh").unwrap();
    assert_eq!(cursor["streams"]["issues"]["mark"], ts(270));
    assert!(cursor["streams"]["issues"]["etag"].is_string());

    // Nothing new: one request per stream, each answered 304, nothing written.
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(
        (s["requests"].as_u64(), s["not_modified"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(s["events_written"], 0);
    assert!(requests_per_list(&server).values().all(|&n| n == 1));

    // New issues and a closed one: only the issues list answers 200, with one page.
    fake.add("issues", vec![issue(271, 300), issue(272, 301)]);
    let mut closed = issue(10, 302);
    closed["created_at"] = json!(ts(10));
    closed["state"] = json!("closed");
    closed["closed_at"] = json!(ts(302));
    fake.add("issues", vec![closed]);
    // The old copy of issue 10 is replaced by the closed one.
    fake.edit_list("issues", |list| {
        let first = list
            .iter()
            .position(|i| i["number"] == 10 && i["state"] == "open");
        list.remove(first.unwrap());
    });
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 3, "{json}");
    assert_eq!(
        (s["requests"].as_u64(), s["not_modified"].as_u64()),
        (Some(6), Some(5))
    );
    assert_eq!(kinds(&env)["issue_closed"], 6);
    assert!(env
        .ids("gh")
        .contains(&format!("o/r#10:issue_closed@{}", ts(302))));
    assert_eq!(
        env.cursor("gh").unwrap()["streams"]["issues"]["mark"],
        ts(302)
    );

    // A branch merged late brings a commit dated before the stored mark (within the day
    // the commits stream reads back): it is stored; the commits already stored are not again.
    let mut late = commit(1000);
    late["commit"]["committer"]["date"] = json!(ts(129));
    late["commit"]["author"]["date"] = json!(ts(129));
    fake.add("commits", vec![late]);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    assert!(env.ids("gh").contains(&format!("{:040x}", 1000)));
    assert_eq!(
        env.cursor("gh").unwrap()["streams"]["commits"]["mark"],
        ts(130)
    );

    // The list changed once more (ETag), then stays: 304s again.
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 0);
    assert!(s["not_modified"].as_u64().unwrap() >= 5);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["not_modified"], 6);
}

#[test]
fn rate_limits_retry_after_5xx_bursts_and_a_malformed_page_are_survived() {
    let fake = FakeGitHub::new();
    populate(&fake);
    let reset = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    fake.fault(
        "/commits",
        TestResponse::json(
            403,
            &json!({"message": "API rate limit exceeded for user."}),
        )
        .header("X-RateLimit-Remaining", "0")
        .header("X-RateLimit-Reset", &reset),
    );
    fake.fault(
        "/pulls",
        TestResponse::json(
            429,
            &json!({"message": "You have exceeded a secondary rate limit."}),
        )
        .header("Retry-After", "1"),
    );
    for _ in 0..3 {
        fake.fault(
            "/issues",
            TestResponse::text(502, "<html><h1>502 Bad Gateway</h1></html>"),
        );
    }
    fake.fault(
        "/releases",
        TestResponse::text(200, "[{\"id\": 1, \"tag_na"),
    );
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["status"], "ok");
    assert_eq!(s["events_written"], 130 + 255 + 240 + 30 + 5 + 10);
    assert_eq!(s["retries"], 4, "three 502s and one malformed page: {json}");
    assert_eq!(s["rate_limit_waits"], 2, "{json}");
    assert_eq!(s["requests"], 10 + 6);
}

#[test]
fn a_bad_token_a_missing_repository_and_a_broken_page_fail_clearly_without_the_token() {
    let fake = FakeGitHub::new();
    populate(&fake);
    let server = fake.start();

    // 401: at once, no retry.
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let run = Run(env
        .cmd(&["sync"])
        .env("GH_TEST_TOKEN", "ghp_wrong_token_value")
        .output()
        .unwrap());
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr()
            .contains("GitHub rejected the token for source gh"),
        "{}",
        run.describe()
    );
    assert!(!run.describe().contains("ghp_wrong_token_value"));
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");
    server.clear_requests();

    // 404: names the repository.
    let env = TestEnv::new();
    env.write_config(&config(&server, "").replace("repo = \"r\"", "repo = \"missing\""));
    let (run, _) = sync(&env);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("repository o/missing not found"),
        "{}",
        run.describe()
    );

    // A page that stays malformed: retried, then the source fails naming the URL; what was
    // stored before stays, with its cursor.
    for _ in 0..10 {
        fake.fault("/pulls", TestResponse::text(200, "{not json"));
    }
    let env = TestEnv::new();
    env.write_config(&config(&server, "max_retries = 2"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1);
    let error = json["sources"][0]["error"].as_str().unwrap().to_string();
    assert!(error.contains("/repos/o/r/pulls?"), "{error}");
    assert!(error.contains("not the JSON expected"), "{error}");
    assert_eq!(
        kinds(&env)["commit"],
        130,
        "the stream read before the failure is kept"
    );
    assert!(env.cursor("gh").unwrap()["streams"]
        .get("commits")
        .is_some());

    // A stream that keeps failing does not keep the later ones from being read.
    for _ in 0..10 {
        fake.fault("/issues/comments", TestResponse::text(500, "oops"));
    }
    let env2 = TestEnv::new();
    env2.write_config(&config(&server, "max_retries = 1"));
    let (run, json) = sync(&env2);
    assert_eq!(run.code(), 1);
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(error.contains("issue_comments: GET"), "{error}");
    let stored = kinds(&env2);
    assert_eq!(stored.get("issue_comment"), None);
    assert_eq!(
        (
            stored["release_published"],
            stored["workflow_run_completed"]
        ),
        (5, 10)
    );
    fake.clear_faults();

    // `validate` checks the token against the repository.
    let run = Run(env
        .cmd(&["validate"])
        .env("GH_TEST_TOKEN", "ghp_wrong_token_value")
        .output()
        .unwrap());
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.describe().contains("GitHub rejected the token"));

    // Nor in the most verbose logs of a successful sync.
    let run = Run(env
        .cmd(&["-vvv", "sync"])
        .env("GH_TEST_TOKEN", TOKEN)
        .output()
        .unwrap());
    assert!(run.stderr().contains("gh"), "{}", run.describe());
    assert!(!run.describe().contains(TOKEN), "the token was logged");

    // The token is nowhere in the store.
    let dump = env.store_text();
    assert!(!dump.contains(TOKEN) && !dump.contains("ghp_"));
}

#[test]
fn sigkill_mid_stream_then_resume_stores_exactly_the_uninterrupted_events() {
    let fake = FakeGitHub::new();
    populate(&fake);
    fake.set_delay(Duration::from_millis(60));
    let server = fake.start();
    assert_kill_safe(
        &config(&server, "batch_size = 7"),
        "gh",
        &[("GH_TEST_TOKEN", TOKEN)],
        |full, rng| full / 6 + rng.below(full / 2),
    );
}

#[test]
fn a_stream_stopped_half_way_resumes_its_pass_without_loss_or_duplicates() {
    let fake = FakeGitHub::new();
    populate(&fake);
    for _ in 0..4 {
        fake.fault(
            "issues?state=all&sort=updated&direction=desc&per_page=100&page=3",
            TestResponse::text(500, "boom"),
        );
    }
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "max_retries = 1\nstreams = [\"issues\"]"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    // Pages 1 and 2 (the 200 most recently updated: 20 pull requests, 180 issues) are stored,
    // and the cursor says how far the pass went.
    assert_eq!(json["sources"][0]["events_written"], 180, "{json}");
    let cursor = env.cursor("gh").unwrap();
    let pass = &cursor["streams"]["issues"]["pass"];
    assert_eq!(pass["max_mark"], ts(270), "{cursor}");
    assert!(cursor["streams"]["issues"].get("mark").is_none());
    assert!(cursor["streams"]["issues"].get("etag").is_none());

    // Meanwhile two issues are opened; the next sync stores them and the rest, once each.
    fake.clear_faults();
    fake.add("issues", vec![issue(271, 400), issue(272, 401)]);
    server.clear_requests();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 72 + 5, "{json}");
    assert_eq!(requests_per_list(&server)["issues"], 3);
    let ids = env.ids("gh");
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    assert_eq!(kinds(&env)["issue_opened"], 252);
    let cursor = env.cursor("gh").unwrap();
    assert_eq!(cursor["streams"]["issues"]["mark"], ts(401));
    assert!(cursor["streams"]["issues"].get("pass").is_none());

    // Complete: the next sync is one 304.
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["not_modified"], 1, "{json}");
}

#[test]
fn a_run_still_running_is_stored_once_it_completes_and_a_branch_change_starts_commits_over() {
    let fake = FakeGitHub::new();
    populate(&fake);
    let mut running = run(11);
    running["status"] = json!("in_progress");
    running["conclusion"] = json!(null);
    fake.add("runs", vec![running]);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(
        &server,
        "streams = [\"workflow_runs\", \"commits\"]",
    ));
    let (run_1, json) = sync(&env);
    assert_eq!(run_1.code(), 0, "{}", run_1.describe());
    assert_eq!(kinds(&env)["workflow_run_completed"], 10, "{json}");

    fake.complete_run(3011, 40);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    assert!(env.ids("gh").contains(&"run:3011:1".to_string()));

    // A branch merged late brings a commit dated days before the mark: the next pass asks
    // GitHub for what the branch has beyond the stored head, whatever the dates.
    let mut old = commit(2000);
    old["commit"]["committer"]["date"] = json!("2023-11-01T00:00:00Z");
    let mut merge = commit(2001);
    merge["parents"] = json!([{"sha": format!("{:040x}", 130)}, {"sha": format!("{:040x}", 2000)}]);
    fake.add("commits", vec![old, merge]);
    server.clear_requests();
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 2, "{json}");
    assert!(env.ids("gh").contains(&format!("{:040x}", 2000)));
    let compared: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().contains("/compare/"))
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(
        compared,
        [format!("/repos/o/r/compare/{:040x}...{:040x}", 130, 2001)],
        "from the stored head to the listed tip"
    );
    assert_eq!(
        env.cursor("gh").unwrap()["streams"]["commits"]["head"],
        format!("{:040x}", 2001)
    );
    // Another branch is read from its start, whatever the old branch's mark and head.
    let config_text = config(&server, "streams = [\"commits\"]\nbranch = \"develop\"");
    env.write_config(&config_text);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
    assert_eq!(json["sources"][0]["duplicates"], 132, "{json}");
    let cursor = env.cursor("gh").unwrap();
    assert_eq!(cursor["streams"]["commits"]["branch"], "develop");
    let asked: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/commits"))
        .map(|r| r.query("sha").unwrap_or_default())
        .collect();
    assert_eq!(asked.last().map(String::as_str), Some("develop"));
}

/// A fake with a 30-commit branch, synced once (commits only) into a fresh store.
fn thirty_commits_synced(extra: &str) -> (FakeGitHub, TestServer, TestEnv) {
    let fake = FakeGitHub::new();
    fake.set("commits", (1..=30).map(commit).collect());
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(
        &server,
        &format!("streams = [\"commits\"]\n{extra}"),
    ));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 30, "{json}");
    (fake, server, env)
}

#[test]
fn a_force_pushed_branch_whose_stored_head_is_gone_is_read_whole_again() {
    let (fake, server, env) = thirty_commits_synced("");
    assert_eq!(
        env.cursor("gh").unwrap()["streams"]["commits"]["head"],
        format!("{:040x}", 30)
    );
    // The last five commits are rewritten (new SHAs, same times): the stored head is gone.
    let mut rewritten: Vec<Value> = (1..=25).map(commit).collect();
    for n in 26..=30 {
        let mut c = commit(n);
        c["sha"] = json!(format!("{:040x}", 5000 + n));
        rewritten.push(c);
    }
    fake.set("commits", rewritten);
    server.clear_requests();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert!(
        paths.iter().any(|p| p.contains("/compare/")),
        "the compare was tried first: {paths:?}"
    );
    assert_eq!(
        env.cursor("gh").unwrap()["streams"]["commits"]["head"],
        format!("{:040x}", 5030)
    );
    // And the next change is read by compare from the new head.
    fake.add("commits", vec![commit(31)]);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    assert_eq!(json["sources"][0]["duplicates"], 0, "{json}");
}

#[test]
fn an_edited_comment_is_stored_as_an_edit_beside_its_first_text() {
    let fake = FakeGitHub::new();
    fake.set("comments", (1..=5).map(|n| comment(n, n)).collect());
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "streams = [\"issue_comments\"]"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    // Edited: GitHub moves it to the top of the list sorted by update.
    let mut comments: Vec<Value> = (1..=5).map(|n| comment(n, n)).collect();
    comments[2]["body"] = json!("comment 3, corrected");
    comments[2]["updated_at"] = json!(ts(100));
    fake.set("comments", comments);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    let edit = format!("comment:9003:edited@{}", ts(100));
    assert!(env.ids("gh").contains(&edit));
    let (first, edited): (String, String) = env
        .store()
        .query_row(
            "SELECT (SELECT body FROM events WHERE id = 'comment:9003'),
                    (SELECT body FROM events WHERE id = ?1)",
            [&edit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (first.as_str(), edited.as_str()),
        ("comment 3", "comment 3, corrected")
    );
    assert_eq!(kinds(&env)["issue_comment_edited"], 1);
}

#[test]
fn a_comparison_is_paged_and_one_stopped_half_way_is_read_again_from_the_stored_head() {
    let (fake, _server, env) = thirty_commits_synced("max_retries = 0");
    // 150 new commits: two pages of comparison; the second fails once.
    fake.add("commits", (31..=180).map(commit).collect());
    let tip = format!("{:040x}", 180);
    fake.fault(
        &format!("...{tip}?per_page=100&page=2"),
        TestResponse::json(502, &json!({"message": "Server Error"})),
    );
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 100, "{json}");
    let cursor = env.cursor("gh").unwrap();
    assert_eq!(
        cursor["streams"]["commits"]["head"],
        format!("{:040x}", 30),
        "the head moves only with a comparison read whole: {cursor}"
    );
    assert!(cursor["streams"]["commits"]["pass"].is_object(), "{cursor}");
    // Read again from the stored head: the first page comes back as duplicates.
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(
        (s["events_written"].as_u64(), s["duplicates"].as_u64()),
        (Some(50), Some(100)),
        "{json}"
    );
    assert_eq!(env.cursor("gh").unwrap()["streams"]["commits"]["head"], tip);
    assert_eq!(kinds(&env)["commit"], 180);
    // Nothing new: one request, answered 304.
    assert_one_304(&env);
}

#[test]
fn a_run_that_waits_past_the_first_page_is_asked_for_by_id_until_it_completes() {
    let now = chrono::Utc::now();
    let at = |minutes_ago: i64| {
        (now - chrono::Duration::minutes(minutes_ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let fake = FakeGitHub::new();
    let mut waiting = run(11);
    waiting["status"] = json!("waiting");
    waiting["conclusion"] = json!(null);
    waiting["created_at"] = json!(at(120));
    let mut runs: Vec<Value> = (1..=10).map(run).collect();
    runs.push(waiting);
    fake.set("runs", runs);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "streams = [\"workflow_runs\"]"));
    let (run_1, json) = sync(&env);
    assert_eq!(run_1.code(), 0, "{}", run_1.describe());
    assert_eq!(json["sources"][0]["events_written"], 10, "{json}");
    let waiting_ids = |env: &TestEnv| {
        env.cursor("gh").unwrap()["streams"]["workflow_runs"]
            .get("waiting")
            .cloned()
    };
    assert_eq!(waiting_ids(&env), Some(json!([{"id": 3011, "attempt": 1}])));
    // 120 newer runs: the waiting one moves to the second page.
    let newer: Vec<Value> = (3000..3120)
        .map(|n| {
            let mut r = run(n);
            r["created_at"] = json!(at(100 - (n - 3000) as i64 / 2));
            r["updated_at"] = r["created_at"].clone();
            r
        })
        .collect();
    fake.add("runs", newer);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 120, "{json}");
    // Nothing new in the list (a 304); the waiting run is asked for, still waits, and stays.
    server.clear_requests();
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(
        (s["events_written"].as_u64(), s["requests"].as_u64()),
        (Some(0), Some(2)),
        "{json}"
    );
    assert_eq!(waiting_ids(&env), Some(json!([{"id": 3011, "attempt": 1}])));
    // Approved, it completes; the first page does not change.
    fake.complete_run(3011, 5000);
    server.clear_requests();
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 1, "{json}");
    assert_eq!(s["not_modified"], 1, "{json}");
    assert!(env.ids("gh").contains(&"run:3011:1".to_string()));
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(
        asked,
        ["/repos/o/r/actions/runs", "/repos/o/r/actions/runs/3011"]
    );
    // No longer waiting: the next sync is one 304.
    assert_eq!(waiting_ids(&env), None);
    assert_one_304(&env);
}

#[test]
fn an_attempt_that_completed_before_a_re_run_is_stored_too() {
    let now = chrono::Utc::now();
    let fake = FakeGitHub::new();
    let running = |n: u64| {
        let mut r = run(n);
        r["status"] = json!("in_progress");
        r["conclusion"] = json!(null);
        r["created_at"] = json!(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        r
    };
    fake.set("runs", vec![run(10), running(11), running(12)]);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "streams = [\"workflow_runs\"]"));
    sync(&env);
    // Between two syncs, attempt 1 of each fails and a re-run starts; run 12's re-run even
    // completes. The list shows only attempt 2 of each.
    for id in [3011, 3012] {
        fake.complete_run(id, 50);
        fake.rerun(id);
    }
    fake.complete_run(3012, 55);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 3, "{json}");
    let ids = env.ids("gh");
    for id in ["run:3011:1", "run:3012:1", "run:3012:2"] {
        assert!(ids.contains(&id.to_string()), "{id} missing");
    }
    assert_eq!(
        env.cursor("gh").unwrap()["streams"]["workflow_runs"]["waiting"],
        json!([{"id": 3011, "attempt": 2}])
    );
    // Attempt 2 completes.
    fake.complete_run(3011, 60);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    assert!(env.ids("gh").contains(&"run:3011:2".to_string()));
}

#[test]
fn a_run_waiting_for_weeks_past_githubs_limit_is_let_go() {
    let fake = FakeGitHub::new();
    let mut ancient = run(12); // created in 2023, never finished
    ancient["status"] = json!("queued");
    ancient["conclusion"] = json!(null);
    let mut recent = run(11);
    recent["status"] = json!("waiting");
    recent["conclusion"] = json!(null);
    recent["created_at"] = json!(chrono::Utc::now().to_rfc3339());
    fake.set("runs", vec![run(10), recent, ancient]);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "streams = [\"workflow_runs\"]"));
    sync(&env);
    let waiting = |env: &TestEnv| {
        env.cursor("gh").unwrap()["streams"]["workflow_runs"]
            .get("waiting")
            .cloned()
    };
    // Only the recent one is followed.
    assert_eq!(waiting(&env), Some(json!([{"id": 3011, "attempt": 1}])));
    // Weeks go by (its start moves back past the limit): it is let go.
    fake.edit_run(3011, |r| {
        r["created_at"] = json!(ts(11));
        r["run_started_at"] = json!(ts(11));
    });
    sync(&env);
    assert_eq!(waiting(&env), None);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["requests"], 1, "{json}");
}

#[test]
fn an_edited_issue_or_pull_request_is_stored_as_an_edit_and_other_updates_are_not() {
    let fake = FakeGitHub::new();
    fake.set("issues", (1..=5).map(|n| issue(n, n)).collect());
    fake.set("pulls", (11..=12).map(|n| pull(n, n)).collect());
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(
        &server,
        "streams = [\"issues\", \"pull_requests\"]",
    ));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let first = json["sources"][0]["events_written"].as_u64().unwrap();
    assert!(first > 0, "{json}");
    assert!(!kinds(&env).contains_key("issue_edited"));
    // Issue 3's body is edited; issue 4 only gets a label (updated, same text); pull request
    // 12's title changes.
    let mut issues: Vec<Value> = (1..=5).map(|n| issue(n, n)).collect();
    issues[2]["body"] = json!("body of issue 3, with the steps to reproduce");
    issues[2]["updated_at"] = json!(ts(100));
    issues[3]["labels"] = json!([{"name": "bug"}]);
    issues[3]["updated_at"] = json!(ts(101));
    fake.set("issues", issues);
    let mut pulls: Vec<Value> = (11..=12).map(|n| pull(n, n)).collect();
    pulls[1]["title"] = json!("pr 12, renamed");
    pulls[1]["updated_at"] = json!(ts(102));
    fake.set("pulls", pulls);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 2, "{json}");
    let ids = env.ids("gh");
    assert!(
        ids.contains(&format!("o/r#3:issue_edited@{}", ts(100))),
        "{ids:?}"
    );
    assert!(
        ids.contains(&format!("o/r#12:pull_request_edited@{}", ts(102))),
        "{ids:?}"
    );
    let body: String = env
        .store()
        .query_row(
            "SELECT body FROM events WHERE kind = 'issue_edited'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(body, "body of issue 3, with the steps to reproduce");
    // A store from before digests (none kept, no flag in the cursor): the next sync reads the
    // lists whole once to record them, storing nothing new...
    {
        let c = env.store();
        c.execute("DELETE FROM source_state WHERE source_id = 'gh'", [])
            .unwrap();
        c.execute(
            "UPDATE cursors SET cursor = json_remove(cursor,
                '$.streams.issues.digests', '$.streams.pull_requests.digests')
             WHERE source_id = 'gh'",
            [],
        )
        .unwrap();
    }
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 0, "{json}");
    assert!(s["duplicates"].as_u64().unwrap() > 0, "{json}");
    let cursor = env.cursor("gh").unwrap();
    assert_eq!(cursor["streams"]["issues"]["digests"], true, "{cursor}");
    // ...so that an issue untouched for long is still seen edited afterwards.
    let mut issues: Vec<Value> = (1..=5).map(|n| issue(n, n)).collect();
    issues[2]["body"] = json!("body of issue 3, with the steps to reproduce");
    issues[2]["updated_at"] = json!(ts(100));
    issues[0]["title"] = json!("issue 1, clarified");
    issues[0]["updated_at"] = json!(ts(200));
    fake.set("issues", issues);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    assert!(env
        .ids("gh")
        .contains(&format!("o/r#1:issue_edited@{}", ts(200))));
}

/// The cursor main wrote before the github source ran on the source kit, byte for byte, after
/// a full sync of [`populate`] with `branch = "main"`.
const CURSOR_V1_BEFORE_THE_KIT: &str = r#"{"version":1,"streams":{"commits":{"branch":"main","head":"0000000000000000000000000000000000000082","mark":"2023-11-15T00:23:20Z","etag":"W/\"14f778442bb0e64539268912d8cc7686e5214ddad16943ccd84bf8854d515451\""},"issue_comments":{"mark":"2023-11-14T22:43:20Z","etag":"W/\"bd90a2e569e768ad0b29a31d9c060fbca8b1e4f50f4ffb12291308bcbfce0708\""},"issues":{"mark":"2023-11-15T02:43:20Z","etag":"W/\"0816b0987975df897541ab42326c51fdab35772368bbdbd8154022a6671e2f45\"","digests":true},"pull_requests":{"mark":"2023-11-15T12:14:20Z","etag":"W/\"b5eac81d2086b4e2f1ff208b82674755b11a2bbce581ec1b1355317eb4943744\"","digests":true},"releases":{"mark":"2023-11-14T22:18:20Z","etag":"W/\"e145fa57ef34e6b898a62a2f87f899ab74fcbafd567a962cc7d2f20fe2df5ab4\""},"workflow_runs":{"mark":"2023-11-14T22:24:20Z","etag":"W/\"a91f39d45a62c6a257f371a82035fcd349234009d3efdb8169bec2090faa279b\""}}}"#;

#[test]
fn a_cursor_written_before_the_source_kit_is_written_the_same_and_reads_on() {
    let fake = FakeGitHub::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "branch = \"main\""));
    let (run, _) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(
        env.cursor_text("gh").unwrap(),
        CURSOR_V1_BEFORE_THE_KIT,
        "the cursor's text on disk changed"
    );
    // A store holding the old text reads on from it: nothing new is one 304 per stream...
    env.store()
        .execute(
            "UPDATE cursors SET cursor = ?1 WHERE source_id = 'gh'",
            [CURSOR_V1_BEFORE_THE_KIT],
        )
        .unwrap();
    server.clear_requests();
    let (_, json) = sync(&env);
    let s = &json["sources"][0];
    assert_eq!(
        (s["requests"].as_u64(), s["not_modified"].as_u64()),
        (Some(6), Some(6)),
        "{json}"
    );
    assert_eq!(s["events_written"], 0, "{json}");
    // ...and new items are stored once: the commit by comparison from the stored head.
    env.store()
        .execute(
            "UPDATE cursors SET cursor = ?1 WHERE source_id = 'gh'",
            [CURSOR_V1_BEFORE_THE_KIT],
        )
        .unwrap();
    fake.add("commits", vec![commit(131)]);
    fake.add("issues", vec![issue(271, 400)]);
    fake.add("comments", vec![comment(31, 271)]);
    server.clear_requests();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    // (The comment at the stored mark is read again: marks are inclusive.)
    assert_eq!(s["events_written"], 3, "{json}");
    assert_eq!(
        (
            kinds(&env)["commit"],
            kinds(&env)["issue_opened"],
            kinds(&env)["issue_comment"]
        ),
        (131, 251, 31)
    );
    assert!(server
        .requests()
        .iter()
        .any(|r| r.path() == format!("/repos/o/r/compare/{:040x}...{:040x}", 130, 131)));
    let cursor = env.cursor("gh").unwrap();
    assert_eq!(
        cursor["streams"]["commits"]["head"],
        format!("{:040x}", 131)
    );
    assert_eq!(cursor["streams"]["issues"]["mark"], ts(400));
}
