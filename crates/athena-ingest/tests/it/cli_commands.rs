//! The other commands: init, events (filters and formats), status, sources, validate, reset,
//! and Ctrl-C during a sync.

use serde_json::Value;

use crate::support::*;

fn synced_env() -> (TestEnv, Vec<String>) {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let mut ids = Vec::new();
    for (i, (msg, who)) in [
        ("Fix parser crash", "Ann"),
        ("Add docs", "Bob"),
        ("Speed up parser", "Ann"),
    ]
    .iter()
    .enumerate()
    {
        let out = git_cmd(&repo)
            .env("GIT_AUTHOR_NAME", who)
            .env("GIT_AUTHOR_DATE", format!("2024-03-0{}T10:00:00Z", i + 1))
            .args(["commit", "-q", "--allow-empty", "-m", msg])
            .output()
            .unwrap();
        assert!(out.status.success());
        ids.push(head(&repo));
    }
    env.write_config(&git_config("repo", &repo, ""));
    env.run(&["sync"]).ok();
    (env, ids)
}

#[test]
fn events_filters_and_formats() {
    let (env, ids) = synced_env();
    let jsonl = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["events", "--format", "jsonl"];
        all.extend_from_slice(args);
        env.run(&all)
            .ok()
            .stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = jsonl(&[]);
    assert_eq!(all.len(), 3);
    // Newest first, with the documented fields.
    assert_eq!(all[0]["id"], ids[2].as_str());
    for key in [
        "id",
        "source_id",
        "source_type",
        "kind",
        "occurred_at",
        "ingested_at",
        "actor",
        "title",
        "body",
        "url",
        "outcome",
        "context",
        "metadata",
    ] {
        assert!(all[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(all[0]["occurred_at"], "2024-03-03T10:00:00Z");
    assert_eq!(jsonl(&["--actor", "ann"]).len(), 2);
    assert_eq!(jsonl(&["--search", "parser"]).len(), 2);
    assert_eq!(
        jsonl(&["--search", "parser crash"])[0]["id"],
        ids[0].as_str()
    );
    assert_eq!(
        jsonl(&["--since", "2024-03-02", "--until", "2024-03-03"]).len(),
        1
    );
    assert_eq!(jsonl(&["--since", "3650d"]).len(), 3);
    assert_eq!(jsonl(&["--kind", "commit", "--limit", "1"]).len(), 1);
    assert_eq!(jsonl(&["--source", "other"]).len(), 0);

    let csv = env.run(&["events", "--format", "csv"]).ok().stdout();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,source_id,source_type,kind,occurred_at"));
    assert_eq!(lines.len(), 4);
    let table = env.run(&["events"]).ok().stdout();
    assert!(table.starts_with("TIME (UTC)"), "{table}");
    assert!(table.contains("Speed up parser"), "{table}");
}

#[test]
fn status_sources_validate_and_reset() {
    let (env, ids) = synced_env();
    let status = env.run(&["status", "--format", "json"]).ok();
    let status: Value = serde_json::from_str(status.stdout().trim()).unwrap();
    let s = &status["sources"][0];
    assert_eq!(s["id"], "repo");
    assert_eq!(s["type"], "git");
    assert_eq!(s["events"], 3);
    assert_eq!(s["last_error"], Value::Null);
    assert_eq!(s["cursor"]["tips"]["HEAD"], ids[2].as_str());
    assert!(s["last_sync"].as_str().unwrap().ends_with('Z'));

    let sources = env.run(&["sources", "--format", "json"]).ok();
    let sources: Value = serde_json::from_str(sources.stdout().trim()).unwrap();
    let git = sources["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "git")
        .unwrap();
    let keys: Vec<&str> = git["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "path",
            "branches",
            "include_diff",
            "max_diff_bytes",
            "merge_diffs",
            "batch_size",
            "threads"
        ]
    );
    assert!(env.run(&["sources"]).ok().stdout().contains("git — "));

    let v = env.run(&["validate"]).ok();
    assert!(v.stdout().starts_with("ok      repo"), "{}", v.stdout());

    env.run(&["reset", "--source", "repo"]).ok();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
    assert_eq!(json["sources"][0]["duplicates"], 3);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["duplicates"], 0);
}

#[test]
fn init_writes_a_config_that_validates_and_refuses_to_overwrite() {
    let env = TestEnv::new();
    init_repo(env.dir.path());
    commit_files(env.dir.path(), "first", &[("a", b"a\n")]);
    env.run(&["init"]).ok();
    let v = env.run(&["validate"]);
    assert_eq!(v.code(), 0, "{}", v.describe());
    let again = env.run(&["init"]);
    assert_eq!(again.code(), 2);
    assert!(again.stderr().contains("already exists"));
    env.run(&["sync"]).ok();
    assert_eq!(env.ids("this-repo").len(), 1);
}

#[test]
fn ctrl_c_commits_the_batch_in_flight_and_exits_130() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    generate_history(&repo, 4000, 99);
    env.write_config(&git_config("r", &repo, "batch_size = 20\nthreads = 1"));
    let child = env
        .cmd(&["sync"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first batches are stored.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no batch stored within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
        if env.db().exists() && !env.ids("r").is_empty() {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stored = env.ids("r");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stored.len() < 4000,
        "the sync finished before the interrupt"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("interrupted"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted: 1 source stopped early"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The cursor says exactly what is stored: its heads reach the stored commits.
    let cursor: String = env.cursor_text("r").unwrap();
    let cursor: Value = serde_json::from_str(&cursor).unwrap();
    let reached = reached_by_heads(&repo, &cursor);
    assert_eq!(reached, stored.iter().cloned().collect());
    // The next sync completes it exactly.
    env.run(&["sync"]).ok();
    let all = env.ids("r");
    assert_eq!(all.len(), 4000);
    assert_eq!(&all[..stored.len()], &stored[..]);
}

#[test]
fn a_limit_beyond_what_sqlite_counts_lists_everything() {
    let (env, _) = synced_env();
    let huge = u64::MAX.to_string();
    let run = env
        .run(&["events", "--format", "jsonl", "--limit", &huge])
        .ok();
    assert_eq!(run.stdout().lines().count(), 3);
    let run = env.run(&["dead-letters", "--limit", &huge]).ok();
    assert_eq!(run.stdout().trim(), "no dead letters");
}

#[test]
fn an_impossible_date_is_named_as_such() {
    let (env, _) = synced_env();
    let run = env.run(&["events", "--since", "2024-02-30"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("February 2024 has 29 days"),
        "{}",
        run.stderr()
    );
}

#[test]
fn log_format_json_writes_one_json_object_a_line() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), sample_lines(1..=3)).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\", \"nothing-*.log\"]\n");
    let run = env.run(&["-v", "--log-format", "json", "sync"]).ok();
    // Besides the log lines, stderr has the sync's summary line for people.
    let stderr = run.stderr();
    let (logs, others): (Vec<&str>, Vec<&str>) = stderr.lines().partition(|l| l.starts_with('{'));
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(others[0].starts_with("web: ok (3 new events"), "{others:?}");
    let lines: Vec<serde_json::Value> = logs
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let warning = lines
        .iter()
        .find(|l| l["level"] == "WARN")
        .unwrap_or_else(|| panic!("no warning in {lines:?}"));
    assert_eq!(warning["source"], "web");
    assert!(
        warning["path"].as_str().unwrap().ends_with("nothing-*.log"),
        "{warning}"
    );
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{lines:?}");
}
