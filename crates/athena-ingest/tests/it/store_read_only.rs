//! Reading needs no write access: `events` and `status` read a store in a directory the user
//! cannot write, where SQLite cannot create the `-shm` file a WAL reader normally shares.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

#[test]
fn events_and_status_read_a_store_in_a_read_only_directory() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "first", &[("a.txt", b"a\n")]);
    commit_files(&repo, "second", &[("a.txt", b"b\n")]);
    env.write_config(&git_config("r", &repo, ""));
    env.run(&["sync"]).ok();
    assert!(
        !env.path("athena.db-wal").exists(),
        "the sync closed its WAL"
    );
    let dir = env.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let events = run_unprivileged(&env, &["events", "--format", "jsonl"]);
    let status = run_unprivileged(&env, &["status", "--format", "json"]);
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let events = events.ok();
    assert_eq!(events.stdout().lines().count(), 2, "{}", events.describe());
    let status = status.ok();
    let status: serde_json::Value = serde_json::from_str(status.stdout().trim()).unwrap();
    assert_eq!(status["sources"][0]["events"], 2);
    assert!(
        !files
            .iter()
            .any(|f| f.ends_with("-shm") || f.ends_with("-wal")),
        "{files:?}"
    );
}
