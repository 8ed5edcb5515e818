//! `serve` as a process: api_log followed into the store, `/healthz`, `/readyz`,
//! `/metrics` (checked by promtool and against the store), SIGTERM, and the loopback rule.

use std::process::Stdio;
use std::time::Duration;

use crate::serve_support::*;
use crate::support::*;

/// Seconds from the time of `line(39)` to now.
fn newest_line_age() -> f64 {
    let at = chrono::DateTime::parse_from_rfc3339("2015-05-17T10:00:39Z").unwrap();
    (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0
}

fn api_log(id: &str, pattern: &str) -> String {
    format!("[[sources]]\nid = \"{id}\"\ntype = \"api_log\"\npaths = [\"{pattern}\"]\n")
}

#[test]
fn serve_stores_appended_lines_counts_them_in_metrics_and_stops_on_sigterm() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..0);
    env.write_config(&api_log("web", "logs/access.log"));
    let mut server = Server::start(&env);

    let health = server.must_get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.body, r#"{"status":"ok"}"#);

    append(&log, 0..25);
    wait_for("25 lines stored", || env.ids("web").len() == 25);
    append(&log, 25..40);
    wait_for("40 lines stored", || env.ids("web").len() == 40);

    let ready = server.must_get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);

    let metrics = server.must_get("/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.content_type, "text/plain; version=0.0.4");
    let stored = env.ids("web").len() as f64;
    assert_eq!(
        sample(
            &metrics.body,
            r#"athena_ingest_events_total{source="web",outcome="written"}"#
        ),
        stored
    );
    assert!(
        sample(
            &metrics.body,
            r#"athena_ingest_sync_runs_total{source="web",result="ok"}"#
        ) >= 2.0
    );
    // The newest line is dated 2015-05-17T10:00:39Z: the lag is the time since then.
    let lag = sample(
        &metrics.body,
        r#"athena_ingest_source_lag_seconds{source="web"}"#,
    );
    let since = newest_line_age();
    assert!(
        lag >= 0.0 && (since - 5.0..since + 60.0).contains(&lag),
        "{lag} vs {since}"
    );
    promtool_check(&metrics.body);

    // Lines appended just before the stop are either stored by the last run or left for the
    // next: never half-stored, never twice.
    append(&log, 40..60);
    let (code, stderr, took) = server.terminate();
    assert_eq!(code, Some(0), "serve's stderr:\n{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(stderr.contains("run ok"), "one line per run:\n{stderr}");

    // The store lock went with the process; a sync picks up whatever was left.
    let (run, _) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let ids = env.ids("web");
    assert_eq!(ids.len(), 60);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 60, "an event was stored twice");
}

#[test]
fn the_lag_of_a_source_with_nothing_new_is_read_from_the_store_at_start() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..40);
    env.write_config(&api_log("web", "logs/access.log"));
    let (run, _) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());

    // Serve stores nothing new, so the lag can come only from the store.
    let server = Server::start(&env);
    let metrics = server.must_get("/metrics");
    let lag = sample(
        &metrics.body,
        r#"athena_ingest_source_lag_seconds{source="web"}"#,
    );
    let since = newest_line_age();
    assert!(
        (since - 5.0..since + 60.0).contains(&lag),
        "{lag} vs {since}"
    );
    // And after a run that found nothing new.
    let ran =
        |body: &str| body.contains(r#"athena_ingest_sync_runs_total{source="web",result="ok"} 1"#);
    wait_for("a run", || ran(&server.must_get("/metrics").body));
    let metrics = server.must_get("/metrics");
    assert_eq!(
        sample(
            &metrics.body,
            r#"athena_ingest_events_total{source="web",outcome="written"}"#
        ),
        0.0,
        "nothing new was stored by serve"
    );
    let lag = sample(
        &metrics.body,
        r#"athena_ingest_source_lag_seconds{source="web"}"#,
    );
    assert!(
        (since - 5.0..since + 60.0).contains(&lag),
        "{lag} vs {since}"
    );
    promtool_check(&metrics.body);
}

#[test]
fn readyz_names_a_source_that_failed_its_last_three_runs_and_the_others_go_on() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..5);
    let config = format!(
        "{}\n{}",
        api_log("web", "logs/access.log"),
        api_log("gone", "missing-dir/access.log")
    );
    env.write_config(&config);
    let server = Server::start(&env);

    let mut last = None;
    wait_for("/readyz to answer 503", || {
        let r = server.must_get("/readyz");
        let unready = r.status == 503;
        last = Some(r);
        unready
    });
    let body: serde_json::Value = serde_json::from_str(&last.unwrap().body).unwrap();
    let failing = body["failing_sources"].as_array().unwrap();
    assert_eq!(failing.len(), 1, "{body}");
    assert_eq!(failing[0]["source"], "gone");
    assert!(failing[0]["consecutive_failures"].as_u64().unwrap() >= 3);
    let error = failing[0]["error"].as_str().unwrap();
    assert!(error.contains("directory does not exist"), "{error}");

    // The failing source does not hold the healthy one back.
    append(&log, 5..12);
    wait_for("the healthy source's lines stored", || {
        env.ids("web").len() == 12
    });
    assert_eq!(server.must_get("/healthz").status, 200);
}

#[test]
fn serve_refuses_a_non_loopback_listen_address() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    env.write_config(&api_log("web", "logs/access.log"));
    let run = env.run(&["serve", "--listen", "0.0.0.0:9464"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("api_token"), "{}", run.describe());
    assert!(
        !env.db().exists(),
        "the store was touched before the refusal"
    );
}

/// Runs `cmd`, which should refuse to start; one still running after 20 s (serving, which is
/// the bug) is killed and the test fails, rather than waiting for ever.
fn refused_in_time(mut cmd: std::process::Command) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after 20 s: it started serving. stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Run(child.wait_with_output().unwrap())
}

#[test]
fn an_empty_api_token_from_the_environment_no_longer_opens_a_public_address() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    env.write_config(&format!(
        "[serve]\napi_token = \"${{ATHENA_API_TOKEN}}\"\n\n{}",
        api_log("web", "logs/access.log")
    ));
    // Set but empty, as an empty line in an env file leaves it; every command refuses it.
    for args in [
        &["serve", "--listen", "0.0.0.0:9464"][..],
        &["serve", "--listen", "127.0.0.1:9464"][..],
        &["sync"][..],
    ] {
        let mut cmd = env.cmd(args);
        cmd.env("ATHENA_API_TOKEN", "");
        let run = refused_in_time(cmd);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.describe());
        assert!(
            run.stderr()
                .contains("athena.toml:2: key `serve.api_token`: is empty"),
            "{args:?}: {}",
            run.describe()
        );
        assert!(
            !env.db().exists(),
            "the store was touched before the refusal"
        );
    }
}

#[test]
fn a_short_api_token_no_longer_opens_a_public_address() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    env.write_config(&format!(
        "[serve]\napi_token = \"ab\"\n\n{}",
        api_log("web", "logs/access.log")
    ));
    let run = refused_in_time(env.cmd(&["serve", "--listen", "0.0.0.0:9464"]));
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("shorter than 16 characters")
            && run.stderr().contains("openssl rand -hex 32"),
        "{}",
        run.describe()
    );
    assert!(
        !env.db().exists(),
        "the store was touched before the refusal"
    );
}

#[test]
fn sigterm_during_a_run_commits_what_was_read_and_a_restart_stores_the_rest_once() {
    const LINES: usize = 200_000;
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..LINES);
    env.write_config(&api_log("web", "logs/access.log"));
    let mut server = Server::start(&env);
    wait_for("the first batch stored", || stored_count(&env, "web") > 0);
    let (code, stderr, took) = server.terminate();
    assert_eq!(code, Some(0), "serve's stderr:\n{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let at_stop = stored_count(&env, "web");
    assert!(at_stop > 0);

    // A second serve goes on from the saved cursor; nothing is stored twice.
    let server = Server::start(&env);
    wait_for("every line stored", || stored_count(&env, "web") >= LINES);
    drop(server);
    let distinct: i64 = env
        .store()
        .query_row(
            "SELECT count(DISTINCT id) FROM events WHERE source_id = 'web'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored_count(&env, "web"), LINES);
    assert_eq!(distinct as usize, LINES);
    eprintln!("stopped with {at_stop} of {LINES} lines stored, in {took:?}");
}

#[test]
fn a_second_sigterm_exits_at_once_and_the_store_stays_consistent() {
    const LINES: usize = 200_000;
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..LINES);
    env.write_config(&api_log("web", "logs/access.log"));
    let mut server = Server::start(&env);
    wait_for("the first batch stored", || stored_count(&env, "web") > 0);
    let (code, stderr, _) = server.terminate_with(&[libc::SIGTERM, libc::SIGTERM]);
    // Either the second signal came while the first was still stopping (130), or the first had
    // already finished the stop (0); a kill by the signal itself (None) would be a bug.
    assert!(matches!(code, Some(0 | 130)), "{code:?}; stderr:\n{stderr}");

    let (run, _) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let distinct: i64 = env
        .store()
        .query_row(
            "SELECT count(DISTINCT id) FROM events WHERE source_id = 'web'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored_count(&env, "web"), LINES);
    assert_eq!(distinct as usize, LINES);
}

#[test]
fn sighup_adds_and_removes_sources_and_a_broken_config_changes_nothing() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let (a, b) = (env.path("logs/a.log"), env.path("logs/b.log"));
    append(&a, 0..3);
    append(&b, 100..104);
    env.write_config(&api_log("a", "logs/a.log"));
    let mut server = Server::start(&env);
    wait_for("a's 3 lines stored", || stored_count(&env, "a") == 3);

    // Added: b starts.
    env.write_config(&format!(
        "{}\n{}",
        api_log("a", "logs/a.log"),
        api_log("b", "logs/b.log")
    ));
    server.signal(libc::SIGHUP);
    wait_for("b's 4 lines stored after SIGHUP", || {
        stored_count(&env, "b") == 4
    });

    // A config with errors: refused, both go on.
    env.write_config("[[sources]]\nid = \"a\"\ntype = \"no-such-type\"\n");
    server.signal(libc::SIGHUP);
    append(&b, 104..106);
    wait_for("b still read after a refused reload", || {
        stored_count(&env, "b") == 6
    });

    // Removed: a stops (its new lines are not read), b goes on.
    env.write_config(&api_log("b", "logs/b.log"));
    server.signal(libc::SIGHUP);
    let readyz = || server_ids(&server.must_get("/readyz").body);
    wait_for("a gone from /readyz", || readyz() == ["b"]);
    append(&a, 3..5);
    append(&b, 106..107);
    wait_for("b's next line stored", || stored_count(&env, "b") == 7);
    assert_eq!(stored_count(&env, "a"), 3, "a removed source was read");

    assert!(server.running(), "SIGHUP stopped serve");
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the config was not reloaded"), "{stderr}");
    assert!(stderr.contains("no-such-type"), "{stderr}");
}

#[test]
fn sighup_removing_a_source_drops_its_metric_series() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/a.log"), 0..3);
    append(&env.path("logs/b.log"), 100..102);
    env.write_config(&format!(
        "{}\n{}",
        api_log("gone", "logs/a.log"),
        api_log("kept", "logs/b.log")
    ));
    let mut server = Server::start(&env);
    wait_for("both sources' lines stored", || {
        stored_count(&env, "gone") == 3 && stored_count(&env, "kept") == 2
    });
    let metrics = server.must_get("/metrics").body;
    assert!(metrics.contains("source=\"gone\""), "{metrics}");

    env.write_config(&api_log("kept", "logs/b.log"));
    server.signal(libc::SIGHUP);
    let readyz = || server_ids(&server.must_get("/readyz").body);
    wait_for("gone gone from /readyz", || readyz() == ["kept"]);
    let metrics = server.must_get("/metrics").body;
    assert!(!metrics.contains("source=\"gone\""), "{metrics}");
    assert!(
        metrics.contains("athena_ingest_events_total{source=\"kept\",outcome=\"written\"} 2"),
        "{metrics}"
    );
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_pattern_with_no_log_is_warned_about_once_not_at_every_run() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/access.log"), 0..3);
    env.write_config(
        "[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/access.log\", \"logs/none-*.log\"]\n",
    );
    let mut server = Server::start(&env);
    wait_for("3 lines stored", || stored_count(&env, "web") == 3);
    // Each append wakes the followed log: a run each.
    for n in 3..7 {
        append(&env.path("logs/access.log"), n..n + 1);
        wait_for("the appended line", || stored_count(&env, "web") == n + 1);
    }
    let runs = sample(
        &server.must_get("/metrics").body,
        "athena_ingest_sync_runs_total{source=\"web\",result=\"ok\"}",
    );
    assert!(runs >= 5.0, "{runs} runs");
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let warnings = stderr.matches("matches no log file").count();
    assert_eq!(warnings, 1, "{stderr}");
}

#[test]
fn an_api_token_guards_every_endpoint_but_healthz_and_opens_a_wider_address() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/access.log"), 0..2);
    let port = free_port();
    env.write_config(&format!(
        "[serve]\nlisten = \"0.0.0.0:{port}\"\napi_token = \"${{SERVE_TOKEN}}\"\n\n{}",
        api_log("web", "logs/access.log")
    ));
    let child = env
        .cmd(&["serve", "--poll-interval-ms", "100"])
        .env("SERVE_TOKEN", "tok-0123456789abcdef")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("/healthz, open to all", || {
        http_get(port, "/healthz").is_some_and(|r| r.status == 200)
    });
    for path in ["/readyz", "/metrics"] {
        assert_eq!(
            http_get(port, path).unwrap().status,
            401,
            "{path} without a token"
        );
        let wrong =
            http_get_with(port, path, "Authorization: Bearer tok-0000000000000000\r\n").unwrap();
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        let right =
            http_get_with(port, path, "Authorization: Bearer tok-0123456789abcdef\r\n").unwrap();
        assert_eq!(right.status, 200, "{path} with the token: {}", right.body);
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("tok-0123456789abcdef"));
}

#[test]
fn a_scheduled_run_that_found_nothing_new_is_not_logged_at_info() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "first", &[("a", b"a\n")]);
    // Not live: a git source on an interval, as the starter's runs every minute.
    env.write_config(&git_config("repo", &repo, "schedule = \"1s\""));
    let mut server = Server::start(&env);
    let runs = |body: &str| {
        sample(
            body,
            r#"athena_ingest_sync_runs_total{source="repo",result="ok"}"#,
        )
    };
    wait_for("three runs", || {
        server.get("/metrics").is_some_and(|m| {
            m.body
                .contains(r#"athena_ingest_sync_runs_total{source="repo",result="ok"}"#)
                && runs(&m.body) >= 3.0
        })
    });
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "serve's stderr:\n{stderr}");
    let logged: Vec<&str> = stderr.lines().filter(|l| l.contains("run ok")).collect();
    assert_eq!(
        logged.len(),
        1,
        "only the run that wrote is logged:\n{stderr}"
    );
    assert!(logged[0].contains("written=1"), "{stderr}");
    assert!(logged[0].contains("INFO"), "{stderr}");
}

/// A source's `priority` is shown by `/readyz` and by `status` (text and JSON), which read it
/// from the config; a reload that changes it takes.
#[test]
fn a_source_priority_is_shown_by_readyz_and_status() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/a.log"), 0..3);
    append(&env.path("logs/b.log"), 100..102);
    let config = |priority: i32| {
        format!(
            "{}priority = {priority}\n\n{}",
            api_log("live", "logs/a.log"),
            api_log("backfill", "logs/b.log")
        )
    };
    env.write_config(&config(7));
    let server = Server::start(&env);
    wait_for("both sources' lines stored", || {
        stored_count(&env, "live") == 3 && stored_count(&env, "backfill") == 2
    });
    let priorities = || {
        let body: serde_json::Value =
            serde_json::from_str(&server.must_get("/readyz").body).unwrap();
        body["priorities"].clone()
    };
    assert_eq!(priorities(), serde_json::json!({"live": 7, "backfill": 0}));

    let status = env.status_json();
    let of = |id: &str| {
        (status["sources"].as_array().unwrap().iter())
            .find(|s| s["id"] == id)
            .map(|s| s["priority"].clone())
            .unwrap()
    };
    assert_eq!((of("live"), of("backfill")), (7.into(), 0.into()));
    let text = env.run(&["status"]).ok().stdout();
    let header = text.lines().next().unwrap();
    assert!(header.contains("PRIORITY"), "{text}");
    let live = text.lines().find(|l| l.starts_with("live")).unwrap();
    assert_eq!(live.split_whitespace().nth(2), Some("7"), "{text}");

    env.write_config(&config(-3));
    server.signal(libc::SIGHUP);
    wait_for("the new priority in /readyz", || {
        priorities() == serde_json::json!({"live": -3, "backfill": 0})
    });
}
