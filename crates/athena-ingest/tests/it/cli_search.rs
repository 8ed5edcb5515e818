//! `events --search` and `--outcome` on a synced store: plain words always work, syntax the
//! store cannot take is advice (exit 2), a natural-language question falls back to any of its
//! words, notes keep their text, and failed requests are one flag away.

use serde_json::{json, Value};

use crate::mcp_server::{answer_to, raw_stdio_session};
use crate::serve_support::Server;
use crate::support::{Run, TestEnv};

const LOG: &str = "\
127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] \"GET /ok HTTP/1.1\" 200 12 \"-\" \"curl\"
127.0.0.1 - - [10/Oct/2024:13:55:37 +0000] \"GET /missing HTTP/1.1\" 404 9 \"-\" \"curl\"
127.0.0.1 - - [10/Oct/2024:13:55:38 +0000] \"POST /boom HTTP/1.1\" 500 3 \"-\" \"curl\"
";

/// A files source over `tree/` (notes, code, a big note, a binary note) and an api_log
/// source over one log, synced.
fn synced() -> TestEnv {
    let env = TestEnv::new();
    let tree = env.path("tree");
    std::fs::create_dir_all(tree.join("notes")).unwrap();
    std::fs::create_dir_all(tree.join("src")).unwrap();
    std::fs::write(
        tree.join("notes/meeting.md"),
        "Standup: we hit the API rate limit again.\n",
    )
    .unwrap();
    std::fs::write(tree.join("src/lexer.rs"), "fn lex() {}\n").unwrap();
    let big = format!("rate limit {}\n", "x".repeat(300));
    std::fs::write(tree.join("notes/big.md"), big).unwrap();
    std::fs::write(tree.join("notes/binary.txt"), b"rate limit\0\x01").unwrap();
    std::fs::write(env.path("access.log"), LOG).unwrap();
    env.write_config(
        "[[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"tree\"\nkeep_text_max_bytes = 200\n\n\
         [[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n",
    );
    env.run(&["sync"]).ok();
    env
}

fn events(env: &TestEnv, args: &[&str]) -> Run {
    let mut all = vec!["events", "--format", "jsonl"];
    all.extend_from_slice(args);
    env.run(&all)
}

fn lines(run: &Run) -> Vec<Value> {
    (run.stdout().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn paths(run: &Run) -> Vec<String> {
    lines(run)
        .iter()
        .map(|e| e["context"]["path"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn search_syntax_error_becomes_advice() {
    let env = synced();
    for text in ["\"rate limit", "limit AND", "(rate"] {
        let run = events(&env, &["--search", text]);
        assert_eq!(run.code(), 2, "{}", run.describe());
        let err = run.stderr();
        assert!(
            err.contains(&format!("search text `{text}` is not valid search syntax")),
            "{err}"
        );
        assert!(err.contains("quote it (\""), "{err}");
        assert!(err.contains("--outcome"), "{err}");
        assert!(!err.to_lowercase().contains("fts5"), "{err}");
        assert!(!err.contains("no such column"), "{err}");
    }
    // What only looked like syntax is words: no error.
    let run = events(&env, &["--search", "status:500"]).ok();
    assert!(!run.stderr().contains("not valid"), "{}", run.stderr());
}

#[test]
fn a_natural_language_query_finds_events() {
    let env = synced();
    let run = events(&env, &["--search", "what changed in the lexer"]).ok();
    assert_eq!(paths(&run), ["src/lexer.rs"], "{}", run.describe());
    let note = run.stderr();
    assert!(
        note.contains("no event has every word of \"what changed in the lexer\"")
            && note.contains("any of changed, lexer"),
        "{note}"
    );
    // A search every word of which matches says nothing on stderr.
    let run = events(&env, &["--search", "lexer"]).ok();
    assert_eq!(paths(&run), ["src/lexer.rs"]);
    assert!(!run.stderr().contains("no event has every word"));
    // Common words only: no fallback to everything.
    let run = events(&env, &["--search", "what is the"]).ok();
    assert!(lines(&run).is_empty(), "{}", run.stdout());
}

#[test]
fn files_source_keeps_text_of_small_notes() {
    let env = synced();
    let run = events(&env, &["--search", "rate limit"]).ok();
    assert_eq!(paths(&run), ["notes/meeting.md"], "{}", run.describe());
    assert_eq!(
        lines(&run)[0]["body"],
        "Standup: we hit the API rate limit again.\n"
    );
    // The big note and the binary one keep no text; code is not a note.
    let all = lines(&events(&env, &["--source", "notes"]).ok());
    for e in &all {
        let path = e["context"]["path"].as_str().unwrap();
        if path != "notes/meeting.md" {
            assert_eq!(e["body"], "", "{path}");
        }
    }
    assert_eq!(all.len(), 4);
}

#[test]
fn outcome_filter_everywhere() {
    let env = synced();
    let titles = |args: &[&str]| -> Vec<String> {
        lines(&events(&env, args).ok())
            .iter()
            .map(|e| e["title"].as_str().unwrap().to_string())
            .collect()
    };
    let failed = titles(&["--outcome", "server_error"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("/boom"), "{failed:?}");
    let both = titles(&["--outcome", "client_error", "--outcome", "server_error"]);
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(titles(&["--outcome", "success"]).len(), 1);
    // Files have no outcome: never matched by one.
    assert!(titles(&["--outcome", "failure"]).is_empty());
    let run = events(&env, &["--outcome", "broken"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("server_error"), "{}", run.stderr());
}

/// `GET /v1/events?QUERY` on `server`: the status and the JSON body.
fn http(server: &Server, query: &str) -> (u16, Value) {
    let r = server.must_get(&format!("/v1/events?{query}"));
    (r.status, serde_json::from_str(&r.body).unwrap())
}

/// The MCP answers to `search_events` with each of `arguments`, ids 2, 3, … in order.
fn mcp(env: &TestEnv, arguments: &[Value]) -> Vec<Value> {
    let mut lines = vec![
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
    ];
    for (i, args) in arguments.iter().enumerate() {
        let call = json!({"jsonrpc":"2.0","id":i + 2,"method":"tools/call",
            "params":{"name":"search_events","arguments":args}});
        lines.push(call.to_string().into_bytes());
    }
    let (answers, _) = raw_stdio_session(env, lines, arguments.len() + 1);
    (0..arguments.len())
        .map(|i| answer_to(&answers, json!(i + 2)).clone())
        .collect()
}

fn tool_text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn search_advice_fallback_and_outcome_over_http_and_mcp() {
    let env = synced();
    let server = Server::start(&env);
    // search_syntax_error_becomes_advice, over HTTP: a 400 naming q, with the advice.
    let (status, body) = http(&server, "q=%22rate+limit");
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("parameter q: search text `\"rate limit` is not valid search syntax"),
        "{error}"
    );
    // a_natural_language_query_finds_events, over HTTP.
    let (status, page) = http(&server, "q=what+changed+in+the+lexer");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["match"], "any", "{page}");
    assert!(page["note"]
        .as_str()
        .unwrap()
        .contains("any of changed, lexer"));
    assert_eq!(page["events"][0]["context"]["path"], "src/lexer.rs");
    assert_eq!(page["next_cursor"], Value::Null);
    let (_, page) = http(&server, "q=lexer");
    assert_eq!(
        (&page["match"], &page["note"]),
        (&json!("all"), &Value::Null)
    );
    let (_, page) = http(&server, "limit=1");
    assert_eq!(page["match"], Value::Null);
    // outcome_filter_everywhere, over HTTP: the filter, and a bad value named.
    let (status, page) = http(&server, "outcome=client_error&outcome=server_error");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"].as_array().unwrap().len(), 2, "{page}");
    let (status, body) = http(&server, "outcome=broken");
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("parameter outcome:"),
        "{body}"
    );
    drop(server);

    let answers = mcp(
        &env,
        &[
            json!({"q": "\"rate limit"}),
            json!({"q": "what changed in the lexer"}),
            json!({"outcome": ["server_error"]}),
            json!({"outcome": ["broken"]}),
        ],
    );
    assert_eq!(answers[0]["result"]["isError"], true, "{}", answers[0]);
    assert!(
        tool_text(&answers[0]).contains("is not valid search syntax"),
        "{}",
        answers[0]
    );
    let found = &answers[1]["result"]["structuredContent"];
    assert_eq!(found["match"], "any", "{}", answers[1]);
    assert_eq!(found["events"][0]["context"]["path"], "src/lexer.rs");
    assert!(
        tool_text(&answers[1]).starts_with("no event has every word"),
        "{}",
        answers[1]
    );
    let failed = &answers[2]["result"]["structuredContent"]["events"];
    assert_eq!(failed.as_array().unwrap().len(), 1, "{}", answers[2]);
    assert_eq!(failed[0]["outcome"], "server_error");
    assert_eq!(answers[3]["error"]["code"], -32602, "{}", answers[3]);
}

/// `events --kind comit --source nope` printed an empty table and exit 0, saying nothing.
#[test]
fn an_unknown_kind_is_named_with_the_known_ones() {
    let env = synced();
    let run = events(&env, &["--kind", "comit", "--source", "nope"]).ok();
    assert!(lines(&run).is_empty(), "{}", run.stdout());
    let err = run.stderr();
    assert!(
        err.contains(r#"no source named "nope" in this store (its sources: notes, web)"#),
        "{err}"
    );
    assert!(
        err.contains(r#"no event of kind "comit" (the kinds stored: "#)
            && err.contains("file_modified")
            && err.contains("http_request"),
        "{err}"
    );
    // Within a source named, its own kinds; known names say nothing.
    let run = events(&env, &["--source", "web", "--kind", "file_modified"]).ok();
    assert!(
        run.stderr().contains(
            r#"no event of kind "file_modified" in web (the kinds stored in web: http_request)"#
        ),
        "{}",
        run.stderr()
    );
    let run = events(&env, &["--source", "web", "--kind", "http_request"]).ok();
    assert_eq!(lines(&run).len(), 3);
    assert!(!run.stderr().contains("note"), "{}", run.stderr());

    // Over HTTP and MCP: a note in the answer, not an error.
    let server = Server::start(&env);
    let (status, page) = http(&server, "kind=comit");
    assert_eq!(status, 200, "{page}");
    assert!(page["events"].as_array().unwrap().is_empty());
    let note = page["note"].as_str().unwrap();
    assert!(note.starts_with(r#"no event of kind "comit""#), "{note}");
    let (_, page) = http(&server, "kind=http_request");
    assert_eq!(page["note"], Value::Null, "{page}");
    let r = server.must_get("/v1/timeline?source=nope");
    let timeline: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        timeline["note"]
            .as_str()
            .unwrap()
            .contains(r#"no source named "nope""#),
        "{timeline}"
    );
    drop(server);
    let answers = mcp(&env, &[json!({"kind": "comit"})]);
    let text = tool_text(&answers[0]);
    assert!(
        text.starts_with(r#"no event of kind "comit""#) && text.contains("http_request"),
        "{}",
        answers[0]
    );
    assert_eq!(answers[0]["result"]["isError"], false, "{}", answers[0]);
}

#[test]
fn kinds_are_listed() {
    let env = synced();
    let run = env.run(&["kinds"]).ok();
    let stdout = run.stdout();
    let table: Vec<Vec<&str>> = (stdout.lines())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        table,
        [
            ["SOURCE", "KIND", "EVENTS"],
            ["notes", "file_modified", "4"],
            ["web", "http_request", "3"]
        ],
        "{stdout}"
    );
    let run = env
        .run(&["kinds", "--format", "json", "--source", "web"])
        .ok();
    let json: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(
        json,
        json!({"kinds": [{"source": "web", "kind": "http_request", "events": 3}]})
    );
    // The same over HTTP, and per source in MCP's list_sources and `status --format json`.
    let server = Server::start(&env);
    let r = server.must_get("/v1/kinds");
    let all: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(all["kinds"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(
        all["kinds"][0],
        json!({"source": "notes", "kind": "file_modified", "events": 4})
    );
    drop(server);
    let status: Value = env.status_json();
    assert_eq!(
        status["sources"][1]["kinds"],
        json!([{"kind": "http_request", "events": 3}])
    );
    let mut lines = vec![
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
    ];
    lines.push(
        br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_sources","arguments":{}}}"#
            .to_vec(),
    );
    let (answers, _) = raw_stdio_session(&env, lines, 2);
    let sources = &answer_to(&answers, json!(2))["result"]["structuredContent"]["sources"];
    assert_eq!(
        sources[0]["kinds"],
        json!([{"kind": "file_modified", "events": 4}]),
        "{sources}"
    );
}
