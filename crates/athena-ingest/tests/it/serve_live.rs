//! `serve` following live sources: api_log appends and rotation, a files tree, a git branch,
//! each seen by its watch (the server polls nothing within the tests' waits), and a SIGKILL
//! under continuous appends that a restart makes whole, every line stored once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::serve_support::*;
use crate::support::*;

fn api_log(pattern: &str) -> String {
    format!("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"{pattern}\"]\n")
}

/// How many times each `/serve/<n>` request line is stored for `web`.
fn stored_lines(env: &TestEnv) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    let Ok(c) = rusqlite::Connection::open(env.db()) else {
        return counts;
    };
    let mut s = c
        .prepare("SELECT title FROM events WHERE source_id = 'web'")
        .unwrap();
    let titles = s.query_map([], |r| r.get::<_, String>(0)).unwrap();
    for title in titles {
        let title = title.unwrap();
        let n = title
            .split("/serve/")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("no /serve/<n> in {title:?}"));
        *counts.entry(n).or_insert(0) += 1;
    }
    counts
}

fn kinds(env: &TestEnv, source: &str) -> Vec<(String, String)> {
    let Ok(c) = rusqlite::Connection::open(env.db()) else {
        return Vec::new();
    };
    let Ok(mut s) = c.prepare(
        "SELECT kind, json_extract(context, '$.path') FROM events WHERE source_id = ?1 ORDER BY seq",
    ) else {
        return Vec::new();
    };
    s.query_map([source], |r| {
        Ok((
            r.get(0)?,
            r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn appended_lines_are_stored_when_the_watch_sees_them() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..3);
    env.write_config(&api_log("logs/access.log"));
    let mut server = Server::start_following(&env);
    wait_for("the first run", || stored_count(&env, "web") == 3);
    for n in 3..8 {
        append(&log, n..n + 1);
        wait_for("an appended line", || stored_count(&env, "web") == n + 1);
    }
    // A new file the pattern matches is followed too.
    env.write_config(&api_log("logs/*.log"));
    server.signal(libc::SIGHUP);
    wait_for("the reloaded source's run", || {
        let m = server.must_get("/metrics").body;
        m.contains("athena_ingest_sync_runs_total{source=\"web\",result=\"ok\"}")
    });
    append(&env.path("logs/other.log"), 100..102);
    wait_for("lines of a new file", || stored_count(&env, "web") == 10);
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stored_lines(&env).values().all(|&n| n == 1));
}

#[test]
fn a_rotation_while_following_loses_nothing() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    append(&log, 0..10);
    env.write_config(&api_log("logs/access.log"));
    let mut server = Server::start_following(&env);
    wait_for("the first run", || stored_count(&env, "web") == 10);
    for round in 1..=3 {
        let base = round * 100;
        // Written just before the rename: read from the rotated file.
        append(&log, base..base + 5);
        std::fs::rename(&log, env.path(&format!("logs/access.log.{round}"))).unwrap();
        append(&log, base + 5..base + 10);
        wait_for("the rotated and the new lines", || {
            stored_count(&env, "web") == 10 + 10 * round
        });
    }
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let stored = stored_lines(&env);
    let expected: Vec<usize> = (0..10)
        .chain((1..=3).flat_map(|r| r * 100..r * 100 + 10))
        .collect();
    assert_eq!(stored.keys().copied().collect::<Vec<_>>(), expected);
    assert!(stored.values().all(|&n| n == 1), "{stored:?}");
}

#[test]
fn files_created_changed_and_deleted_in_a_watched_tree_become_events() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("tree/src")).unwrap();
    std::fs::write(env.path("tree/src/a.rs"), "fn a() {}\n").unwrap();
    env.write_config(
        "[[sources]]\nid = \"tree\"\ntype = \"files\"\npath = \"tree\"\nschedule = \"live\"\n",
    );
    let mut server = Server::start_following(&env);
    wait_for("the first scan", || kinds(&env, "tree").len() == 1);
    std::fs::write(env.path("tree/src/b.rs"), "fn b() {}\n").unwrap();
    wait_for("a created file", || kinds(&env, "tree").len() == 2);
    std::fs::write(env.path("tree/src/a.rs"), "fn a() { changed() }\n").unwrap();
    wait_for("a changed file", || kinds(&env, "tree").len() == 3);
    std::fs::remove_file(env.path("tree/src/b.rs")).unwrap();
    wait_for("a deleted file", || kinds(&env, "tree").len() == 4);
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let seen = kinds(&env, "tree");
    let changes: Vec<(&str, &str)> = (seen[1..].iter())
        .map(|(k, p)| (k.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("file_created", "src/b.rs"),
            ("file_modified", "src/a.rs"),
            ("file_deleted", "src/b.rs")
        ],
        "{seen:?}"
    );
}

#[test]
fn a_commit_on_the_followed_branch_becomes_an_event() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    std::fs::create_dir(&repo).unwrap();
    init_repo(&repo);
    commit_files(&repo, "first", &[("a.txt", b"a")]);
    env.write_config(&git_config("repo", &repo, "schedule = \"live\""));
    let mut server = Server::start_following(&env);
    wait_for("the first run", || stored_count(&env, "repo") == 1);
    let second = commit_files(&repo, "second", &[("b.txt", b"b")]);
    wait_for("the new commit", || stored_count(&env, "repo") == 2);
    // A commit made with a ref update only through packed-refs is seen too.
    git(&repo, &["pack-refs", "--all"]);
    let third = commit_files(&repo, "third", &[("c.txt", b"c")]);
    wait_for("the third commit", || stored_count(&env, "repo") == 3);
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let ids = env.ids("repo");
    assert!(ids.contains(&second), "{ids:?}");
    assert!(ids.contains(&third), "{ids:?}");
}

#[test]
fn sigkill_under_continuous_appends_then_a_restart_stores_every_line_once() {
    const LINES: usize = 30_000;
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let log = env.path("logs/access.log");
    env.write_config(&api_log("logs/access.log"));
    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, written, done) = (log.clone(), written.clone(), done.clone());
        std::thread::spawn(move || {
            // About 10,000 lines a second, in bursts of 10.
            let mut n = 0;
            while n < LINES {
                append(&log, n..n + 10);
                n += 10;
                written.store(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut rng = kill_schedule("serve under appends");
    for _ in 0..3 {
        let mut server = Server::start_following(&env);
        let before = stored_count(&env, "web");
        // Killed at some moment after it has stored something new.
        wait_for("lines stored", || stored_count(&env, "web") > before);
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        server.kill();
    }
    writer.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    let mut server = Server::start_following(&env);
    let total = written.load(Ordering::SeqCst);
    wait_for("every line", || stored_count(&env, "web") >= total);
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let stored = stored_lines(&env);
    assert_eq!(stored.len(), total, "lines lost");
    let twice: Vec<_> = stored.iter().filter(|(_, &n)| n != 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert_eq!(*stored.keys().last().unwrap(), total - 1);
}
