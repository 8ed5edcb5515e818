//! The files source on a real directory: first sync, create, modify, touch, delete, rename,
//! `.gitignore`, `exclude`/`include`, unreadable paths, and the store kept out of its own tree.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::*;

fn config(path: &str, extra: &str) -> String {
    format!("[[sources]]\nid = \"tree\"\ntype = \"files\"\npath = \"{path}\"\n{extra}\n")
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Sets a file's modification time `secs` seconds after a fixed instant, so changes never
/// depend on the file system's clock granularity.
fn set_mtime(root: &Path, rel: &str, secs: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(root.join(rel))
        .unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs))
        .unwrap();
}

/// (kind, path) of every stored event of the source, in storage order.
fn events(env: &TestEnv) -> Vec<(String, String)> {
    let c = env.store();
    let mut s = c
        .prepare(
            "SELECT kind, json_extract(context, '$.path') FROM events
             WHERE source_id = 'tree' ORDER BY seq",
        )
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect()
}

/// The stored per-file state of files present (tombstones of deleted paths left out): path →
/// modification time (seconds).
fn state(env: &TestEnv) -> BTreeMap<String, i64> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT key, value FROM source_state WHERE source_id = 'tree'")
        .unwrap();
    s.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
    })
    .unwrap()
    .map(Result::unwrap)
    // Layout 2: [2][flags][generation u32][size u64][mtime i64]…; flag 1 is a tombstone.
    .filter(|(_, v)| v[0] == 2 && v[1] & 1 == 0)
    .map(|(k, v)| {
        let ns = i64::from_le_bytes(v[14..22].try_into().unwrap());
        (String::from_utf8(k).unwrap(), ns / 1_000_000_000)
    })
    .collect()
}

fn last_metadata(env: &TestEnv, kind: &str, path: &str) -> Value {
    let text: String = env
        .store()
        .query_row(
            "SELECT metadata FROM events WHERE source_id = 'tree' AND kind = ?1
             AND json_extract(context, '$.path') = ?2 ORDER BY seq DESC LIMIT 1",
            [kind, path],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no {kind} event for {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn written(json: &Value) -> u64 {
    json["sources"][0]["events_written"].as_u64().unwrap()
}

#[test]
fn a_tree_through_its_life_create_modify_touch_delete_rename_ignore() {
    let env = TestEnv::new();
    let root = env.path("tree");
    write(&root, "src/main.rs", "fn main() {}\n");
    write(&root, "docs/guide.md", "# Guide\n");
    write(&root, ".gitignore", "target/\n*.tmp\n");
    write(&root, ".env.example", "A=1\n");
    write(&root, "target/debug/out.bin", "binary");
    write(&root, "scratch.tmp", "x");
    write(&root, ".git/HEAD", "ref: refs/heads/main\n");
    for (i, rel) in ["src/main.rs", "docs/guide.md", ".gitignore", ".env.example"]
        .iter()
        .enumerate()
    {
        set_mtime(&root, rel, i as u64);
    }
    env.write_config(&config("tree", ""));

    // First sync: one file_modified per existing file at its mtime; ignored paths and .git
    // are left out.
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let mut first = events(&env);
    first.sort();
    assert_eq!(
        first,
        pairs(&[
            ("file_modified", ".env.example"),
            ("file_modified", ".gitignore"),
            ("file_modified", "docs/guide.md"),
            ("file_modified", "src/main.rs"),
        ])
    );
    assert_eq!(written(&json), 4);
    let m = last_metadata(&env, "file_modified", "src/main.rs");
    assert_eq!(m["language"], "Rust");
    assert_eq!(m["size"], 13);
    assert_eq!(
        m["hash"],
        format!("blake3:{}", blake3::hash(b"fn main() {}\n").to_hex())
    );
    let at: String = env
        .store()
        .query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', occurred_at / 1000, 'unixepoch') FROM events
             WHERE json_extract(context, '$.path') = 'src/main.rs'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        at, "2023-11-14T22:13:20Z",
        "occurred_at is the file's mtime"
    );
    assert_eq!(env.cursor("tree").unwrap()["complete"], true);

    // Nothing changed: nothing written, not even the cursor.
    let cursor_row = |env: &TestEnv| -> i64 {
        env.store()
            .query_row(
                "SELECT updated_at FROM cursors WHERE source_id = 'tree'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let before = cursor_row(&env);
    std::thread::sleep(Duration::from_millis(5));
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 0);
    assert_eq!(cursor_row(&env), before);

    // Modify (new content and time), touch (new time, same content), create.
    write(&root, "src/main.rs", "fn main() { println!(\"hi\"); }\n");
    set_mtime(&root, "src/main.rs", 100);
    set_mtime(&root, "docs/guide.md", 101);
    write(&root, "tools/gen.py", "print(1)\n");
    set_mtime(&root, "tools/gen.py", 102);
    let n = events(&env).len();
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 2);
    assert_eq!(
        events(&env)[n..].to_vec(),
        pairs(&[
            ("file_modified", "src/main.rs"),
            ("file_created", "tools/gen.py")
        ])
    );
    assert_eq!(
        last_metadata(&env, "file_modified", "src/main.rs")["previous_size"],
        13
    );
    assert_eq!(
        last_metadata(&env, "file_created", "tools/gen.py")["language"],
        "Python"
    );
    // The touch moved the stored time, so the next sync does not hash the file again.
    assert_eq!(state(&env)["docs/guide.md"], 1_700_000_101);

    // Delete one file, rename another: the rename is a deletion and a creation that name
    // each other.
    std::fs::remove_file(root.join("docs/guide.md")).unwrap();
    std::fs::rename(root.join("tools/gen.py"), root.join("tools/generate.py")).unwrap();
    let n = events(&env).len();
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 3);
    let mut new = events(&env)[n..].to_vec();
    new.sort();
    assert_eq!(
        new,
        pairs(&[
            ("file_created", "tools/generate.py"),
            ("file_deleted", "docs/guide.md"),
            ("file_deleted", "tools/gen.py"),
        ])
    );
    assert_eq!(
        last_metadata(&env, "file_created", "tools/generate.py")["renamed_from"],
        "tools/gen.py"
    );
    assert_eq!(
        last_metadata(&env, "file_deleted", "tools/gen.py")["renamed_to"],
        "tools/generate.py"
    );
    assert_eq!(
        last_metadata(&env, "file_deleted", "docs/guide.md")["renamed_to"],
        Value::Null
    );
    assert!(!state(&env).contains_key("docs/guide.md"));

    // A file that becomes ignored leaves the state without a deletion event; a new ignored
    // file is never seen.
    write(&root, ".gitignore", "target/\n*.tmp\ntools/\n");
    set_mtime(&root, ".gitignore", 200);
    write(&root, "tools/other.py", "x\n");
    let n = events(&env).len();
    env.sync_json().0.ok();
    assert_eq!(
        events(&env)[n..].to_vec(),
        pairs(&[("file_modified", ".gitignore")])
    );
    assert_eq!(
        state(&env).keys().cloned().collect::<Vec<_>>(),
        [".env.example", ".gitignore", "src/main.rs"]
    );

    // A full re-read (reset) describes the same files with the same ids: nothing new.
    env.run(&["reset", "--source", "tree"]).ok();
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 0, "ids are stable: {json}");
    assert_eq!(json["sources"][0]["duplicates"], 3);
}

#[test]
fn emit_existing_false_reports_only_what_comes_after() {
    let env = TestEnv::new();
    let root = env.path("tree");
    write(&root, "a.txt", "a");
    write(&root, "b.txt", "b");
    env.write_config(&config("tree", "emit_existing = false"));
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 0);
    assert_eq!(state(&env).len(), 2, "existing files are still remembered");
    write(&root, "c.txt", "c");
    std::fs::remove_file(root.join("a.txt")).unwrap();
    env.sync_json().0.ok();
    let mut got = events(&env);
    got.sort();
    assert_eq!(
        got,
        pairs(&[("file_created", "c.txt"), ("file_deleted", "a.txt")])
    );
}

#[test]
fn include_exclude_and_no_hash() {
    let env = TestEnv::new();
    let root = env.path("tree");
    write(&root, "src/a.rs", "a");
    write(&root, "src/gen/b.rs", "b");
    write(&root, "src/c.md", "c");
    write(&root, "top.rs", "t");
    // With respect_gitignore off, ignored files are reported too.
    write(&root, ".gitignore", "top.rs\n");
    env.write_config(&config(
        "tree",
        "include = [\"*.rs\"]\nexclude = [\"src/gen/\"]\nrespect_gitignore = false\nhash = false",
    ));
    env.sync_json().0.ok();
    let mut got = events(&env);
    got.sort();
    assert_eq!(
        got,
        pairs(&[("file_modified", "src/a.rs"), ("file_modified", "top.rs")])
    );
    assert_eq!(
        last_metadata(&env, "file_modified", "top.rs")["hash"],
        Value::Null
    );
    // Without hashes, a touch is a modification.
    set_mtime(&root, "src/a.rs", 5);
    env.sync_json().0.ok();
    assert_eq!(events(&env).len(), 3);
}

#[test]
fn a_bad_glob_is_a_config_error_naming_the_key() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("tree")).unwrap();
    env.write_config(&config("tree", "exclude = [\"a[\"]"));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("exclude"), "{}", run.describe());
    assert!(run.stderr().contains("tree"), "{}", run.describe());
}

#[test]
fn a_missing_directory_fails_the_source_naming_it() {
    let env = TestEnv::new();
    env.write_config(&config("nowhere", ""));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(run.stderr().contains("nowhere"), "{}", run.describe());
}

#[test]
fn the_store_inside_the_tree_is_not_an_event() {
    let env = TestEnv::new();
    write(env.dir.path(), "notes.md", "n");
    env.write_config(&config(".", "exclude = [\"athena.toml\"]"));
    env.sync_json().0.ok();
    env.sync_json().0.ok();
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 0, "the store's own writes are not changes");
    assert_eq!(events(&env), pairs(&[("file_modified", "notes.md")]));
}

/// `cmd`, run as an unprivileged user when the tests run as root (root reads any file, so a
/// permission error needs another user).
fn unprivileged(env: &TestEnv, args: &[&str]) -> Run {
    if is_root() {
        use std::os::unix::fs::PermissionsExt;
        for p in [env.dir.path().to_path_buf(), env.path("tree")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
    }
    run_unprivileged(env, args)
}

#[test]
fn unreadable_files_and_directories_are_named_and_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let root = env.path("tree");
    write(&root, "ok.txt", "fine");
    write(&root, "locked/inner.txt", "inner");
    write(&root, "secret.txt", "s");
    env.write_config(&config("tree", ""));
    let first = unprivileged(&env, &["sync", "--format", "json"]);
    assert_eq!(first.code(), 0, "{}", first.describe());
    assert_eq!(events(&env).len(), 3);

    std::fs::set_permissions(
        root.join("secret.txt"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    write(&root, "secret.txt", "changed");
    std::fs::set_permissions(
        root.join("secret.txt"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    set_mtime(&root, "secret.txt", 50);
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    write(&root, "new.txt", "new");
    let run = unprivileged(&env, &["sync", "--format", "json"]);
    // Put permissions back so the temp dir can be removed.
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let json: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(json["sources"][0]["status"], "ok");
    assert_eq!(json["sources"][0]["invalid"], 2, "{json}");
    assert!(run.stderr().contains("secret.txt"), "{}", run.describe());
    // The new file is stored; the locked directory's file is not reported deleted.
    let kinds = events(&env);
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert_eq!(kinds[3], ("file_created".into(), "new.txt".into()));
    assert!(state(&env).contains_key("locked/inner.txt"));
    let letters = env
        .run(&["dead-letters", "--format", "jsonl"])
        .ok()
        .stdout();
    assert!(letters.contains("secret.txt"), "{letters}");
    assert!(letters.contains("locked"), "{letters}");
    assert!(letters.contains("ermission denied"), "{letters}");
}

#[test]
fn a_file_put_back_with_the_same_time_and_contents_is_a_new_creation_each_time() {
    let env = TestEnv::new();
    let root = env.path("tree");
    write(&root, "a.txt", "same");
    set_mtime(&root, "a.txt", 1);
    env.write_config(&config("tree", ""));
    env.sync_json().0.ok();
    let outside = env.path("a.txt.moved");
    for _ in 0..2 {
        std::fs::rename(root.join("a.txt"), &outside).unwrap();
        let (_, json) = env.sync_json();
        assert_eq!(written(&json), 1, "the deletion: {json}");
        std::fs::rename(&outside, root.join("a.txt")).unwrap();
        let (_, json) = env.sync_json();
        assert_eq!(written(&json), 1, "the file put back: {json}");
    }
    assert_eq!(
        events(&env),
        pairs(&[
            ("file_modified", "a.txt"),
            ("file_deleted", "a.txt"),
            ("file_created", "a.txt"),
            ("file_deleted", "a.txt"),
            ("file_created", "a.txt"),
        ])
    );
    assert_eq!(state(&env).len(), 1);
}

#[test]
fn ignore_files_above_the_root_apply_only_inside_a_git_work_tree() {
    let env = TestEnv::new();
    // The temp dir is not a git work tree: its parent's ignore file must not hide notes.md.
    write(env.dir.path(), ".gitignore", "*.md\n");
    write(&env.path("tree"), "notes.md", "n");
    env.write_config(&config("tree", ""));
    env.sync_json().0.ok();
    assert_eq!(events(&env), pairs(&[("file_modified", "notes.md")]));

    // Inside a work tree, the repository's .gitignore above the root counts.
    let env = TestEnv::new();
    init_repo(env.dir.path());
    write(env.dir.path(), ".gitignore", "*.md\n");
    write(&env.path("tree"), "notes.md", "n");
    write(&env.path("tree"), "code.rs", "c");
    env.write_config(&config("tree", ""));
    env.sync_json().0.ok();
    assert_eq!(events(&env), pairs(&[("file_modified", "code.rs")]));
}

#[test]
fn a_same_size_write_in_the_same_timestamp_tick_is_still_seen() {
    let env = TestEnv::new();
    let root = env.path("tree");
    write(&root, "f.txt", "aaaa");
    // A time the scan cannot be a tick past, however slowly the machine starts the sync.
    let mtime = SystemTime::now() + Duration::from_secs(30);
    std::fs::File::options()
        .write(true)
        .open(root.join("f.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    env.write_config(&config("tree", ""));
    env.sync_json().0.ok();
    // Rewritten with the same size, and the time put back where it was: what a write within
    // one tick of a coarse clock looks like. The file was fresh at the last scan, so its time
    // was not trusted, and the contents are hashed again.
    write(&root, "f.txt", "bbbb");
    let f = std::fs::File::options()
        .write(true)
        .open(root.join("f.txt"))
        .unwrap();
    f.set_modified(mtime).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(written(&json), 1, "{json}");
    assert_eq!(
        last_metadata(&env, "file_modified", "f.txt")["hash"],
        format!("blake3:{}", blake3::hash(b"bbbb").to_hex())
    );
}

#[test]
fn both_halves_of_a_rename_are_stored_in_one_batch() {
    let env = TestEnv::new();
    let root = env.path("tree");
    for i in 0..3 {
        write(&root, &format!("f{i}.txt"), &format!("content {i}"));
        set_mtime(&root, &format!("f{i}.txt"), i);
    }
    // One change a batch: only a rename's pairing puts two events in one.
    env.write_config(&config("tree", "batch_size = 1"));
    env.sync_json().0.ok();
    std::fs::rename(root.join("f1.txt"), root.join("g1.txt")).unwrap();
    let run = env.run(&["-vv", "sync"]).ok();
    let batches: Vec<&str> = run
        .0
        .stderr
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| l.contains("batch committed"))
        .collect();
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert!(batches[0].contains("events=2"), "{batches:?}");
    assert_eq!(
        last_metadata(&env, "file_deleted", "f1.txt")["renamed_to"],
        "g1.txt"
    );
}
