//! A `--db` that names something other than a store (another application's SQLite database, a
//! text file, a directory, a device) is refused on one line with exit code 2, by every command,
//! before a byte of it or beside it is written.

use std::path::Path;

use crate::support::*;

/// Every file in `dir` with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn journal_mode(db: &Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap()
}

/// An env whose config has a source that builds, and `foreign/other.db` made by `sql`.
fn env_with_foreign(sql: &str) -> (TestEnv, std::path::PathBuf) {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("tree")).unwrap();
    env.write_config("[[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"tree\"\n");
    std::fs::create_dir(env.path("foreign")).unwrap();
    let db = env.path("foreign/other.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    (env, db)
}

#[track_caller]
fn assert_refused_on_one_line(run: &Run, reason: &str) {
    assert_eq!(run.code(), 2, "{}", run.describe());
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is not an athena-ingest store") && err.contains(reason),
        "{err}"
    );
}

#[test]
fn another_applications_database_is_unchanged_by_every_command() {
    let (env, db) = env_with_foreign(
        "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ann'), ('bob');",
    );
    let before = files(&env.path("foreign"));
    let shown = db.to_str().unwrap();
    for args in [
        vec!["events", "--db", shown],
        vec!["status", "--db", shown],
        vec!["dead-letters", "--db", shown],
        vec!["sync", "--db", shown],
        vec!["reset", "--db", shown, "--source", "notes"],
    ] {
        let run = env.run(&args);
        assert_refused_on_one_line(
            &run,
            "another application's SQLite database (tables: users)",
        );
        assert_eq!(
            files(&env.path("foreign")),
            before,
            "{args:?} changed the database or created a file beside it"
        );
    }
    assert_eq!(journal_mode(&db), "delete");
}

#[test]
fn a_foreign_events_table_is_refused_without_printing_a_schema_or_switching_to_wal() {
    let (env, db) = env_with_foreign("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT);");
    let before = files(&env.path("foreign"));
    for command in ["status", "sync"] {
        let run = env.run(&[command, "--db", db.to_str().unwrap()]);
        assert_refused_on_one_line(&run, "its `events` table is not athena-ingest's");
    }
    assert_eq!(files(&env.path("foreign")), before);
    assert_eq!(journal_mode(&db), "delete");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_unchanged() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("tree")).unwrap();
    env.write_config("[[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"tree\"\n");
    std::fs::create_dir(env.path("foreign")).unwrap();
    std::fs::write(
        env.path("foreign/notes.txt"),
        "a text file, not a database\n".repeat(9),
    )
    .unwrap();
    let before = files(&env.path("foreign"));
    for command in ["events", "sync"] {
        let run = env.run(&[command, "--db", "foreign/notes.txt"]);
        assert_refused_on_one_line(&run, "it is not a SQLite database");
    }
    assert_eq!(files(&env.path("foreign")), before);
}

#[test]
fn a_store_path_that_is_not_a_regular_file_is_refused_before_a_lock_file_is_created() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("tree")).unwrap();
    env.write_config("[[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"tree\"\n");
    std::fs::create_dir(env.path("store.db")).unwrap();
    let run = env.run(&["sync", "--db", "store.db"]);
    assert_refused_on_one_line(&run, "it is a directory");
    assert!(
        !env.path("store.db.lock").exists(),
        "a lock file was created"
    );
    assert!(std::fs::read_dir(env.path("store.db"))
        .unwrap()
        .next()
        .is_none());
    // A device: refused by name, whoever runs the command (root could write beside /dev/null).
    for command in ["sync", "events"] {
        let run = env.run(&[command, "--db", "/dev/null"]);
        assert_refused_on_one_line(&run, "it is a character device");
    }
}

#[test]
fn a_store_of_a_newer_schema_exits_2_for_every_command_not_1() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("tree")).unwrap();
    env.write_config("[[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"tree\"\n");
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    env.store()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    for args in [
        &["events"][..],
        &["status"][..],
        &["dead-letters"][..],
        &["sync"][..],
        &["reset", "--source", "notes"][..],
        &["mcp", "--db", "athena.db"][..],
        &["serve"][..],
        &["serve", "--config", "none.toml", "--db", "athena.db"][..],
    ] {
        let run = Run(env
            .cmd(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap());
        assert_eq!(run.code(), 2, "{args:?}: {}", run.describe());
        let err = run.stderr();
        assert!(
            err.contains(
                "schema version 999 is newer than this release understands (it reads up to "
            ) && err.contains("upgrade athena-ingest"),
            "{args:?}: {err}"
        );
    }
    let version: i64 = env
        .store()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 999, "the newer store was changed");
}
