//! What keeps one client from stalling recall for the others: a full-text query's cost is
//! judged before it runs, in the API and the CLI alike, and a stop does not wait on a client
//! that holds a request open. (The time budget, the queue and the 503 are tested in
//! `recall::service` and `athena-store`; `scripts/bench-recall-load.sh` floods a real one.)

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::serve_support::*;
use crate::support::*;

/// A store of one api_log source of 50 lines, and a config that serves it without sources.
fn store() -> TestEnv {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/access.log"), 0..50);
    env.write_config(
        "[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/access.log\"]\n",
    );
    let (run, _) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    std::fs::write(env.path("serve.toml"), "[serve]\n").unwrap();
    env
}

fn hundred_ors() -> String {
    vec!["get"; 100].join(" OR ")
}

#[test]
fn a_search_of_a_hundred_ors_is_refused_before_it_runs() {
    let env = store();
    let server = Server::start_with(&env, &["--config", "serve.toml"]);
    let q = hundred_ors().replace(' ', "+");
    let refused = server.must_get(&format!("/v1/events?q={q}"));
    assert_eq!(refused.status, 400, "{}", refused.body);
    let error: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    let error = error["error"].as_str().unwrap();
    assert!(
        error.starts_with("parameter q: search too costly: 100 terms; at most 16"),
        "{error}"
    );
    // Within the bounds, the same words are searched.
    let fine = server.must_get("/v1/events?q=get+OR+serve&limit=5");
    assert_eq!(fine.status, 200, "{}", fine.body);

    let cli = env.run(&["events", "--search", &hundred_ors()]);
    assert_eq!(cli.code(), 2, "{}", cli.describe());
    assert!(cli.stderr().contains("100 terms"), "{}", cli.describe());
}

#[test]
fn sigterm_on_a_read_only_server_exits_0_at_once_with_a_request_half_sent() {
    let env = store();
    let mut server = Server::start_with(&env, &["--config", "serve.toml"]);
    // A request whose head never ends: a graceful stop that waits for it waits forever.
    let mut stalled = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(stalled, "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (code, stderr, took) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(3), "{took:?}: {stderr}");
    assert!(!stderr.contains("did not stop"), "{stderr}");
    drop(stalled);
}
