//! The api_log source on real files: rotation, truncation, compression, partial lines, bad lines.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn line(n: usize) -> String {
    format!(
        "10.0.0.{} - - [17/May/2015:10:{:02}:{:02} +0000] \"GET /page/{n}?q={n} HTTP/1.1\" 200 {n} \"-\" \"test-agent\"\n",
        n % 250,
        (n / 60) % 60,
        n % 60
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn lines(range: std::ops::Range<usize>) -> String {
    range.map(line).collect()
}

fn config(pattern: &str, extra: &str) -> String {
    format!("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"{pattern}\"]\n{extra}\n")
}

fn paths(env: &TestEnv) -> Vec<String> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT json_extract(metadata, '$.path') FROM events WHERE source_id = 'web' ORDER BY seq")
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("/page/{n}")).collect()
}

/// Stored paths and expected ones, compared as sets (rotations read files in mtime order).
#[track_caller]
fn assert_same_paths(env: &TestEnv, want: impl IntoIterator<Item = String>) {
    let mut got = paths(env);
    got.sort();
    let mut want: Vec<String> = want.into_iter().collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn every_line_of_the_sample_apache_log_becomes_an_event() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("logs")).unwrap();
    std::fs::write(env.path("logs/access.log"), SAMPLE_LOG).unwrap();
    env.write_config(&config("logs/access.log", ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 2_000);
    assert_eq!(json["sources"][0]["invalid"], 0);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
}

/// `scripts/gen-combined-log.py --lines N --seed S` into `env`'s `name`.
fn generate_log(env: &TestEnv, name: &str, lines: usize, seed: u64) -> Vec<u8> {
    let out = std::process::Command::new(test_tool("python3"))
        .arg(script("gen-combined-log.py"))
        .args(["--lines", &lines.to_string(), "--seed", &seed.to_string()])
        .arg("--output")
        .arg(env.path(name))
        .output()
        .expect("running python3 scripts/gen-combined-log.py");
    assert!(
        out.status.success(),
        "gen-combined-log.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(env.path(name)).unwrap()
}

/// The benchmarks' input: the generator's lines are the same for the same seed, every one is
/// a request, and they have the shapes the sample lacks (5xx, `-` sizes, other methods).
#[test]
fn generated_log_lines_are_repeatable_and_every_one_becomes_an_event() {
    const LINES: usize = 5_000;
    let env = TestEnv::new();
    let first = generate_log(&env, "access.log", LINES, 7);
    assert_eq!(first.iter().filter(|&&b| b == b'\n').count(), LINES);
    assert_eq!(generate_log(&env, "again.log", LINES, 7), first);
    assert_ne!(generate_log(&env, "other.log", LINES, 8), first);
    env.write_config(&config("access.log", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], LINES, "{json}");
    assert_eq!(json["sources"][0]["invalid"], 0, "{json}");
    let c = env.store();
    let distinct = |sql: &str| -> Vec<String> {
        let mut s = c.prepare(sql).unwrap();
        s.query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .map(|v| v.unwrap().unwrap_or_else(|| "null".into()))
            .collect()
    };
    let outcomes = distinct("SELECT DISTINCT outcome FROM events ORDER BY 1");
    assert_eq!(
        outcomes,
        ["client_error", "server_error", "success"],
        "{outcomes:?}"
    );
    let statuses = distinct(
        "SELECT DISTINCT CAST(json_extract(metadata, '$.status') / 100 AS TEXT) FROM events ORDER BY 1",
    );
    assert_eq!(statuses, ["2", "3", "4", "5"], "{statuses:?}");
    let methods = distinct("SELECT DISTINCT json_extract(metadata, '$.method') FROM events");
    for m in ["GET", "HEAD", "POST"] {
        assert!(methods.iter().any(|x| x == m), "no {m} in {methods:?}");
    }
    let no_size: i64 = c
        .query_row(
            "SELECT count(*) FROM events WHERE json_extract(metadata, '$.bytes') IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(no_size > 0, "no line with a size of -");
    let (clients, first_at, last_at): (i64, i64, i64) = c
        .query_row(
            "SELECT count(DISTINCT actor), min(occurred_at), max(occurred_at) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(clients > 100, "{clients} clients");
    assert!(last_at > first_at, "times do not move forward");
}

#[test]
fn appended_lines_are_read_incrementally_and_a_partial_line_waits() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    append(&log, &lines(0..5));
    env.write_config(&config("access.log", ""));
    env.run(&["sync"]).ok();
    let partial = line(6);
    append(&log, &line(5));
    append(&log, &partial[..30]);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 1);
    append(&log, &partial[30..]);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 1);
    assert_eq!(paths(&env), expected(0..7));
    let e: Value = serde_json::from_str(
        env.run(&["events", "--format", "jsonl", "--limit", "1"])
            .ok()
            .stdout()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(e["kind"], "http_request");
    assert_eq!(e["title"], "GET /page/6 → 200");
    assert_eq!(e["outcome"], "success");
    assert_eq!(e["context"]["line"], 7);
}

#[test]
fn crlf_garbage_and_binary_lines() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    let mut text = line(0).replace('\n', "\r\n");
    text.push_str("this is not a request\n");
    text.push_str(&line(1));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\x00\x01\xff\xfe binary\n");
    bytes.extend_from_slice(line(2).as_bytes());
    std::fs::write(&log, bytes).unwrap();
    env.write_config(&config("access.log", ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 3);
    assert_eq!(json["sources"][0]["invalid"], 2);
    let origins: Vec<(String, String)> = {
        let c = env.store();
        let mut s = c
            .prepare("SELECT origin, reason FROM dead_letters ORDER BY seq")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let log_text = log.display().to_string();
    assert!(
        origins[0].0.starts_with(&format!("{log_text}:2 (byte ")),
        "{origins:?}"
    );
    assert!(
        origins[1].0.starts_with(&format!("{log_text}:4 (byte ")),
        "{origins:?}"
    );
    let status: Value = env.status_json();
    assert_eq!(status["sources"][0]["dead_letters"], 2);
}

#[test]
fn rotation_by_rename_finishes_the_old_file_then_reads_the_new_one() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    append(&log, &lines(0..10));
    env.write_config(&config("access.log", ""));
    env.run(&["sync"]).ok();
    append(&log, &lines(10..13)); // written before the rotation, not yet read
    std::fs::rename(&log, env.path("access.log.1")).unwrap();
    append(&log, &lines(13..20));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 10);
    assert_eq!(json["sources"][0]["duplicates"], 0);
    assert_same_paths(&env, expected(0..20));
}

#[test]
fn copytruncate_reads_the_new_content_from_the_start() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    append(&log, &lines(0..10));
    env.write_config(&config("access.log*", ""));
    env.run(&["sync"]).ok();
    append(&log, &lines(10..12));
    std::fs::copy(&log, env.path("access.log.1")).unwrap();
    std::fs::write(&log, lines(100..103)).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    assert_same_paths(&env, expected(0..12).into_iter().chain(expected(100..103)));
}

#[test]
fn a_compressed_rotation_is_recognised_and_a_new_gz_is_read_once() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    append(&log, &lines(0..10));
    env.write_config(&config("access.log*", ""));
    env.run(&["sync"]).ok();
    std::fs::rename(&log, env.path("access.log.1")).unwrap();
    let gz = std::process::Command::new("gzip")
        .arg(env.path("access.log.1"))
        .status()
        .unwrap();
    assert!(gz.success());
    append(&log, &lines(10..12));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 2);
    assert_eq!(json["sources"][0]["duplicates"], 0);
    // A .gz never seen before is read once.
    std::fs::write(env.path("old.log"), lines(50..55)).unwrap();
    let gz = std::process::Command::new("gzip")
        .arg(env.path("old.log"))
        .status()
        .unwrap();
    assert!(gz.success());
    std::fs::rename(env.path("old.log.gz"), env.path("access.log.9.gz")).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 5);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
    assert_eq!(paths(&env).len(), 17);
}

#[test]
fn a_deleted_file_leaves_the_cursor_and_start_at_end_skips_old_lines() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    append(&log, &lines(0..4));
    env.write_config(&config("access.log", "start_at = \"end\""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
    append(&log, &lines(4..6));
    env.run(&["sync"]).ok();
    assert_eq!(paths(&env), expected(4..6));
    std::fs::remove_file(&log).unwrap();
    env.run(&["sync"]).ok();
    let cursor: String = env.cursor_text("web").unwrap();
    assert_eq!(cursor, r#"{"version":2,"files":[]}"#);
}

#[test]
fn json_lines_with_default_and_configured_field_names() {
    let env = TestEnv::new();
    std::fs::write(
        env.path("api.jsonl"),
        concat!(
            r#"{"time":"2024-05-01T10:00:00+02:00","method":"POST","path":"/v1/orders","status":201,"latency":12.5,"remote_addr":"1.2.3.4","user":"svc"}"#,
            "\n",
            r#"{"time":1714550400,"method":"GET","path":"/v1/orders?page=2","status":"500"}"#,
            "\n",
            "not json\n",
        ),
    )
    .unwrap();
    env.write_config(&config("api.jsonl", "format = \"jsonl\""));
    let (_, json) = env.sync_json();
    assert_eq!(
        (
            json["sources"][0]["events_written"].as_u64(),
            json["sources"][0]["invalid"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let out = env.run(&["events", "--format", "jsonl"]).ok().stdout();
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let post = events
        .iter()
        .find(|e| e["metadata"]["method"] == "POST")
        .unwrap();
    assert_eq!(post["actor"], "svc");
    assert_eq!(post["metadata"]["latency"], 12.5);
    assert_eq!(post["occurred_at"], "2024-05-01T08:00:00Z");
    let get = events
        .iter()
        .find(|e| e["metadata"]["method"] == "GET")
        .unwrap();
    assert_eq!(get["outcome"], "server_error");
    assert_eq!(get["metadata"]["query"], "page=2");

    env.write_config(&config("api.jsonl", "fields = { time = \"ts\" }"));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("key `fields`: only applies to format = \"jsonl\""),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_regex_pattern_reads_any_format_and_bad_patterns_are_config_errors() {
    let env = TestEnv::new();
    std::fs::write(
        env.path("app.log"),
        "2024-05-01T10:00:00Z 9.9.9.9 GET /health HTTP/2 200 3ms\n2024-05-01T10:00:01Z 9.9.9.9 POST /jobs HTTP/2 502 40ms\nbroken\n",
    )
    .unwrap();
    let pattern = r#"pattern = '^(?P<time>\S+) (?P<remote_addr>\S+) (?P<method>\S+) (?P<path>\S+) (?P<protocol>\S+) (?P<status>\d+) (?P<latency>\d+)ms$'"#;
    env.write_config(&config(
        "app.log",
        &format!("format = \"regex\"\n{pattern}"),
    ));
    let (_, json) = env.sync_json();
    assert_eq!(
        (
            json["sources"][0]["events_written"].as_u64(),
            json["sources"][0]["invalid"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let out = env
        .run(&["events", "--format", "jsonl", "--limit", "1"])
        .ok()
        .stdout();
    let e: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(e["title"], "POST /jobs → 502");
    assert_eq!(e["metadata"]["latency"], 40.0);

    env.write_config(&config(
        "app.log",
        "format = \"regex\"\npattern = '^(?P<status>\\d+)$'",
    ));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("athena.toml:6: source web: key `pattern`: needs a named group `time`"),
        "{}",
        run.stderr()
    );
    env.write_config(&config("app.log", "format = \"regex\""));
    assert_eq!(env.run(&["sync"]).code(), 2);
}

#[test]
fn a_reused_inode_outside_the_paths_is_not_taken_for_a_rotated_log() {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new();
    let log = env.path("access.log");
    append(&log, &lines(0..3));
    env.write_config(&config("access.log", ""));
    env.run(&["sync"]).ok();
    std::fs::remove_file(&log).unwrap();
    // Another file in the same directory now has the stored inode (the kernel reuses them; here
    // the cursor is pointed at it, which is what reuse looks like).
    let other = env.path("unrelated.txt");
    std::fs::write(&other, "not a log line\nat all\n").unwrap();
    let ino = std::fs::metadata(&other).unwrap().ino();
    let c = env.store();
    c.execute(
        "UPDATE cursors SET cursor = json_set(cursor, '$.files.' || (SELECT key FROM json_each(cursor, '$.files')) || '.ino', ?1)",
        [ino as i64],
    )
    .unwrap();
    drop(c);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
    assert_eq!(json["sources"][0]["invalid"], 0, "{json}");
    let cursor: String = env.cursor_text("web").unwrap();
    assert_eq!(cursor, r#"{"version":2,"files":[]}"#);
}
