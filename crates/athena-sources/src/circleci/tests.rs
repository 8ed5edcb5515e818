//! The `circleci` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake CircleCI.

use athena_core::memory::SharedMemoryStore;
use athena_core::{ErrorKind, SourceStatusKind};
use athena_http::testing::{TestResponse, TestServer};
use serde_json::json;

use super::fake::{FakeCircleci, SLUG, TOKEN};
use crate::synced::{stored, sync};

fn config(server: &TestServer, extra: &[(&str, toml::Value)]) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("api_url".into(), format!("{}/api/v2", server.url()).into());
    table.insert("token".into(), TOKEN.into());
    table.insert("project_slug".into(), SLUG.into());
    table.insert("retry_delay_ms".into(), 10.into());
    for (k, v) in extra {
        table.insert(k.to_string(), v.clone());
    }
    table
}

fn count(store: &SharedMemoryStore) -> usize {
    store.with(|s| s.events.len())
}

fn requests(server: &TestServer, part: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.target.contains(part))
        .count()
}

#[tokio::test]
async fn pipelines_workflows_and_failed_jobs_then_a_running_workflow_and_a_re_run_later() {
    let fake = FakeCircleci::new();
    let p1 = fake.pipeline("main", 0, "ann");
    let w1 = fake.workflow(
        &p1,
        "ci",
        "success",
        &[
            ("build", "success"),
            ("test", "success"),
            ("lint", "success"),
        ],
    );
    let p2 = fake.pipeline("feature/x", 10, "bob");
    let w2 = fake.workflow(
        &p2,
        "ci",
        "failed",
        &[("build", "success"), ("test", "failed")],
    );
    let w3 = fake.workflow(&p2, "deploy", "not_run", &[]);
    let p3 = fake.pipeline("main", 20, "ann");
    let w4 = fake.workflow(&p3, "ci", "running", &[("build", "running")]);
    let server = fake.start();
    let store = SharedMemoryStore::new();

    let report = sync(&store, "ci", "circleci", config(&server, &[])).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let ev = |k: &str, id: &str| (k.to_string(), id.to_string());
    assert_eq!(
        stored(&store, 0),
        [
            ev("job_failed", &format!("job:{w2}-job-1")),
            ev("pipeline_created", &format!("pipeline:{p1}")),
            ev("pipeline_created", &format!("pipeline:{p2}")),
            ev("pipeline_created", &format!("pipeline:{p3}")),
            ev("workflow_completed", &format!("workflow:{w1}")),
            ev("workflow_completed", &format!("workflow:{w2}")),
        ]
    );
    // Three jobs: two pages of the job list.
    assert_eq!(
        requests(&server, &format!("workflow/{w1}/job?page-token=off%3A2")),
        1
    );
    store.with(|s| {
        let e = s
            .events
            .iter()
            .find(|e| e.id == format!("workflow:{w2}"))
            .unwrap();
        assert_eq!(e.metadata["jobs"]["failed"], json!(["test"]));
        assert_eq!(e.context["branch"], "feature/x");
        assert_eq!(e.context["project_slug"], SLUG);
        let p = s
            .events
            .iter()
            .find(|e| e.id == format!("pipeline:{p2}"))
            .unwrap();
        assert_eq!(p.actor.as_deref(), Some("bob"));
    });
    let cursor = store.with(|s| s.cursors["ci"].as_json().clone());
    assert_eq!(cursor["mark"]["number"], 3, "{cursor}");
    let pending: Vec<&str> = cursor["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(pending, [w3.as_str(), w4.as_str()], "{cursor}");
    assert!(cursor.get("pass").is_none(), "{cursor}");

    // Later: the running workflow fails, the first pipeline's workflow is re-run (a new
    // workflow in an old pipeline, within the overlap), and a new pipeline comes.
    fake.finish(&w4, "failed", &[("build", "failed")]);
    let w5 = fake.workflow(&p1, "ci", "success", &[("build", "success")]);
    let p4 = fake.pipeline("main", 30, "cy");
    let n = count(&store);
    server.clear_requests();
    let report = sync(&store, "ci", "circleci", config(&server, &[])).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        stored(&store, n),
        [
            ev("job_failed", &format!("job:{w4}-job-0")),
            ev("pipeline_created", &format!("pipeline:{p4}")),
            ev("workflow_completed", &format!("workflow:{w4}")),
            ev("workflow_completed", &format!("workflow:{w5}")),
        ]
    );
    assert!(report.duplicates > 0, "the overlap is read again");
    // The overlap's workflows are listed again (for re-runs), the stored ones' jobs are not.
    assert_eq!(requests(&server, &format!("pipeline/{p1}/workflow")), 1);
    assert_eq!(requests(&server, &format!("workflow/{w1}/job")), 0);
    assert_eq!(requests(&server, &format!("workflow/{w5}/job")), 1);
    assert_eq!(
        requests(&server, &format!("/workflow/{w4}")),
        2,
        "asked for by id, then its jobs"
    );
    let cursor = store.with(|s| s.cursors["ci"].as_json().clone());
    assert_eq!(cursor["mark"]["number"], 4, "{cursor}");
    assert_eq!(cursor["pending"][0]["id"], w3.as_str(), "{cursor}");
    assert_eq!(cursor["pending"].as_array().unwrap().len(), 1, "{cursor}");

    // A branch: only its pipelines, from the start.
    let other = SharedMemoryStore::new();
    let report = sync(
        &other,
        "ci",
        "circleci",
        config(&server, &[("branch", "feature/x".into())]),
    )
    .await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let ids = stored(&other, 0);
    assert!(ids.contains(&ev("pipeline_created", &format!("pipeline:{p2}"))));
    assert_eq!(
        ids.iter().filter(|(k, _)| k == "pipeline_created").count(),
        1
    );
}

#[tokio::test]
async fn a_pass_cut_short_resumes_below_what_it_stored_without_loss_or_duplicates() {
    let fake = FakeCircleci::new();
    fake.generate(65);
    let server = fake.start();
    for _ in 0..3 {
        fake.fault(
            "pipeline?page-token=off%3A40",
            TestResponse::text(502, "bad gateway"),
        );
    }
    let store = SharedMemoryStore::new();
    let table = config(
        &server,
        &[("max_retries", 1.into()), ("batch_size", 5.into())],
    );
    let report = sync(&store, "ci", "circleci", table.clone()).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::Http),
        "{:?}",
        report.error
    );
    let cursor = store.with(|s| s.cursors["ci"].as_json().clone());
    assert_eq!(cursor["pass"]["top"]["number"], 65, "{cursor}");
    assert_eq!(cursor["pass"]["bottom"]["number"], 26, "{cursor}");
    assert!(cursor.get("mark").is_none());
    fake.clear_faults();
    server.clear_requests();
    let report = sync(&store, "ci", "circleci", table).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.duplicates, 0);
    let workflow_lists = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/workflow"))
        .count();
    assert_eq!(workflow_lists, 25, "only the pipelines not stored");
    // 65 pipelines, 65 workflows, 6 failed jobs.
    assert_eq!(count(&store), 65 + 65 + 6);
    let cursor = store.with(|s| s.cursors["ci"].as_json().clone());
    assert_eq!(cursor["mark"]["number"], 65, "{cursor}");
}

#[tokio::test]
async fn rate_limits_and_5xx_are_retried_and_bad_answers_fail_clearly() {
    let fake = FakeCircleci::new();
    let p = fake.pipeline("main", 0, "ann");
    fake.workflow(&p, "ci", "success", &[("build", "success")]);
    let server = fake.start();
    fake.fault(
        "/pipeline",
        TestResponse::json(429, &json!({"message": "Rate limit exceeded"}))
            .header("Retry-After", "1"),
    );
    fake.fault("/workflow", TestResponse::text(503, "unavailable"));
    let store = SharedMemoryStore::new();
    let started = std::time::Instant::now();
    let report = sync(&store, "ci", "circleci", config(&server, &[])).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(report.stats.rate_limit_waits, 1);
    assert_eq!(report.stats.retries, 1);
    assert_eq!(count(&store), 2);

    // A wrong token: 401, at once, the source and the URL named, the token not.
    let mut bad = config(&server, &[]);
    bad.insert("token".into(), "wrong-token-value".into());
    let report = sync(&SharedMemoryStore::new(), "ci", "circleci", bad).await;
    let error = report.error.unwrap();
    assert_eq!(report.error_kind, Some(ErrorKind::Unauthorized), "{error}");
    assert!(
        error.contains("CircleCI rejected the token for source ci"),
        "{error}"
    );
    assert!(
        error.contains("/api/v2/project/gh/acme/app/pipeline"),
        "{error}"
    );
    assert!(!error.contains("wrong-token-value"), "{error}");

    // A project that does not exist: a config error naming it.
    let mut missing = config(&server, &[]);
    missing.insert("project_slug".into(), "gh/acme/nope".into());
    let report = sync(&SharedMemoryStore::new(), "ci", "circleci", missing).await;
    let error = report.error.unwrap();
    assert_eq!(report.error_kind, Some(ErrorKind::Config), "{error}");
    assert!(error.contains("project gh/acme/nope not found"), "{error}");

    // A malformed body, again and again: the URL named.
    for _ in 0..3 {
        fake.fault("/pipeline", TestResponse::text(200, "{\"items\": [{\"id\""));
    }
    let report = sync(
        &SharedMemoryStore::new(),
        "ci",
        "circleci",
        config(&server, &[("max_retries", 1.into())]),
    )
    .await;
    let error = report.error.unwrap();
    assert_eq!(report.error_kind, Some(ErrorKind::Http), "{error}");
    assert!(error.contains("/project/gh/acme/app/pipeline"), "{error}");
    // JSON without a list.
    fake.clear_faults();
    fake.fault(
        "/pipeline",
        TestResponse::json(200, &json!({"message": "odd"})),
    );
    fake.fault(
        "/pipeline",
        TestResponse::json(200, &json!({"message": "odd"})),
    );
    let report = sync(
        &SharedMemoryStore::new(),
        "ci",
        "circleci",
        config(&server, &[("max_retries", 1.into())]),
    )
    .await;
    let error = report.error.unwrap();
    assert!(
        error.contains("no \"items\" array") && error.contains("/pipeline"),
        "{error}"
    );
}

#[tokio::test]
async fn a_pipeline_failing_half_way_keeps_following_the_workflow_it_had_found_finished() {
    let fake = FakeCircleci::new();
    let p1 = fake.pipeline("main", 0, "ann");
    let w1 = fake.workflow(&p1, "ci", "running", &[("build", "running")]);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let table = config(&server, &[("max_retries", 0.into())]);
    let report = sync(&store, "ci", "circleci", table.clone()).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);

    // w1 finishes and a re-run w2 is added; asking for w1 by id fails once, and so does
    // w2's job list, after the pass had read w1 as finished in the same pipeline.
    fake.finish(&w1, "failed", &[("build", "failed")]);
    let w2 = fake.workflow(&p1, "ci", "success", &[("build", "success")]);
    fake.fault(&format!("/{w1}"), TestResponse::text(500, "boom"));
    fake.fault(&format!("/{w2}/job"), TestResponse::text(500, "boom"));
    let report = sync(&store, "ci", "circleci", table.clone()).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    let cursor = store.with(|s| s.cursors["ci"].as_json().clone());
    assert_eq!(cursor["pending"][0]["id"], w1.as_str(), "{cursor}");

    let report = sync(&store, "ci", "circleci", table).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let ids: Vec<String> = store.with(|s| s.events.iter().map(|e| e.id.clone()).collect());
    for id in [
        format!("workflow:{w1}"),
        format!("workflow:{w2}"),
        format!("job:{w1}-job-0"),
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
}
