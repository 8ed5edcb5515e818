//! `type = "singer"` with real taps: tap-jsonl (Meltano's SDK) on files of records, and
//! `fixtures/singer/tap_tickets.py`, an incremental tap written with the SDK (a replication key,
//! a STATE every N records). Taps that die, print garbage or never end are small scripts.
//! The tools come from the test venv (scripts/test-setup.sh).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn tickets_tap() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/singer/tap_tickets.py")
}

/// A `singer` source running the tickets tap with `settings` (a TOML inline table's body).
fn tickets_config(settings: &str, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"t\"\ntype = \"singer\"\ncommand = [{:?}, {:?}]\nconfig = {{ {settings} }}\n{extra}\n",
        test_tool("python3").display().to_string(),
        tickets_tap().display().to_string(),
    )
}

/// A tap written as a Python script in the env's dir.
fn script_tap(env: &TestEnv, name: &str, body: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, body).unwrap();
    format!("[{:?}, {:?}]", "python3", path.display().to_string())
}

fn dead_letters(env: &TestEnv, source: &str) -> Vec<(String, String)> {
    let c = env.store();
    let mut stmt = c
        .prepare("SELECT origin, reason FROM dead_letters WHERE source_id = ?1 ORDER BY seq")
        .unwrap();
    let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)));
    rows.unwrap().map(Result::unwrap).collect()
}

fn source_json(json: &Value) -> &Value {
    &json["sources"][0]
}

#[test]
fn tap_jsonl_records_become_events_by_the_streams_mapping_and_a_record_read_again_is_a_duplicate() {
    let env = TestEnv::new();
    let records: String = (1..=40)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"name\": \"Person {i}\", \"email\": \"p{i}@corp.com\", \"joined\": \"2024-03-{:02}T09:00:00Z\"}}\n",
                i % 28 + 1
            )
        })
        .collect();
    std::fs::write(env.path("people.jsonl"), &records).unwrap();
    env.write_config(&format!(
        r#"[[sources]]
id = "people"
type = "singer"
command = [{:?}]
config = {{ path = "people.jsonl", stream_name = "people", primary_keys = ["id"] }}
[sources.streams.people]
kind = "person_joined"
occurred_at = "joined"
actor = "email"
title = "{{name}} joined"
"#,
        test_tool("tap-jsonl").display().to_string()
    ));
    // tap-jsonl reads the path relative to where it runs: the config file's directory.
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(source_json(&json)["events_written"], 40, "{json}");
    let events = env.kinds_and_ids("people");
    assert_eq!(events.len(), 40);
    assert!(events.iter().all(|(k, _)| k == "person_joined"));
    let run = env
        .run(&[
            "events", "--source", "people", "--format", "jsonl", "--limit", "100",
        ])
        .ok();
    let seven: Value = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["id"] == "people:7")
        .expect("record 7 stored as people:7");
    assert_eq!(seven["title"], "Person 7 joined");
    assert_eq!(seven["actor"], "p7@corp.com");
    assert_eq!(seven["occurred_at"], "2024-03-08T09:00:00Z");
    assert_eq!(seven["source_type"], "singer");
    assert_eq!(seven["context"]["stream"], "people");
    assert_eq!(seven["metadata"]["name"], "Person 7");
    // Its STATE (Meltano's shape, partitions and all) is the cursor, as the tap wrote it.
    let cursor = env.cursor("people").unwrap();
    assert_eq!(cursor["version"], 1);
    let bookmark = &cursor["state"]["bookmarks"]["people"];
    assert!(bookmark["partitions"].is_array(), "{cursor}");
    // Ten more lines: tap-jsonl reads the changed file again; the 40 it sent before are
    // duplicates by their key property.
    let more: String = (41..=50)
        .map(|i| format!("{{\"id\": {i}, \"name\": \"Person {i}\", \"email\": \"p{i}@corp.com\", \"joined\": \"2024-04-01T09:00:00Z\"}}\n"))
        .collect();
    std::fs::write(env.path("people.jsonl"), records + &more).unwrap();
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = source_json(&json);
    assert_eq!(
        (s["events_written"].as_u64(), s["duplicates"].as_u64()),
        (Some(10), Some(40)),
        "{json}"
    );
    let ids: BTreeSet<String> = env.ids("people").into_iter().collect();
    assert_eq!(ids.len(), 50);
}

#[test]
fn an_incremental_tap_is_given_its_stored_state_and_reads_on_from_it() {
    let env = TestEnv::new();
    env.write_config(&tickets_config("total = 250, state_every = 40", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(source_json(&json)["events_written"], 250, "{json}");
    let cursor = env.cursor("t").unwrap();
    assert_eq!(
        cursor["state"]["bookmarks"]["tickets"]["replication_key_value"],
        ticket_time(250),
        "{cursor}"
    );
    // The replication key is the time; the key property the id.
    let out = env
        .run(&[
            "events", "--source", "t", "--format", "jsonl", "--limit", "1000",
        ])
        .ok();
    let first: Value = out
        .stdout()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["id"] == "tickets:1")
        .expect("ticket 1 stored as tickets:1");
    assert_eq!(first["occurred_at"], "2024-01-01T00:01:00Z");
    assert_eq!(first["title"], "tickets tickets:1");
    // 50 more tickets: the tap, given the state, sends only those.
    env.write_config(&tickets_config("total = 300, state_every = 40", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = source_json(&json);
    assert_eq!(
        (s["events_written"].as_u64(), s["duplicates"].as_u64()),
        (Some(50), Some(0)),
        "{json}"
    );
    assert_eq!(env.ids("t").len(), 300);
}

#[test]
fn sigkill_during_a_taps_run_five_times_then_finish_stores_every_record_exactly_once() {
    const TOTAL: usize = 4000;
    let env = TestEnv::new();
    let pid_file = env.path("tap.pid");
    // About 9 s a run: a STATE every 25 records, 2 ms a record; each killed run stores a few
    // hundred.
    let settings = format!(
        "total = {TOTAL}, state_every = 25, delay_ms = 2, pid_file = {:?}",
        pid_file.display().to_string()
    );
    env.write_config(&tickets_config(&settings, "batch_size = 50"));
    let expected: BTreeSet<String> = (1..=TOTAL).map(|i| format!("tickets:{i}")).collect();
    let mut rng = kill_schedule("tickets tap, 4000 records at 2 ms");
    let mut kills = 0;
    let mut attempts = 0;
    let mut before = 0;
    while kills < 5 {
        attempts += 1;
        assert!(
            attempts <= 30,
            "only {kills} of {attempts} kills landed while records were stored"
        );
        let _ = std::fs::remove_file(&pid_file);
        let mut child = env
            .cmd(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400 + rng.below(800)));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        // The tap dies with athena-ingest (it would otherwise write on to nobody).
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
            let deadline = Instant::now() + Duration::from_secs(5);
            while proc.exists() && !is_zombie(&proc) {
                assert!(
                    Instant::now() < deadline,
                    "the tap {} outlived athena-ingest by 5 s",
                    pid.trim()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let ids = env.ids("t");
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(distinct.len(), ids.len(), "a record stored twice");
        assert!(distinct.is_subset(&expected));
        if ids.len() > before && ids.len() < TOTAL {
            kills += 1;
        }
        before = ids.len();
        // Each kill leaves exactly tickets 1..=n stored, n at a STATE, and that STATE's
        // bookmark (ticket n's time) as the cursor.
        let n = ids.len();
        let prefix: Vec<String> = (1..=n).map(|i| format!("tickets:{i}")).collect();
        assert_eq!(
            ids, prefix,
            "the stored records are not the tap's first {n}"
        );
        if n > 0 {
            assert_eq!(n % 25, 0, "{n} stored: not at a STATE");
            let cursor = env.cursor("t").unwrap();
            assert_eq!(
                cursor["state"]["bookmarks"]["tickets"]["replication_key_value"],
                ticket_time(n),
                "the cursor with {n} stored: {cursor}"
            );
        }
    }
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let ids = env.ids("t");
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), got.len(), "a record stored twice");
    assert_eq!(got, expected);
    // The last run read on from the stored STATE, not from the start.
    let s = source_json(&json);
    assert!(
        s["events_written"].as_u64().unwrap() < TOTAL as u64,
        "{json}"
    );
    assert!(
        s["duplicates"].as_u64().unwrap() < 25,
        "it re-read more than one STATE's worth: {json}"
    );
}

/// When ticket `n` was updated, as the tap writes it: 2024-01-01 plus `n` minutes.
fn ticket_time(n: usize) -> String {
    format!(
        "2024-01-{:02}T{:02}:{:02}:00+00:00",
        1 + n / 1440,
        n % 1440 / 60,
        n % 60
    )
}

fn is_zombie(proc: &Path) -> bool {
    std::fs::read_to_string(proc.join("stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

#[test]
fn a_tap_that_dies_half_way_fails_the_source_with_its_stderr_and_its_unstated_records_are_read_again(
) {
    let env = TestEnv::new();
    env.write_config(&tickets_config(
        "total = 30, state_every = 10, fail_at = 26",
        "",
    ));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 1, "{}", run.describe());
    let error = source_json(&json)["error"].as_str().unwrap().to_string();
    assert!(error.contains("exited with status 3"), "{error}");
    assert!(
        error.contains("401 bad credentials"),
        "the tap's stderr is quoted: {error}"
    );
    // Tickets 21..=25 came after the last STATE (after ticket 20): not stored.
    assert_eq!(env.ids("t").len(), 20);
    assert_eq!(
        env.cursor("t").unwrap()["state"]["bookmarks"]["tickets"]["replication_key_value"],
        ticket_time(20)
    );
    // Fixed: the next run starts from ticket 21.
    env.write_config(&tickets_config("total = 30, state_every = 10", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = source_json(&json);
    assert_eq!(
        (s["events_written"].as_u64(), s["duplicates"].as_u64()),
        (Some(10), Some(0)),
        "{json}"
    );
    assert_eq!(env.ids("t").len(), 30);
}

const GARBAGE_TAP: &str = r#"
import json, sys
def out(m): print(json.dumps(m))
schema = {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}}, "required": ["id"]}
out({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"], "bookmark_properties": ["at"]})
out({"type": "RECORD", "stream": "s", "record": {"id": 1, "at": "2024-05-01T00:00:00Z"}})
print("Traceback (most recent call last): not a message")
out({"type": "RECORD", "stream": "s", "record": {"id": "two", "at": "2024-05-01T00:00:00Z"}})
out({"type": "RECORD", "stream": "other", "record": {"id": 3}})
out({"type": "RECORD", "stream": "s", "record": {"id": 4, "at": "2024-05-01T00:00:00Z", "pad": "x" * 3000}})
out({"type": "RECORD", "stream": "s", "record": {"id": 5}})
sys.stdout.buffer.write(b'\xff\xfe\n')
out({"type": "STATE", "value": {"n": 5}})
out({"type": "RECORD", "stream": "s", "record": {"id": 6, "at": "2024-05-02T00:00:00Z"}})
"#;

#[test]
fn a_tap_that_prints_garbage_has_each_bad_line_kept_as_a_dead_letter_naming_its_line() {
    let env = TestEnv::new();
    let command = script_tap(&env, "garbage.py", GARBAGE_TAP);
    env.write_config(&format!(
        "[[sources]]\nid = \"g\"\ntype = \"singer\"\ncommand = {command}\nmax_record_bytes = 2048\n"
    ));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(source_json(&json)["invalid"], 6, "{json}");
    assert_eq!(env.ids("g"), ["s:1", "s:6"]);
    let letters = dead_letters(&env, "g");
    let want = [
        ("tap output line 3", "not JSON"),
        (
            "tap output line 4",
            "does not match the SCHEMA of s: record.id: \"two\" is not an integer",
        ),
        ("tap output line 5", "a RECORD of other before its SCHEMA"),
        ("tap output line 6", "longer than max_record_bytes (2048)"),
        ("tap output line 7", "record s:5 of s has no time"),
        ("tap output line 8", "not UTF-8"),
    ];
    assert_eq!(letters.len(), want.len(), "{letters:?}");
    for ((origin, reason), (want_origin, want_reason)) in letters.iter().zip(want) {
        assert!(origin.starts_with(&format!("{want_origin} (")), "{origin}");
        assert!(reason.contains(want_reason), "{origin}: {reason}");
    }
    assert_eq!(
        env.cursor("g").unwrap()["state"],
        serde_json::json!({"n": 5})
    );
}

const ENDLESS_TAP: &str = r#"
import json, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def out(m): print(json.dumps(m), flush=True)
out({"type": "SCHEMA", "stream": "s", "schema": {"type": "object"}, "key_properties": ["id"]})
out({"type": "RECORD", "stream": "s", "record": {"id": 1}, "time_extracted": "2024-05-01T00:00:00Z"})
out({"type": "STATE", "value": {"at": 1}})
with open(sys.argv[1], "w") as f:
    f.write(str(__import__("os").getpid()))
while True:
    time.sleep(1)
"#;

#[test]
fn a_tap_that_never_ends_is_stopped_by_ctrl_c_in_time_and_what_its_state_covers_is_kept() {
    let env = TestEnv::new();
    let pid_file = env.path("endless.pid");
    std::fs::write(env.path("endless.py"), ENDLESS_TAP).unwrap();
    env.write_config(&format!(
        "[[sources]]\nid = \"e\"\ntype = \"singer\"\ncommand = [\"python3\", \"endless.py\", {:?}]\nstop_grace_secs = 1\n",
        pid_file.display().to_string()
    ));
    let child = env
        .cmd(&["sync"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The record before the tap went quiet is stored while it is quiet.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(env.db().exists() && env.ids("e").len() == 1 && pid_file.exists()) {
        assert!(
            Instant::now() < deadline,
            "the record was not stored while the tap was quiet"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let tap_pid = std::fs::read_to_string(&pid_file).unwrap();
    let interrupted = Instant::now();
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    let took = interrupted.elapsed();
    // The tap ignores SIGTERM: it is killed one grace second later.
    assert!(took < Duration::from_secs(6), "Ctrl-C took {took:?}");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proc = PathBuf::from(format!("/proc/{}", tap_pid.trim()));
    assert!(!proc.exists() || is_zombie(&proc), "the tap still runs");
    assert_eq!(env.ids("e"), ["s:1"]);
    assert_eq!(
        env.cursor("e").unwrap()["state"],
        serde_json::json!({"at": 1})
    );
}

#[test]
fn the_taps_settings_go_in_a_private_file_and_its_secrets_stay_out_of_logs_and_errors() {
    let env = TestEnv::new();
    // A tap that shows what it was given: its settings file's mode, and the settings on stderr.
    let tap = r#"
import json, os, sys
path = sys.argv[sys.argv.index("--config") + 1]
mode = oct(os.stat(path).st_mode & 0o777)
settings = json.load(open(path))
sys.stderr.write("settings: " + json.dumps(settings) + " mode " + mode + "\n")
token = os.environ.get("TAP_API_TOKEN", "")
sys.stderr.write("env token " + token + " of length " + str(len(token)) + "\n")
sys.exit(2)
"#;
    let command = script_tap(&env, "show.py", tap);
    env.write_config(&format!(
        "[[sources]]\nid = \"s\"\ntype = \"singer\"\ncommand = {command}\nconfig = {{ api_key = \"sk-literal-4242\", token = \"${{TAP_TOKEN}}\", start = \"2024\", dsn = \"postgresql://u:pw-in-url-5555@db/x\" }}\nenv = {{ TAP_API_TOKEN = \"envtok-literal-9999\" }}\n"
    ));
    let run = Run(env
        .cmd(&["sync", "-v"])
        .env("TAP_TOKEN", "tok-from-env-777")
        .output()
        .unwrap());
    assert_eq!(run.code(), 1, "{}", run.describe());
    let all = run.describe() + &env.store_text();
    assert!(all.contains("mode 0o600"), "{all}");
    assert!(all.contains("\"start\": \"2024\""), "{all}");
    assert!(
        all.contains("of length 19"),
        "the tap got its variable: {all}"
    );
    for secret in [
        "sk-literal-4242",
        "tok-from-env-777",
        "envtok-literal-9999",
        "pw-in-url-5555",
    ] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}

#[test]
fn a_missing_tap_program_or_stream_is_an_error_naming_it() {
    let env = TestEnv::new();
    env.write_config(
        "[[sources]]\nid = \"m\"\ntype = \"singer\"\ncommand = [\"tap-that-is-not-installed\"]\n",
    );
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr()
            .contains("\"tap-that-is-not-installed\" is not on PATH"),
        "{}",
        run.describe()
    );
    // A stream the tap does not have, found by discovery.
    env.write_config(&tickets_config("total = 3", "[sources.streams.tikets]\n"));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains("the tap has no stream tikets"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr().contains("the tap's streams: tickets"),
        "{}",
        run.describe()
    );
    // An empty command is a config error (exit 2) naming the key.
    env.write_config("[[sources]]\nid = \"m\"\ntype = \"singer\"\ncommand = []\n");
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("command"), "{}", run.describe());
}

#[test]
fn discovered_streams_are_selected_and_mapped() {
    let env = TestEnv::new();
    env.write_config(&tickets_config(
        "total = 20, state_every = 5",
        "[sources.streams.tickets]\nkind = \"ticket_updated\"\nactor = \"author\"\ntitle = \"{title} by {author}\"\nid = \"{id}@{updated_at}\"\n",
    ));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(source_json(&json)["events_written"], 20, "{json}");
    let events = env.kinds_and_ids("t");
    assert_eq!(
        events[0],
        (
            "ticket_updated".to_string(),
            "tickets:1@2024-01-01T00:01:00+00:00".to_string()
        )
    );
}

/// target-jsonl, from the venv of its own that scripts/test-setup.sh makes.
fn target_jsonl() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir")
        .join("test-tools/singer-target-venv/bin");
    tool_in(&dir, "target-jsonl")
}

/// `export --singer ARGS | target-jsonl`: the target's stdout (the state it printed).
fn export_into_target(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["export", "--singer"];
    all.extend_from_slice(args);
    let mut export = env
        .cmd(&all)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let target = std::process::Command::new(target_jsonl())
        .args(["--config", "target.json"])
        .current_dir(env.dir.path())
        .stdin(export.stdout.take().unwrap())
        .output()
        .expect("running target-jsonl (scripts/test-setup.sh installs it)");
    assert!(export.wait().unwrap().success());
    let run = Run(target);
    assert_eq!(run.code(), 0, "target-jsonl: {}", run.describe());
    run.stdout()
}

#[test]
fn target_jsonl_loads_the_store_through_export_singer_and_a_second_export_brings_only_whats_new() {
    let env = TestEnv::new();
    std::fs::write(env.path("web.log"), sample_lines(1..=300)).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"web.log\"]\n");
    env.run(&["sync"]).ok();
    std::fs::write(
        env.path("target.json"),
        r#"{"destination_path": "out", "do_timestamp_file": false}"#,
    )
    .unwrap();
    let state = export_into_target(&env, &[]);
    std::fs::write(env.path("state.json"), &state).unwrap();
    let loaded = |env: &TestEnv| -> Vec<Value> {
        std::fs::read_to_string(env.path("out/events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // Every event, as `events --format jsonl` prints it.
    let out = env
        .run(&["events", "--format", "jsonl", "--limit", "1000"])
        .ok();
    let mut stored: Vec<Value> = out
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut got = loaded(&env);
    assert_eq!(got.len(), 300);
    let key = |e: &Value| e["id"].as_str().unwrap().to_string();
    stored.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, stored);
    let position = |state: &str| -> i64 {
        let last: Value = serde_json::from_str(state.lines().last().unwrap()).unwrap();
        last["bookmarks"]["events"]["positions"]["web"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(position(&state), 300, "{state}");
    // 100 more lines stored; the export from the saved state brings those only.
    let mut log = sample_lines(1..=300);
    log.push_str(&sample_lines(301..=400));
    std::fs::write(env.path("web.log"), log).unwrap();
    env.run(&["sync"]).ok();
    let state = export_into_target(&env, &["--state", "state.json"]);
    assert_eq!(position(&state), 400, "{state}");
    let got = loaded(&env);
    assert_eq!(got.len(), 400);
    let ids: BTreeSet<String> = got.iter().map(key).collect();
    assert_eq!(ids.len(), 400, "an event exported twice");
    // A second source: the export from the saved state brings its events, whatever their
    // positions, and none of web's again.
    std::fs::write(env.path("notes.log"), sample_lines(401..=450)).unwrap();
    env.write_config(
        "[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"web.log\"]\n\n[[sources]]\nid = \"notes\"\ntype = \"api_log\"\npaths = [\"notes.log\"]\n",
    );
    env.run(&["sync"]).ok();
    std::fs::write(env.path("state.json"), &state).unwrap();
    let state = export_into_target(&env, &["--state", "state.json"]);
    let got = loaded(&env);
    assert_eq!(got.len(), 450);
    assert_eq!(got.iter().map(key).collect::<BTreeSet<_>>().len(), 450);
    let last: Value = serde_json::from_str(state.lines().last().unwrap()).unwrap();
    assert_eq!(
        last["bookmarks"]["events"]["positions"],
        serde_json::json!({"web": 400, "notes": 450})
    );
    // Filters: a source the store does not have exports nothing.
    // A state of another tap is a usage error naming the file.
    std::fs::write(env.path("other.json"), r#"{"bookmarks": {"users": {}}}"#).unwrap();
    let run = env.run(&["export", "--singer", "--state", "other.json"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("other.json"), "{}", run.describe());
}

#[test]
fn under_serve_a_tap_runs_on_its_schedule_reads_on_after_a_reload_and_is_stopped_at_shutdown() {
    use crate::serve_support::{stored_count, wait_for, Server};
    let env = TestEnv::new();
    let pid_file = env.path("endless.pid");
    std::fs::write(env.path("endless.py"), ENDLESS_TAP).unwrap();
    let config = |total: usize| {
        format!(
            "{}schedule = \"1s\"\n\n[[sources]]\nid = \"e\"\ntype = \"singer\"\ncommand = [\"python3\", \"endless.py\", {:?}]\nstop_grace_secs = 1\n",
            tickets_config(&format!("total = {total}, state_every = 10"), ""),
            pid_file.display().to_string()
        )
    };
    env.write_config(&config(30));
    let mut server = Server::start(&env);
    wait_for(
        "the tickets tap's 30 records and the endless tap's one",
        || stored_count(&env, "t") == 30 && stored_count(&env, "e") == 1,
    );
    // 20 more tickets after a reload: the next scheduled run, given the stored state, sends
    // those only.
    env.write_config(&config(50));
    server.signal(libc::SIGHUP);
    wait_for("the 20 new tickets", || stored_count(&env, "t") == 50);
    assert_eq!(env.ids("t").len(), 50);
    let tap_pid = std::fs::read_to_string(&pid_file).unwrap();
    let (code, stderr, took) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    let proc = PathBuf::from(format!("/proc/{}", tap_pid.trim()));
    assert!(
        !proc.exists() || is_zombie(&proc),
        "the endless tap outlived serve"
    );
}

#[test]
fn a_tap_that_leaves_a_child_holding_its_output_does_not_hold_the_sync() {
    let env = TestEnv::new();
    let tap = r#"
import json, subprocess, sys
print(json.dumps({"type": "SCHEMA", "stream": "s", "schema": {"type": "object"}, "key_properties": ["id"]}))
print(json.dumps({"type": "RECORD", "stream": "s", "record": {"id": 1}, "time_extracted": "2024-05-01T00:00:00Z"}))
print(json.dumps({"type": "STATE", "value": {"done": True}}), flush=True)
subprocess.Popen(["sleep", "300"])  # inherits stdout and stderr, and outlives the tap
"#;
    let command = script_tap(&env, "leaves.py", tap);
    env.write_config(&format!(
        "[[sources]]\nid = \"l\"\ntype = \"singer\"\ncommand = {command}\n"
    ));
    let started = Instant::now();
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the sync waited {:?}",
        started.elapsed()
    );
    assert_eq!(source_json(&json)["events_written"], 1, "{json}");
    assert_eq!(
        env.cursor("l").unwrap()["state"],
        serde_json::json!({"done": true})
    );
}

#[test]
fn a_tap_that_cannot_discover_has_only_the_named_streams_stored() {
    let env = TestEnv::new();
    let tap = r#"
import json, sys
if "--discover" in sys.argv:
    sys.exit("no discovery here")
for s in ["a", "b"]:
    print(json.dumps({"type": "SCHEMA", "stream": s, "schema": {"type": "object"}, "key_properties": ["id"]}))
    print(json.dumps({"type": "RECORD", "stream": s, "record": {"id": 1}, "time_extracted": "2024-05-01T00:00:00Z"}))
print(json.dumps({"type": "STATE", "value": {}}))
"#;
    let command = script_tap(&env, "two.py", tap);
    env.write_config(&format!(
        "[[sources]]\nid = \"d\"\ntype = \"singer\"\ncommand = {command}\ndiscover = false\n[sources.streams.a]\n"
    ));
    let (run, _) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(env.ids("d"), ["a:1"]);
}
