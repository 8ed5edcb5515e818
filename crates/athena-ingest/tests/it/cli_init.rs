//! `init`'s starter config: its git source is active only where it can work, inside a git
//! repository; elsewhere it is a commented example and `sync` does not fail on it.

use crate::support::*;

/// The `[[sources]]` tables of `text` that are active (not commented out), by type.
fn active_types(text: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(text).expect("the starter is TOML");
    table
        .get("sources")
        .and_then(|s| s.as_array())
        .map(|sources| {
            sources
                .iter()
                .map(|s| s["type"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn init_outside_a_repository_writes_a_commented_git_source() {
    let env = TestEnv::new();
    let probe = git_cmd(env.dir.path())
        .args(["rev-parse", "--git-dir"])
        .output()
        .unwrap();
    assert!(
        !probe.status.success(),
        "the temp dir is inside a repository"
    );
    let init = env.run(&["init"]).ok();
    assert!(
        init.stdout().contains("is not a git repository"),
        "init says why: {}",
        init.describe()
    );
    let text = std::fs::read_to_string(env.path("athena.toml")).unwrap();
    assert!(text.contains("# type = \"git\""), "{text}");
    assert!(text.contains("# path = \".\""), "{text}");
    assert_eq!(active_types(&text), Vec::<String>::new(), "{text}");

    // sync names what to do, once, and nothing about git.
    let sync = env.run(&["sync"]);
    assert_eq!(sync.code(), 2, "{}", sync.describe());
    let stderr = sync.stderr();
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(stderr.contains("no sources configured"), "{stderr}");
    assert!(!stderr.contains("git"), "{stderr}");
    assert!(!env.db().exists());
}

#[test]
fn init_inside_a_repository_writes_a_git_source() {
    let env = TestEnv::new();
    init_repo(env.dir.path());
    commit_files(env.dir.path(), "first", &[("a", b"a\n")]);
    let init = env.run(&["init"]).ok();
    assert!(!init.stdout().contains("note:"), "{}", init.describe());
    let text = std::fs::read_to_string(env.path("athena.toml")).unwrap();
    assert_eq!(active_types(&text), ["git"], "{text}");
    let sync = env.run(&["sync", "--format", "json"]);
    assert_eq!(sync.code(), 0, "{}", sync.describe());
    let json: serde_json::Value = serde_json::from_str(&sync.stdout()).unwrap();
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");

    // In a subdirectory of the work tree `.` is no repository (the source opens its path as
    // it is, not searching upwards), so there the table is commented out.
    std::fs::create_dir(env.path("sub")).unwrap();
    env.run(&["init", "-c", "sub/athena.toml"]).ok();
    let text = std::fs::read_to_string(env.path("sub/athena.toml")).unwrap();
    assert_eq!(active_types(&text), Vec::<String>::new(), "{text}");
}
