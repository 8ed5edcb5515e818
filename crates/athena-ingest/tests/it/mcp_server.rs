//! The MCP server against a real MCP client (the `mcp` package from PyPI, driven by
//! `fixtures/mcp_client.py`): over stdio (`athena-ingest mcp`) and over streamable HTTP at
//! `serve`'s `/mcp` behind a token. Without python's `mcp` these tests fail: they don't skip.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::serve_support::*;
use crate::support::*;

const EVENTS: usize = 30;

fn client_script() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/fixtures/mcp_client.py"
    ))
}

/// `python3 mcp_client.py ARGS…` in the env's dir: what the client saw, as JSON. The python3
/// of `scripts/test-setup.sh`'s virtual environment when there is one (`test_tool`).
fn run_client(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let python = test_tool("python3");
    let probe = Command::new(&python)
        .args(["-c", "import mcp"])
        .output()
        .expect("running python3 (the MCP tests need it and its `mcp` package)");
    assert!(
        probe.status.success(),
        "{} cannot import `mcp`: run scripts/test-setup.sh\n{}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    let out = Command::new(&python)
        .arg(client_script())
        .args(args)
        .current_dir(env.dir.path())
        .output()
        .expect("running the MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the MCP client failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A store of `EVENTS` HTTP requests, synced from an access log by `source`.
fn api_log_env(config_head: &str) -> TestEnv {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/access.log"), 0..EVENTS);
    env.write_config(&format!(
        "{config_head}\n[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/access.log\"]\n"
    ));
    env
}

/// What both transports must have answered.
fn assert_seen(seen: &serde_json::Value) {
    assert_eq!(
        seen["tools"],
        serde_json::json!(["get_event", "list_sources", "search_events", "timeline"])
    );
    assert_eq!(seen["sources"][0]["id"], "web");
    assert_eq!(seen["sources"][0]["events"], EVENTS);
    assert_eq!(seen["pages"], EVENTS.div_ceil(7));
    assert_eq!(seen["event"]["source_id"], "web");
    assert_eq!(seen["event"]["kind"], "http_request");
    assert_eq!(seen["timeline"]["total"], EVENTS);
    let errors = seen["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 8, "{errors:?}");
    assert!(
        errors[0].as_str().unwrap().contains("RFC 3339"),
        "a bad time says what is accepted: {}",
        errors[0]
    );
}

#[test]
fn mcp_over_stdio_answers_a_real_client_from_the_configs_store() {
    // The store is found as `events` finds it: here, the config's [store] path.
    let env = api_log_env("[store]\npath = \"recall.db\"\n");
    env.run(&["sync"]).ok();
    assert!(env.path("recall.db").exists());
    let bin = env!("CARGO_BIN_EXE_athena-ingest");
    let seen = run_client(&env, &["stdio", &EVENTS.to_string(), bin, "mcp"]);
    assert_seen(&seen);
}

#[test]
fn mcp_stdout_carries_only_the_protocol_even_with_debug_logs() {
    let env = api_log_env("");
    env.run(&["sync"]).ok();
    let mut child = env
        .cmd(&["-vvv", "mcp", "--db", "athena.db"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"0"}}}}}}"#
    )
    .unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"list_sources","arguments":{{}}}}}}"#
    )
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for id in [1, 2] {
        let line = lines.next().expect("an answer").unwrap();
        let message: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout is not the protocol ({e}): {line}"));
        assert_eq!(message["id"], id, "{message}");
    }
    // Closing stdin ends the session and the process.
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.is_empty(), "more on stdout: {rest:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("serving MCP on stdio"),
        "the logs went to stderr"
    );
}

#[test]
fn mcp_over_streamable_http_in_serve_needs_the_token_and_answers_a_real_client() {
    let port = free_port();
    let env = api_log_env(&format!(
        "[serve]\nlisten = \"127.0.0.1:{port}\"\napi_token = \"${{MCP_TOKEN}}\"\n"
    ));
    let mut child = env
        .cmd(&["serve", "--poll-interval-ms", "100"])
        .env("MCP_TOKEN", "tok-mcp-123")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("serve to store the log", || {
        stored_count(&env, "web") == EVENTS
    });
    let denied = http_get(port, "/mcp").unwrap();
    assert_eq!(
        denied.status, 401,
        "/mcp without the token: {}",
        denied.body
    );
    let wrong = http_get_with(port, "/mcp", "Authorization: Bearer tok-mcp-000\r\n").unwrap();
    assert_eq!(wrong.status, 401, "/mcp with a wrong token");

    let url = format!("http://127.0.0.1:{port}/mcp");
    let seen = run_client(&env, &["http", &EVENTS.to_string(), &url, "tok-mcp-123"]);
    assert_seen(&seen);

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The status of `GET /mcp` sent with `Host: host`.
fn mcp_status_for_host(port: u16, host: &str) -> u16 {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /mcp HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[test]
fn mcp_in_serve_without_a_token_answers_only_loopback_host_names() {
    let env = api_log_env("");
    let server = Server::start(&env);
    assert_eq!(mcp_status_for_host(server.port, "evil.example"), 403);
    assert_eq!(
        mcp_status_for_host(server.port, &format!("evil.example:{}", server.port)),
        403
    );
    for host in ["localhost", "127.0.0.1"] {
        let status = mcp_status_for_host(server.port, host);
        assert!(status != 403 && status != 401, "Host {host}: {status}");
    }
}
