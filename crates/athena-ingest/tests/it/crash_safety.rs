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

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed: {seed}, uninterrupted sync: {full:?}");
    let mut rng = Rng(seed);
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
        let mut child = env
            .cmd(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
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
