//! The command line over a PostgreSQL store (`[store] url`, or `--db postgres://…`), on a
//! server the tests start (athena-store's `postgres_testing`): a sync stores exactly once and
//! resumes from its cursor, and `events`, `status`, `kinds`, `dead-letters` and `reset` read
//! and change the same store. No SQLite file is made beside.

use serde_json::Value;

use crate::support::*;

fn counts(json: &Value) -> (u64, u64) {
    let s = &json["sources"][0];
    assert_eq!(s["status"], "ok", "{json}");
    (
        s["events_written"].as_u64().unwrap(),
        s["duplicates"].as_u64().unwrap(),
    )
}

#[test]
fn a_postgres_store_syncs_once_resumes_and_answers_every_reading_command() {
    let url = athena_store::postgres_testing::fresh_url();
    let env = TestEnv::new();
    let migrated = env.run(&["migrate", "--db", &url]).ok();
    assert!(
        migrated.stdout().contains("its schema is up to date"),
        "{}",
        migrated.describe()
    );
    std::fs::write(env.path("access.log"), sample_lines(1..=40)).unwrap();
    env.write_config(&format!(
        "[store]\nurl = \"{url}\"\n\n[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n"
    ));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(counts(&json), (40, 0));
    // Nothing new: nothing written, nothing read twice.
    let (_, json) = env.sync_json();
    assert_eq!(counts(&json), (0, 0));
    let mut log = std::fs::read_to_string(env.path("access.log")).unwrap();
    log.push_str(&sample_lines(41..=50));
    std::fs::write(env.path("access.log"), log).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(counts(&json), (10, 0));
    assert!(!env.path("athena.db").exists(), "a SQLite store was made");

    // The reading commands, through the config and through --db.
    let events = env
        .run(&["events", "--format", "jsonl", "--limit", "100"])
        .ok();
    assert_eq!(events.stdout().lines().count(), 50);
    let by_db = env
        .run(&[
            "events", "--db", &url, "--format", "jsonl", "--search", "GET", "--limit", "5",
        ])
        .ok();
    assert_eq!(by_db.stdout().lines().count(), 5, "{}", by_db.describe());
    let status: Value = env.status_json();
    assert_eq!(status["sources"][0]["events"], 50, "{status}");
    assert_eq!(status["sources"][0]["last_status"], "ok", "{status}");
    assert_eq!(status["sources"][0]["kinds"][0]["kind"], "http_request");
    let kinds = env.run(&["kinds", "--format", "json"]).ok();
    assert!(
        kinds.stdout().contains("\"events\":50"),
        "{}",
        kinds.stdout()
    );
    env.run(&["dead-letters"]).ok();

    // Reset: read again from the start, nothing stored twice.
    env.run(&["reset", "--source", "web"]).ok();
    let (_, json) = env.sync_json();
    assert_eq!(counts(&json), (0, 50));
    // A password in the URL is never shown: the store is named without it.
    let wrong = env.run(&["status", "--db", "postgres://ada:s3cret@127.0.0.1:1/none"]);
    assert_ne!(wrong.code(), 0);
    assert!(!wrong.stderr().contains("s3cret"), "{}", wrong.stderr());
    assert!(
        wrong.stderr().contains("postgres://ada@127.0.0.1:1/none"),
        "{}",
        wrong.stderr()
    );
}

/// `copy` moves a store exactly: SQLite to PostgreSQL and back, every event (in storing order,
/// with when it was stored), cursor, run, dead letter and state; the copies answer as the
/// original, and a sync of the copy goes on where the original left off.
#[test]
fn copy_moves_a_store_to_postgres_and_back_exactly() {
    let env = TestEnv::new();
    std::fs::write(
        env.path("access.log"),
        sample_lines(1..=1200) + "not a log line\n",
    )
    .unwrap();
    std::fs::create_dir(env.path("notes")).unwrap();
    std::fs::write(env.path("notes/a.md"), "alpha\n").unwrap();
    env.write_config(
        "[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n\n\
         [[sources]]\nid = \"notes\"\ntype = \"files\"\npath = \"notes\"\n",
    );
    env.sync_json();
    let url = athena_store::postgres_testing::fresh_url();
    let original = env.db();
    let back = env.path("back.db");
    let to_pg = env
        .run(&["copy", "--from", original.to_str().unwrap(), "--to", &url])
        .ok();
    assert!(
        to_pg.stdout().contains("copied 1201 events"),
        "{}",
        to_pg.describe()
    );
    env.run(&["copy", "--from", &url, "--to", back.to_str().unwrap()])
        .ok();
    // The same answers from all three.
    let events = |db: &str| {
        env.run(&["events", "--db", db, "--format", "jsonl", "--limit", "5000"])
            .ok()
            .stdout()
    };
    let first = events(original.to_str().unwrap());
    assert_eq!(first.lines().count(), 1201);
    assert_eq!(events(&url), first);
    assert_eq!(events(back.to_str().unwrap()), first);
    // The log's events are packed in the original (one batch of 1,200 trained its
    // dictionary) and in the copy back (packed by the copy's end), not on PostgreSQL.
    let packed = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM events WHERE source_id = 'web' AND typeof(context) = 'blob'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(packed(&original), 1200);
    assert_eq!(packed(&back), 1200);
    let status = |db: &str| {
        let run = env.run(&["status", "--db", db, "--format", "json"]).ok();
        let mut v: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
        for s in v["sources"].as_array_mut().unwrap() {
            s["worker"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(status(&url), status(original.to_str().unwrap()));
    assert_eq!(
        status(back.to_str().unwrap()),
        status(original.to_str().unwrap())
    );
    let letters = |db: &str| {
        env.run(&["dead-letters", "--db", db, "--format", "jsonl"])
            .ok()
            .stdout()
    };
    assert_eq!(letters(&url), letters(original.to_str().unwrap()));
    // Into a store that holds events: refused.
    let again = env.run(&["copy", "--from", original.to_str().unwrap(), "--to", &url]);
    assert_eq!(again.code(), 2, "{}", again.describe());
    // A sync of the copy goes on where the original left off: nothing new, nothing twice.
    std::fs::write(env.path("notes/b.md"), "beta\n").unwrap();
    let (_, json) = env.sync_json_with(&["--db", &url], &[]);
    let written: u64 = (json["sources"].as_array().unwrap().iter())
        .map(|s| s["events_written"].as_u64().unwrap())
        .sum();
    let duplicates: u64 = (json["sources"].as_array().unwrap().iter())
        .map(|s| s["duplicates"].as_u64().unwrap())
        .sum();
    assert_eq!((written, duplicates), (1, 0), "{json}");
}
