//! A store written by an earlier release keeps working: its schema is migrated, every source's
//! saved cursor is read, and the next sync stores what is new, nothing twice.
//!
//! `fixtures/store-3df16df.db.gz` is the store the release at commit 3df16df wrote (schema 2,
//! version 1 cursors of git, api_log and files) when it synced the inputs `inputs()` makes, in
//! `/tmp/athena-fixture-root`: a three-commit repository, the first 100 lines of the real
//! Apache log (the same lines as `SAMPLE_LOG`'s first 100), three notes.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// The head of the fixture's repository: the commits are made with fixed names and dates.
const FIXTURE_HEAD: &str = "b7d6b5fbf00370252e69b922c1044e8433c75cbc";

/// The inputs as they were when the fixture was written.
fn inputs(env: &TestEnv) {
    let repo = env.path("repo");
    init_repo(&repo);
    for i in 0..3 {
        let content = format!("line {i}\n");
        commit_files(
            &repo,
            &format!("c{i}"),
            &[(&format!("f{i}.txt"), content.as_bytes())],
        );
    }
    assert_eq!(
        head(&repo),
        FIXTURE_HEAD,
        "the fixture's repository is not rebuilt"
    );
    std::fs::create_dir_all(env.path("logs")).unwrap();
    std::fs::write(env.path("logs/access.log"), sample_lines(1..=100)).unwrap();
    std::fs::create_dir_all(env.path("notes/sub")).unwrap();
    std::fs::write(env.path("notes/a.txt"), "alpha\n").unwrap();
    std::fs::write(env.path("notes/b.md"), "# beta\n").unwrap();
    std::fs::write(env.path("notes/sub/c.rs"), "fn main() {}\n").unwrap();
    env.write_config(
        "[[sources]]\nid = \"repo\"\ntype = \"git\"\npath = \"repo\"\n\n\
         [[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/access.log\"]\n\n\
         [[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"notes\"\n",
    );
}

fn restore_fixture(env: &TestEnv) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/store-3df16df.db.gz");
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(fixture)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(env.db(), out.stdout).unwrap();
}

/// (written, duplicates, invalid) per source id, from `sync --format json`.
fn counts(json: &serde_json::Value, id: &str) -> (u64, u64, u64) {
    let s = json["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no source {id} in {json}"));
    assert_eq!(s["status"], "ok", "{json}");
    let n = |k: &str| s[k].as_u64().unwrap();
    (n("events_written"), n("duplicates"), n("invalid"))
}

#[test]
fn a_store_written_by_the_previous_release_syncs_on_without_loss_or_duplicates() {
    let env = TestEnv::new();
    inputs(&env);
    restore_fixture(&env);
    // What happened since the old release's last sync.
    commit_files(&env.path("repo"), "c3", &[("f3.txt", b"line 3\n")]);
    commit_files(&env.path("repo"), "c4", &[("f4.txt", b"line 4\n")]);
    let mut log = std::fs::read_to_string(env.path("logs/access.log")).unwrap();
    log.push_str(&sample_lines(101..=150));
    std::fs::write(env.path("logs/access.log"), log).unwrap();
    std::fs::write(env.path("notes/a.txt"), "alpha, longer now\n").unwrap();

    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(counts(&json, "repo"), (2, 0, 0), "{json}");
    assert_eq!(counts(&json, "web"), (50, 0, 0), "{json}");
    assert_eq!(counts(&json, "notes"), (1, 0, 0), "{json}");
    let version: i64 = env
        .store()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 8);
    let total: i64 = env
        .store()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 106 + 53);
    // The kinds the migration counted from the old events, plus the new ones since, are the
    // events' own.
    let rows = |sql: &str| -> Vec<(String, String, i64)> {
        let store = env.store();
        let mut stmt = store.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
        rows.unwrap().map(Result::unwrap).collect()
    };
    let kept = rows("SELECT source_id, kind, events FROM event_kinds ORDER BY 1, 2");
    let counted =
        rows("SELECT source_id, kind, count(*) FROM events GROUP BY source_id, kind ORDER BY 1, 2");
    assert_eq!(kept, counted);
    assert!(kept.len() >= 3, "{kept:?}");
    // Schema 6 links the events stored before it as the new ones are: every commit, old or
    // new, is about its SHA.
    let (commits, unlinked): (i64, i64) = env
        .store()
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM event_links l \
             WHERE l.seq = e.seq AND l.thing = 'commit:' || e.id AND l.role = 0)) \
             FROM events e WHERE source_id = 'repo'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        commits > 2,
        "the old store's commits and the 2 new ones: {commits}"
    );
    assert_eq!(unlinked, 0, "{unlinked} of {commits} commits not linked");

    // The people of the events stored before people were kept: the migration has no source
    // types to read them with, so it left a mark, and the first sync read them (and took the
    // mark away): every commit, old or new, has its author.
    let marks: i64 = env
        .store()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'people_unread'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(marks, 0);
    let authorless: i64 = env
        .store()
        .query_row(
            "SELECT count(*) FROM events e WHERE source_id = 'repo' AND NOT EXISTS \
             (SELECT 1 FROM event_people p WHERE p.seq = e.seq AND p.role = 0)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(authorless, 0);

    let (_, json) = env.sync_json();
    for id in ["repo", "web", "notes"] {
        assert_eq!(counts(&json, id).0, 0, "{id}: {json}");
    }

    // Packing (schema 8): 1,350 more lines come in one batch, which trains the log's
    // dictionary and is stored packed; the old events stay JSON text until `compact` packs
    // them. Every event reads the same before and after.
    let mut log = std::fs::read_to_string(env.path("logs/access.log")).unwrap();
    log.push_str(&sample_lines(151..=1500));
    std::fs::write(env.path("logs/access.log"), log).unwrap();
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(counts(&json, "web"), (1350, 0, 0), "{json}");
    let forms = || -> (i64, i64) {
        env.store()
            .query_row(
                "SELECT count(*) FILTER (WHERE typeof(context) = 'blob'), \
                 count(*) FILTER (WHERE typeof(context) = 'text') \
                 FROM main.events WHERE source_id = 'web'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(forms(), (1350, 150));
    let export = || {
        env.run(&["export", "--db", "athena.db"])
            .ok()
            .stdout()
            .to_string()
    };
    let before = export();
    assert_eq!(before.lines().count(), 106 + 53 + 1350);
    let run = env.run(&["compact", "--db", "athena.db"]).ok();
    assert!(
        run.stdout().contains("packed 150 events"),
        "{}",
        run.describe()
    );
    assert_eq!(forms(), (1500, 0));
    assert_eq!(export(), before, "compact changed what the store answers");
}
