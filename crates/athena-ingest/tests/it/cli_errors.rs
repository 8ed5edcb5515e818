//! Bad input: config errors exit 2 naming file, line, source and key; a broken source exits 1
//! naming the source and its path while the other sources finish; nothing half-stored.

use serde_json::{json, Value};

use crate::support::*;

fn repo_with_commits(env: &TestEnv, name: &str, n: usize) -> std::path::PathBuf {
    let repo = env.path(name);
    init_repo(&repo);
    for i in 0..n {
        commit_files(
            &repo,
            &format!("c{i}"),
            &[("f.txt", format!("{i}\n").as_bytes())],
        );
    }
    repo
}

#[test]
fn unknown_key_exits_2_naming_file_line_source_and_key() {
    let env = TestEnv::new();
    let repo = repo_with_commits(&env, "repo", 1);
    env.write_config(&format!(
        "# comment\n\n[[sources]]\nid = \"myrepo\"\ntype = \"git\"\npath = \"{}\"\nbrnaches = [\"main\"]\n",
        repo.display()
    ));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    let err = run.stderr();
    assert!(err.contains("athena.toml:7"), "{err}");
    assert!(err.contains("source myrepo"), "{err}");
    assert!(err.contains("key `brnaches`"), "{err}");
    assert!(
        !env.db().exists(),
        "a config error must not create or touch the store"
    );
}

#[test]
fn missing_key_wrong_type_and_unknown_type_exit_2() {
    let env = TestEnv::new();
    env.write_config("[[sources]]\nid = \"r\"\ntype = \"git\"\n");
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("athena.toml:1: source r: key `path`: missing field `path`"),
        "{}",
        run.stderr()
    );

    env.write_config(
        "[[sources]]\nid = \"r\"\ntype = \"git\"\npath = \".\"\ninclude_diff = \"yes\"\n",
    );
    let run = env.run(&["validate"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("athena.toml:5: source r: key `include_diff`"),
        "{}",
        run.stderr()
    );

    env.write_config("[[sources]]\nid = \"r\"\ntype = \"gti\"\n");
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("unknown source type \"gti\" (known types: api_log, ")
            && run.stderr().contains(" git, github, "),
        "{}",
        run.stderr()
    );

    let run = env.run(&["sync", "--config", "nope.toml"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("nope.toml not found"),
        "{}",
        run.stderr()
    );

    let run = env.run(&["events", "--since", "yesterday"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
}

#[test]
fn a_path_that_is_no_repository_fails_that_source_only() {
    let env = TestEnv::new();
    let good = repo_with_commits(&env, "good", 3);
    let not_repo = env.path("plain-dir");
    std::fs::create_dir_all(&not_repo).unwrap();
    let missing = env.path("missing");
    env.write_config(&format!(
        "{}{}{}",
        git_config("broken", &not_repo, ""),
        git_config("good", &good, ""),
        git_config("gone", &missing, "")
    ));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 1, "{}", run.describe());
    let by_id = |id: &str| {
        json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("good")["status"], "ok");
    assert_eq!(by_id("good")["events_written"], 3);
    let broken = by_id("broken");
    assert_eq!(broken["status"], "failed");
    let msg = broken["error"].as_str().unwrap();
    assert!(
        msg.contains("source broken")
            && msg.contains(not_repo.to_str().unwrap())
            && msg.contains("not a git repository"),
        "{msg}"
    );
    let gone = by_id("gone")["error"].as_str().unwrap().to_string();
    assert!(
        gone.contains("source gone") && gone.contains("does not exist"),
        "{gone}"
    );
    // status remembers the failure.
    let status = env.run(&["status", "--format", "json"]).ok();
    let status: serde_json::Value = serde_json::from_str(status.stdout().trim()).unwrap();
    let broken = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "broken")
        .unwrap();
    assert!(broken["last_error"]
        .as_str()
        .unwrap()
        .contains("not a git repository"));
    assert_eq!(broken["cursor"], serde_json::Value::Null);
}

#[test]
fn a_missing_branch_fails_naming_branch_source_and_path() {
    let env = TestEnv::new();
    let repo = repo_with_commits(&env, "repo", 2);
    env.write_config(&git_config("r", &repo, "branches = [\"main\", \"nope\"]"));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    // Told once, on stderr.
    let out = run.stderr();
    assert!(
        out.contains("source r")
            && out.contains("branch \"nope\" not found")
            && out.contains(repo.to_str().unwrap()),
        "{out}"
    );
    assert!(env.ids("r").is_empty());
    let run = env.run(&["validate"]);
    assert_eq!(run.code(), 1);
    assert!(run.stdout().contains("failed  r"), "{}", run.stdout());
}

#[test]
fn a_corrupt_object_fails_the_source_and_stores_nothing_of_the_failed_batch() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    for i in 0..5 {
        commit_files(
            &repo,
            &format!("c{i}"),
            &[(&format!("f{i}.txt"), format!("content {i}\n").as_bytes())],
        );
    }
    // Corrupt the loose blob of the last commit's new file.
    let blob = git(&repo, &["rev-parse", "HEAD:f4.txt"]).trim().to_string();
    let object = repo.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    let mut perms = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&object, perms).unwrap();
    std::fs::write(&object, b"this is not zlib data").unwrap();
    let good = env.path("good");
    init_repo(&good);
    commit_files(&good, "fine", &[("x", b"x\n")]);
    env.write_config(&format!(
        "{}{}",
        git_config("corrupt", &repo, "batch_size = 100"),
        git_config("good", &good, "")
    ));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 1, "{}", run.describe());
    let corrupt = json["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "corrupt")
        .unwrap();
    assert_eq!(corrupt["status"], "failed");
    let msg = corrupt["error"].as_str().unwrap();
    assert!(
        msg.contains("source corrupt")
            && msg.contains(repo.to_str().unwrap())
            && msg.contains(&blob),
        "{msg}"
    );
    assert!(
        env.ids("corrupt").is_empty(),
        "the failed batch must not be stored"
    );
    assert_eq!(env.ids("good").len(), 1);
}

#[test]
fn a_second_sync_on_a_busy_store_fails_clearly() {
    let env = TestEnv::new();
    let repo = repo_with_commits(&env, "repo", 1);
    env.write_config(&git_config("r", &repo, ""));
    let lock = std::fs::File::create(env.path("athena.db.lock")).unwrap();
    lock.lock().unwrap();
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.stderr().contains("store is busy"), "{}", run.stderr());
    drop(lock);
    env.run(&["sync"]).ok();
    assert_eq!(env.ids("r").len(), 1);
}

#[test]
fn a_sync_through_a_symlink_to_a_busy_store_reports_busy() {
    let env = TestEnv::new();
    let repo = repo_with_commits(&env, "repo", 1);
    env.write_config(&git_config("r", &repo, ""));
    env.run(&["sync"]).ok();
    std::os::unix::fs::symlink("athena.db", env.path("link.db")).unwrap();
    // The first sync holds the store's lock, taken on its real path.
    let lock = std::fs::File::open(env.path("athena.db.lock")).unwrap();
    lock.lock().unwrap();
    let run = env.run(&["sync", "--db", "link.db"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.stderr().contains("store is busy"), "{}", run.stderr());
    assert!(!env.path("link.db.lock").exists());
}

/// `error_kind` of the first source, in `sync --format json` and in `status --format json`.
fn error_kinds(env: &TestEnv) -> (Value, Value) {
    let (_, sync) = env.sync_json();
    let status: Value =
        serde_json::from_str(env.run(&["status", "--format", "json"]).stdout().trim()).unwrap();
    (
        sync["sources"][0]["error_kind"].clone(),
        status["sources"][0]["error_kind"].clone(),
    )
}

#[test]
fn a_failed_source_says_what_kind_of_error_stopped_it() {
    let env = TestEnv::new();
    // A directory that does not exist: an I/O failure.
    env.write_config(
        "[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"missing/*.log\"]\n",
    );
    assert_eq!(error_kinds(&env), (json!("io"), json!("io")));
    // A cursor this release cannot read.
    std::fs::create_dir(env.path("missing")).unwrap();
    env.store()
        .execute(
            "UPDATE cursors SET cursor = '{\"version\":99}' WHERE source_id = 'web'",
            [],
        )
        .unwrap();
    env.store()
        .execute(
            "INSERT OR IGNORE INTO cursors (source_id, source_type, cursor, updated_at)
             VALUES ('web', 'api_log', '{\"version\":99}', 0)",
            [],
        )
        .unwrap();
    assert_eq!(error_kinds(&env), (json!("cursor"), json!("cursor")));
    // Fixed: no kind any more.
    env.run(&["reset", "--source", "web"]).ok();
    assert_eq!(error_kinds(&env), (Value::Null, Value::Null));
}
