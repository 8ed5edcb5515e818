//! Issue 21, "fail fast and say so": an API that cannot be reached fails a sync in seconds,
//! without trying its other streams, and each failure is told once and truly.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use athena_http::testing::TestResponse;
use athena_sources::github::fake::{commit, FakeGitHub, TOKEN};
use serde_json::Value;

use crate::support::*;

/// An address where nothing listens: a port bound, then let go.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A GitHub source at `api_url` with every stream and the default retry settings.
fn unreachable_env(api_url: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!(
        "[[sources]]\nid = \"gh\"\ntype = \"github\"\napi_url = \"{api_url}\"\nowner = \"o\"\nrepo = \"r\"\ntoken = \"${{GH_TEST_TOKEN}}\"\n"
    ));
    env
}

/// `sync --format json`, timed.
fn timed_sync(env: &TestEnv) -> (Run, Value, Duration) {
    let started = Instant::now();
    let (run, json) = env.sync_json_with(&[], &[("GH_TEST_TOKEN", TOKEN)]);
    (run, json, started.elapsed())
}

/// Checks that the sync failed within `bound`, having asked only for the first stream.
fn assert_failed_fast_without_the_other_streams(env: &TestEnv, what: &str, bound: Duration) {
    let (run, json, took) = timed_sync(env);
    assert_eq!(run.code(), 1, "{what}: {}", run.describe());
    assert!(took < bound, "{what}: took {took:?}");
    let s = &json["sources"][0];
    assert_eq!(s["status"], "failed", "{what}: {json}");
    // The first stream's request and its two quick retries; no other stream asked.
    assert_eq!(s["requests"], 3, "{what}: {json}");
    assert_eq!(s["retries"], 2, "{what}: {json}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("1 of 6 streams failed: commits: GET"),
        "{what}: {error}"
    );
    assert!(
        error.contains("so 5 other streams were not tried"),
        "{what}: {error}"
    );
    assert!(env.ids("gh").is_empty(), "{what}");
}

#[test]
fn an_unreachable_api_fails_a_sync_in_under_10_s() {
    let env = unreachable_env(&closed_port_url());
    assert_failed_fast_without_the_other_streams(&env, "a closed port", Duration::from_secs(10));
    // `validate` is as quick.
    let started = Instant::now();
    let run = Run(env
        .cmd(&["validate"])
        .env("GH_TEST_TOKEN", TOKEN)
        .output()
        .unwrap());
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stdout().contains("cannot connect"),
        "{}",
        run.describe()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_api_host_that_does_not_resolve_fails_a_sync_in_under_10_s() {
    // The machine's resolver is not ours to judge: the bound is 10 s plus what three lookups
    // of the name take here (a few milliseconds where the resolver answers at once).
    let started = Instant::now();
    let resolved = std::net::ToSocketAddrs::to_socket_addrs("nonexistent.invalid:80");
    assert!(
        resolved.is_err(),
        "nonexistent.invalid resolved: {resolved:?}"
    );
    let bound = Duration::from_secs(10) + started.elapsed() * 3;
    let env = unreachable_env("http://nonexistent.invalid");
    assert_failed_fast_without_the_other_streams(&env, "a name that does not resolve", bound);
}

#[test]
fn each_sync_error_is_printed_once() {
    let env = unreachable_env(&closed_port_url());
    let run = Run(env
        .cmd(&["sync"])
        .env("GH_TEST_TOKEN", TOKEN)
        .output()
        .unwrap());
    assert_eq!(run.code(), 1, "{}", run.describe());
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert_eq!(all.matches("cannot connect").count(), 1, "{all}");
    assert_eq!(all.matches("streams failed").count(), 1, "{all}");
    let line = run
        .stderr()
        .lines()
        .find_map(|l| l.strip_prefix("error: ").map(str::to_string))
        .unwrap_or_else(|| panic!("no error line: {}", run.describe()));
    assert!(
        line.starts_with("source gh: 1 of 6 streams failed"),
        "{line}"
    );

    // `status` keeps it whole.
    let status =
        |args: &[&str]| Run(env.cmd(args).env("GH_TEST_TOKEN", TOKEN).output().unwrap()).ok();
    let status_text = status(&["status"]);
    assert!(
        status_text
            .stdout()
            .contains(&format!("last error of gh: {line}")),
        "{}\nexpected: {line}",
        status_text.describe()
    );
    let json: Value =
        serde_json::from_str(&status(&["status", "--format", "json"]).stdout()).unwrap();
    assert_eq!(json["sources"][0]["last_error"], line.as_str());
}

/// A GitHub source on `fake`'s server reading `commits` and `releases`, one retry.
fn two_streams(server_url: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!(
        "[[sources]]\nid = \"gh\"\ntype = \"github\"\napi_url = \"{server_url}\"\nowner = \"o\"\nrepo = \"r\"\ntoken = \"${{GH_TEST_TOKEN}}\"\nretry_delay_ms = 20\nmax_retries = 1\nstreams = [\"commits\", \"releases\"]\n"
    ));
    env
}

#[test]
fn no_false_claim_that_others_were_stored() {
    let fake = FakeGitHub::new();
    fake.set("commits", (1..=3).map(commit).collect());
    let server = fake.start();

    // Releases fail, commits are stored: the message counts them.
    for _ in 0..4 {
        fake.fault("/releases", TestResponse::text(500, "oops"));
    }
    let env = two_streams(&server.url());
    let (run, json, _) = timed_sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("1 of 2 streams failed: releases: GET"),
        "{error}"
    );
    assert!(error.ends_with("; 3 events were stored"), "{error}");
    assert_eq!(env.ids("gh").len(), 3);
    fake.clear_faults();

    // Commits fail and there are no releases: nothing was stored, and it says so.
    for _ in 0..4 {
        fake.fault("/commits", TestResponse::text(500, "oops"));
    }
    let env = two_streams(&server.url());
    let (run, json, _) = timed_sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("1 of 2 streams failed: commits: GET"),
        "{error}"
    );
    assert!(error.ends_with("; nothing was stored"), "{error}");
    assert!(!error.contains("others were stored"), "{error}");
    assert!(env.ids("gh").is_empty());
}
