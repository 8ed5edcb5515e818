//! The circleci source through the CLI against athena-sources' fake of CircleCI's API v2,
//! which serves its documented shapes: `items` lists paged by `next_page_token`, pipelines
//! newest first, workflows and jobs per pipeline and workflow, `Circle-Token` checked, 429
//! with `Retry-After`, 5xx, malformed bodies, 401 and 404. Nothing reaches the internet.

use std::collections::BTreeMap;
use std::time::Duration;

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::circleci::fake::{FakeCircleci, TOKEN};
use serde_json::{json, Value};

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"ci\"\ntype = \"circleci\"\napi_url = \"{}/api/v2\"\nproject_slug = \"gh/acme/app\"\ntoken = \"${{CIRCLECI_TEST_TOKEN}}\"\nretry_delay_ms = 20\n{extra}\n",
        server.url()
    )
}

fn sync(env: &TestEnv) -> (Run, Value) {
    env.sync_json_with(&[], &[("CIRCLECI_TEST_TOKEN", TOKEN)])
}

fn kinds(env: &TestEnv) -> BTreeMap<String, usize> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT kind, count(*) FROM events WHERE source_id = 'ci' GROUP BY kind")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// 45 pipelines (three pages), each with a `ci` workflow; every fifth failed in `test`; the
/// last one's workflow still running. Returns the running workflow's id.
fn populate(fake: &FakeCircleci) -> String {
    let mut running = String::new();
    for n in 1..=45 {
        let branch = if n % 3 == 0 { "dev" } else { "main" };
        let p = fake.pipeline(branch, n, "ann");
        if n == 45 {
            running = fake.workflow(&p, "ci", "running", &[("build", "running")]);
        } else if n % 5 == 0 {
            fake.workflow(
                &p,
                "ci",
                "failed",
                &[
                    ("build", "success"),
                    ("test", "failed"),
                    ("deploy", "blocked"),
                ],
            );
        } else {
            fake.workflow(
                &p,
                "ci",
                "success",
                &[("build", "success"), ("test", "success")],
            );
        }
    }
    running
}

#[test]
fn first_sync_then_incremental_then_a_running_workflow_followed_to_completion() {
    let fake = FakeCircleci::new();
    let running = populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));

    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let k = kinds(&env);
    assert_eq!(
        (
            k["pipeline_created"],
            k["workflow_completed"],
            k["job_failed"]
        ),
        (45, 44, 8),
        "{json}"
    );
    let meta = env.metadata("ci", "workflow:wf-5");
    assert_eq!(meta["status"], "failed");
    assert_eq!(meta["jobs"]["failed"], json!(["test"]));
    assert_eq!(
        meta["jobs"]["by_status"],
        json!({"blocked": 1, "failed": 1, "success": 1})
    );
    assert_eq!(meta["duration_secs"], 240);
    let outcome: Option<String> = env
        .store()
        .query_row(
            "SELECT outcome FROM events WHERE id = 'workflow:wf-5'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome.as_deref(), Some("failure"));
    let cursor = env.cursor("ci").unwrap();
    assert_eq!(cursor["version"], 1);
    assert_eq!(cursor["mark"]["number"], 45, "{cursor}");
    assert_eq!(cursor["pending"][0]["id"], running.as_str(), "{cursor}");

    // Nothing new: nothing written (the overlap comes back as duplicates).
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
    assert!(
        json["sources"][0]["duplicates"].as_u64().unwrap() > 0,
        "{json}"
    );

    // The running workflow finishes, two pipelines come: only they are written.
    fake.finish(&running, "success", &[("build", "success")]);
    let p = fake.pipeline("main", 46, "bob");
    fake.workflow(&p, "ci", "success", &[("build", "success")]);
    fake.pipeline("main", 47, "bob");
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 4, "{json}");
    assert!(env.ids("ci").contains(&format!("workflow:{running}")));
    let cursor = env.cursor("ci").unwrap();
    assert_eq!(cursor["mark"]["number"], 47, "{cursor}");
    assert!(cursor.get("pending").is_none(), "{cursor}");
    let ids = env.ids("ci");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
}

#[test]
fn a_workflow_still_running_past_the_overlap_is_followed_by_id_and_a_re_run_is_found() {
    let fake = FakeCircleci::new();
    let p1 = fake.pipeline("main", 0, "ann");
    let w1 = fake.workflow(
        &p1,
        "ci",
        "on_hold",
        &[("build", "success"), ("approve", "on_hold")],
    );
    let p2 = fake.pipeline("main", 5, "ann");
    let w2 = fake.workflow(&p2, "ci", "failed", &[("test", "failed")]);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, "overlap = \"1h\""));
    let (run, _) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    // A pipeline two hours later: the old ones fall out of the overlap.
    let p3 = fake.pipeline("main", 125, "bob");
    fake.workflow(&p3, "ci", "success", &[]);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 2, "{json}");
    // The held workflow is approved and finishes; the failed one is re-run (a new workflow
    // in its pipeline, inside the overlap of the newest).
    fake.finish(
        &w1,
        "success",
        &[
            ("build", "success"),
            ("approve", "success"),
            ("deploy", "success"),
        ],
    );
    let p4 = fake.pipeline("main", 130, "bob");
    let rerun = fake.workflow(&p3, "ci", "success", &[]);
    server.clear_requests();
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 3, "{json}");
    let ids = env.ids("ci");
    for id in [
        format!("workflow:{w1}"),
        format!("workflow:{rerun}"),
        format!("pipeline:{p4}"),
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    assert!(ids.contains(&format!("workflow:{w2}")));
    // The old pipelines were not listed again: the held workflow was asked for by id.
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert!(
        asked.contains(&format!("/api/v2/workflow/{w1}")),
        "{asked:?}"
    );
    assert!(
        !asked.contains(&format!("/api/v2/pipeline/{p1}/workflow")),
        "{asked:?}"
    );
}

#[test]
fn rate_limits_5xx_and_a_malformed_page_are_survived() {
    let fake = FakeCircleci::new();
    populate(&fake);
    fake.fault(
        "/pipeline",
        TestResponse::json(429, &json!({"message": "Rate limit exceeded"}))
            .header("Retry-After", "1"),
    );
    fake.fault(
        "/workflow",
        TestResponse::text(502, "<html>502 Bad Gateway</html>"),
    );
    fake.fault("/job", TestResponse::text(200, "{\"items\": [{\"id"));
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["status"], "ok");
    assert_eq!(s["events_written"], 45 + 44 + 8, "{json}");
    assert_eq!(s["retries"], 2, "one 502 and one malformed page: {json}");
    assert_eq!(s["rate_limit_waits"], 1, "{json}");
}

#[test]
fn a_bad_token_a_missing_project_and_a_broken_page_fail_clearly_without_the_token() {
    let fake = FakeCircleci::new();
    populate(&fake);
    let server = fake.start();

    // 401: at once, no retry, the source and URL named, the token not.
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) =
        env.sync_json_with(&[], &[("CIRCLECI_TEST_TOKEN", "circle-wrong-token-value")]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["error_kind"], "unauthorized", "{json}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("CircleCI rejected the token for source ci"),
        "{error}"
    );
    assert!(
        error.contains("/api/v2/project/gh/acme/app/pipeline"),
        "{error}"
    );
    assert!(!run.describe().contains("circle-wrong-token-value"));
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");

    // 404: the project named, a config error.
    let env = TestEnv::new();
    env.write_config(&config(&server, "").replace("gh/acme/app", "gh/acme/missing"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1);
    assert_eq!(json["sources"][0]["error_kind"], "config", "{json}");
    assert!(
        run.stderr()
            .contains("CircleCI project gh/acme/missing not found"),
        "{}",
        run.describe()
    );

    // A page that stays malformed: retried, then the source fails naming the URL; the
    // pipelines stored before stay, with a cursor that says how far the pass came.
    for _ in 0..3 {
        fake.fault(
            "pipeline?page-token=off%3A20",
            TestResponse::text(200, "{not json"),
        );
    }
    let env = TestEnv::new();
    env.write_config(&config(&server, "max_retries = 2"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1);
    let error = json["sources"][0]["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("/project/gh/acme/app/pipeline?page-token="),
        "{error}"
    );
    assert_eq!(kinds(&env)["pipeline_created"], 20);
    assert_eq!(env.cursor("ci").unwrap()["pass"]["bottom"]["number"], 26);
    fake.clear_faults();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["duplicates"], 0, "{json}");
    assert_eq!(kinds(&env)["pipeline_created"], 45);

    // `validate` checks the token against the project.
    let run = Run(env
        .cmd(&["validate"])
        .env("CIRCLECI_TEST_TOKEN", "circle-wrong-token-value")
        .output()
        .unwrap());
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.describe().contains("CircleCI rejected the token"));

    // Nor in the most verbose logs of a successful sync, nor in the store.
    let run = Run(env
        .cmd(&["-vvv", "sync"])
        .env("CIRCLECI_TEST_TOKEN", TOKEN)
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(!run.describe().contains(TOKEN), "the token was logged");
    assert!(!env.store_text().contains(TOKEN));
}

#[test]
fn sigkill_mid_sync_then_resume_stores_exactly_the_uninterrupted_events() {
    let fake = FakeCircleci::new();
    fake.generate(150);
    fake.set_delay(Duration::from_millis(4));
    let server = fake.start();
    assert_kill_safe(
        &config(&server, "batch_size = 7"),
        "ci",
        &[("CIRCLECI_TEST_TOKEN", TOKEN)],
        |full, rng| full / 6 + rng.below(full / 2),
    );
}

#[test]
fn three_thousand_pipelines_in_bounded_memory() {
    // A first sync of 30 pipelines sets the baseline: the binary, the runtime, the store.
    let small = FakeCircleci::new();
    small.generate(30);
    let small_server = small.start();
    let env = TestEnv::new();
    env.write_config(&config(&small_server, ""));
    let (run, _) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let baseline_mib = children_max_rss_kib() / 1024;

    let fake = FakeCircleci::new();
    fake.generate(3000);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(
        json["sources"][0]["events_written"],
        3000 + 3000 + 300,
        "{json}"
    );
    // The peak over both children: the large sync's, unless it stayed under the small one's.
    let rss_mib = children_max_rss_kib() / 1024;
    eprintln!("peak RSS: {baseline_mib} MiB for 30 pipelines, {rss_mib} MiB for 3,000");
    assert!(
        rss_mib < baseline_mib + 16,
        "3,000 pipelines took {rss_mib} MiB, 30 took {baseline_mib} MiB"
    );
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
}
