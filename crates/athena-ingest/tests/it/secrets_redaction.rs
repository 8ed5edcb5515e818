//! A server that echoes the token in its error bodies (some do) must not get it printed,
//! logged or stored: the config's secrets are masked wherever an error becomes text.

use athena_http::testing::{TestRequest, TestResponse, TestServer};

use crate::support::*;

const GH_TOKEN: &str = "ghp_echoed_0123456789abcdefABCDEF";
const SLACK_TOKEN: &str = "xoxb-echoed-0123456789-abcdef";

/// An error answer quoting the credentials as sent, raw, and percent-encoded.
fn echoing(status: u16, r: &TestRequest) -> TestResponse {
    let sent = r.header("authorization").unwrap_or("none");
    let token = sent.split_whitespace().last().unwrap_or("");
    let encoded: String = token.bytes().map(|b| format!("%{b:02X}")).collect();
    let body = format!(
        "{{\"message\":\"Bad credentials: {token}\",\"authorization\":\"{sent}\",\"request\":\"/x?token={encoded}\"}}"
    );
    TestResponse::text(status, &body).header("Content-Type", "application/json")
}

/// `sync --format json -vv` (debug logs show every retry's error) with `var` set to `token`.
fn sync(env: &TestEnv, var: &str, token: &str) -> Run {
    Run(env
        .cmd(&["-vv", "sync", "--format", "json"])
        .env(var, token)
        .output()
        .unwrap())
}

/// The token is nowhere in the runs' output, in `status --format json`, or in any byte of the
/// store's files, while the masked error did reach the store.
#[track_caller]
fn assert_token_nowhere(env: &TestEnv, (var, token): (&str, &str), runs: &[&Run]) {
    for run in runs {
        assert!(!run.describe().contains(token), "{}", run.describe());
    }
    // `status` reads the config too (for the store's path), so the variable must be set.
    let status = Run(env
        .cmd(&["status", "--format", "json"])
        .env(var, token)
        .output()
        .unwrap())
    .ok();
    assert!(!status.stdout().contains(token), "{}", status.stdout());
    let json: serde_json::Value = serde_json::from_str(status.stdout().trim()).unwrap();
    let last_error = json["sources"][0]["last_error"].as_str().unwrap_or("");
    assert!(
        last_error.contains("***"),
        "the echoed token should be stored masked: {json}"
    );
    let mut files = 0;
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("athena.db") {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "the token is in {name}"
            );
        }
    }
    assert!(files > 0, "no store was written");
}

#[test]
fn a_token_echoed_in_a_github_401_body_reaches_no_output_log_or_store() {
    let server = TestServer::start(|r| echoing(401, r));
    let env = TestEnv::new();
    env.write_config(&format!(
        "[[sources]]\nid = \"gh\"\ntype = \"github\"\napi_url = \"{}\"\nowner = \"o\"\nrepo = \"r\"\ntoken = \"${{GH_ECHO_TOKEN}}\"\n",
        server.url()
    ));
    let run = sync(&env, "GH_ECHO_TOKEN", GH_TOKEN);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stdout().contains("Bad credentials: ***"),
        "{}",
        run.describe()
    );
    assert_token_nowhere(&env, ("GH_ECHO_TOKEN", GH_TOKEN), &[&run]);
}

#[test]
fn a_token_echoed_in_a_slack_500_body_reaches_no_output_log_or_store() {
    let server = TestServer::start(|r| echoing(500, r));
    let env = TestEnv::new();
    env.write_config(&format!(
        "[[sources]]\nid = \"sl\"\ntype = \"slack\"\napi_url = \"{}/api\"\ntoken = \"${{SLACK_ECHO_TOKEN}}\"\nmax_retries = 1\nretry_delay_ms = 10\n",
        server.url()
    ));
    let run = sync(&env, "SLACK_ECHO_TOKEN", SLACK_TOKEN);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.stdout().contains("HTTP 500"), "{}", run.describe());
    assert!(
        run.stderr().contains("retry 1"),
        "the debug log of the retry was written: {}",
        run.describe()
    );
    assert_token_nowhere(&env, ("SLACK_ECHO_TOKEN", SLACK_TOKEN), &[&run]);
}

#[test]
fn validate_masks_a_token_echoed_in_an_error_body() {
    let server = TestServer::start(|r| echoing(401, r));
    let env = TestEnv::new();
    env.write_config(&format!(
        "[[sources]]\nid = \"gh\"\ntype = \"github\"\napi_url = \"{}\"\nowner = \"o\"\nrepo = \"r\"\ntoken = \"{GH_TOKEN}\"\n",
        server.url()
    ));
    let run = env.run(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.stdout().contains("failed  gh"), "{}", run.describe());
    assert!(
        run.stdout().contains("Bad credentials: ***"),
        "{}",
        run.describe()
    );
    assert!(!run.describe().contains(GH_TOKEN), "{}", run.describe());
}
