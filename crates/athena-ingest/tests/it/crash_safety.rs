//! Exactly-once, proven: SIGKILL `athena-ingest sync` at random moments, then finish the sync,
//! and the store holds exactly the events of an uninterrupted run.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::*;

const COMMITS: usize = 2000;
/// Kills that must land while the sync is storing (some events stored, not all).
const KILLS: usize = 10;

/// The stored events are a prefix of the full history, and the cursor says exactly that
/// prefix: the stored commits are exactly those the cursor's heads reach.
fn assert_consistent(env: &TestEnv, repo: &std::path::Path, expected: &[String]) -> usize {
    if !env.db().exists() {
        return 0;
    }
    let ids = env.ids("r");
    assert_eq!(
        &expected[..ids.len()],
        &ids[..],
        "stored events are not a prefix of the history"
    );
    match env.cursor("r") {
        None => assert!(
            ids.is_empty(),
            "{} events stored without a cursor",
            ids.len()
        ),
        Some(c) => match c.get("pending") {
            Some(_) => {
                let reached = reached_by_heads(repo, &c);
                let stored: BTreeSet<String> = ids.iter().cloned().collect();
                assert_eq!(
                    reached, stored,
                    "the cursor's heads do not describe what is stored"
                );
            }
            None => assert_eq!(
                ids.len(),
                expected.len(),
                "a finished cursor with missing events"
            ),
        },
    }
    ids.len()
}

#[test]
fn sigkill_at_random_moments_then_resume_stores_exactly_the_uninterrupted_events() {
    let repo_env = TestEnv::new();
    let repo = repo_env.path("repo");
    generate_branchy_history(&repo, COMMITS, 0xc0ffee);
    let total = git(&repo, &["rev-list", "--count", "main"])
        .trim()
        .parse::<usize>()
        .unwrap();
    assert!(total > COMMITS, "the history has side branches");
    let config = git_config(
        "r",
        &repo,
        "batch_size = 10\nbranches = [\"main\", \"side39\"]",
    );

    let reference = TestEnv::new();
    reference.write_config(&config);
    let started = Instant::now();
    reference.run(&["sync"]).ok();
    let full = started.elapsed();
    let expected = reference.ids("r");
    assert_eq!(expected.len(), total);

    let mut rng = kill_schedule(&format!("uninterrupted sync: {full:?}"));
    let env = TestEnv::new();
    env.write_config(&config);
    let full_ms = full.as_millis().max(50) as u64;
    let mut kills = 0;
    let mut mid_ingest_kills = 0;
    let mut attempts = 0;
    while mid_ingest_kills < KILLS {
        attempts += 1;
        assert!(
            attempts < 400,
            "only {mid_ingest_kills} of {kills} kills landed mid-ingest"
        );
        let before = assert_consistent(&env, &repo, &expected);
        if before == total {
            // Finished between kills: start over on a fresh store to keep killing mid-ingest.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(env.path(&format!("athena.db{suffix}")));
            }
        }
        let mut child = quiet_sync(&env);
        let delay = full_ms / 8 + rng.below(full_ms / 2);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            let after = assert_consistent(&env, &repo, &expected);
            if after > 0 && after < total {
                mid_ingest_kills += 1;
            }
        } else {
            child.wait().unwrap();
        }
    }
    eprintln!("{kills} kills, {mid_ingest_kills} mid-ingest, in {attempts} runs");
    env.run(&["sync"]).ok();
    let ids = env.ids("r");
    assert_eq!(ids, expected);
    let (rows, distinct): (i64, i64) = env
        .store()
        .query_row("SELECT count(*), count(DISTINCT id) FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((rows, distinct), (total as i64, total as i64));
    // Same content, not just the same ids.
    let digest = |e: &TestEnv| -> Vec<(String, String, String)> {
        let c = e.store();
        let mut s = c
            .prepare("SELECT id, title, metadata FROM events ORDER BY seq")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        digest(&env) == digest(&reference),
        "stored events differ from the uninterrupted run"
    );
}

/// Lines stored for the log source `web`: (rows, distinct ids, distinct line numbers, highest
/// line number).
fn stored_lines(env: &TestEnv) -> (i64, i64, i64, i64) {
    if !env.db().exists() {
        return (0, 0, 0, 0);
    }
    env.store()
        .query_row(
            "SELECT count(*), count(DISTINCT id),
                    count(DISTINCT json_extract(context, '$.line')),
                    coalesce(max(json_extract(context, '$.line')), 0)
             FROM events WHERE source_id = 'web'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .or_else(|e| {
            // Killed before the schema was created: nothing stored.
            if e.to_string().contains("no such table") {
                Ok((0, 0, 0, 0))
            } else {
                Err(e)
            }
        })
        .unwrap()
}

#[test]
fn sigkill_during_a_million_line_log_then_resume_stores_every_line_once() {
    const LINES: usize = 1_000_000;
    const MID_INGEST_KILLS: usize = 5;
    let env = TestEnv::new();
    // The repository's real Apache log, repeated to a million lines.
    let log: String = SAMPLE_LOG
        .lines()
        .cycle()
        .take(LINES)
        .flat_map(|l| [l, "\n"])
        .collect();
    std::fs::write(env.path("access.log"), &log).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n");

    // First, a kill while the first sync is a bulk load (its time indexes dropped, to be built
    // at its end): the store is watched until they are gone.
    let mut child = quiet_sync(&env);
    let watching = std::time::Instant::now();
    while child.try_wait().unwrap().is_none()
        && !(env.db().exists() && stored_lines(&env).0 > 0 && time_indexes(&env) < 2)
    {
        assert!(
            watching.elapsed() < Duration::from_secs(120),
            "no bulk load seen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (rows, ids, lines, last) = stored_lines(&env);
    assert_eq!(
        (ids, lines, last),
        (rows, rows, rows),
        "after the bulk-load kill"
    );
    assert!(
        (rows as usize) < LINES,
        "the first sync finished before the kill"
    );
    let mut killed_during_bulk_load = usize::from(time_indexes(&env) < 2);
    assert_eq!(killed_during_bulk_load, 1, "killed outside the bulk load");

    let mut rng = kill_schedule("a million lines");
    let (mut kills, mut mid_ingest) = (1, 1);
    while mid_ingest < MID_INGEST_KILLS {
        let (before, ..) = stored_lines(&env);
        assert!(
            (before as usize) < LINES,
            "the log was stored completely after only {mid_ingest} mid-ingest kills ({kills} in all)"
        );
        let mut child = quiet_sync(&env);
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        if child.try_wait().unwrap().is_some() {
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        // What is stored is exactly the first lines of the file, once each, and the cursor
        // says so.
        let (rows, ids, lines, last) = stored_lines(&env);
        assert_eq!((ids, lines, last), (rows, rows, rows), "after kill {kills}");
        if rows > 0 && time_indexes(&env) < 2 {
            killed_during_bulk_load += 1;
        }
        if rows > 0 {
            let cursor = env.cursor("web").expect("events stored without a cursor");
            let files = cursor["files"].as_array().unwrap();
            assert_eq!(files.len(), 1, "{cursor}");
            let file = &files[0];
            assert_eq!(
                file["line"], rows,
                "the cursor disagrees with the stored lines"
            );
        }
        if rows > before && (rows as usize) < LINES {
            mid_ingest += 1;
        }
    }
    eprintln!(
        "{kills} kills, {mid_ingest} of them mid-ingest, {killed_during_bulk_load} leaving the time indexes unbuilt"
    );
    env.run(&["sync"]).ok();
    let n = LINES as i64;
    assert_eq!(stored_lines(&env), (n, n, n, n));
    // A kill during the bulk load leaves the time indexes unbuilt (the count above says how
    // often that happened); the final sync builds them.
    assert_eq!(time_indexes(&env), 2);
}

/// How many of the two time indexes the store has.
fn time_indexes(env: &TestEnv) -> i64 {
    env.store()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'index'
             AND name IN ('events_by_time', 'events_by_source_time')",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// A `sync` in the background, its output discarded.
fn quiet_sync(env: &TestEnv) -> std::process::Child {
    env.cmd(&["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn status_after_a_killed_sync_says_it_did_not_finish() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    generate_history(&repo, COMMITS, 11);
    env.write_config(&git_config("r", &repo, "batch_size = 20\nthreads = 1"));
    let mut child = env
        .cmd(&["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env.db().exists() || env.ids("r").is_empty() {
        assert!(Instant::now() < deadline, "no batch stored within 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: the sync records nothing more
    child.wait().unwrap();
    assert!(env.ids("r").len() < COMMITS, "the sync finished first");
    let status = env.run(&["status", "--format", "json"]).ok();
    let status: serde_json::Value = serde_json::from_str(status.stdout().trim()).unwrap();
    let s = &status["sources"][0];
    assert_eq!(s["last_status"], "unfinished", "{s}");
    assert!(s["last_sync"].is_string(), "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("did not record how it ended"),
        "{s}"
    );
}
