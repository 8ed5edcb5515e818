//! The git source against real repositories built by git in temp dirs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::*;

/// Per path: (added, deleted); `None` for binary files.
type Numstat = BTreeMap<String, (Option<u64>, Option<u64>)>;

/// Per commit, per path: (added, deleted) as `git log --numstat --no-renames` prints them
/// (`None` for binary files).
fn git_numstat(dir: &std::path::Path) -> BTreeMap<String, Numstat> {
    let out = git(
        dir,
        &["log", "--numstat", "--no-renames", "--format=@%H", "--all"],
    );
    let mut map = BTreeMap::new();
    let mut current = String::new();
    for line in out.lines() {
        if let Some(sha) = line.strip_prefix('@') {
            current = sha.to_string();
            map.insert(current.clone(), BTreeMap::new());
        } else if !line.trim().is_empty() {
            let mut parts = line.splitn(3, '\t');
            let added = parts.next().unwrap().parse().ok();
            let deleted = parts.next().unwrap().parse().ok();
            let path = parts.next().unwrap().to_string();
            map.get_mut(&current)
                .unwrap()
                .insert(path, (added, deleted));
        }
    }
    map
}

fn our_numstat(
    env: &TestEnv,
    source: &str,
    sha: &str,
) -> BTreeMap<String, (Option<u64>, Option<u64>)> {
    let meta = env.metadata(source, sha);
    meta["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (f["added"].as_u64(), f["deleted"].as_u64()),
            )
        })
        .collect()
}

fn assert_numstat_matches_git(env: &TestEnv, source: &str, repo: &std::path::Path) {
    let expected = git_numstat(repo);
    assert!(!expected.is_empty());
    for (sha, files) in &expected {
        assert_eq!(
            &our_numstat(env, source, sha),
            files,
            "numstat of commit {sha}"
        );
    }
}

#[test]
fn linear_history_is_stored_oldest_first_with_people_times_and_files() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let a = commit_files(
        &repo,
        "Add readme\n\nFirst words.",
        &[("README.md", b"hello\nworld\n")],
    );
    let b = commit_files(
        &repo,
        "Edit readme",
        &[("README.md", b"hello\nthere\nworld\n")],
    );
    let c = commit_files(&repo, "Add code", &[("src/main.rs", b"fn main() {}\n")]);
    env.write_config(&git_config("repo", &repo, ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["status"], "ok");
    assert_eq!(json["sources"][0]["events_written"], 3);
    assert_eq!(env.ids("repo"), [a.clone(), b.clone(), c]);

    let meta = env.metadata("repo", &a);
    assert_eq!(meta["sha"], a);
    assert_eq!(meta["author"]["name"], "Ada Lovelace");
    assert_eq!(meta["author"]["email"], "ada@example.com");
    assert_eq!(meta["author"]["time"], "2024-01-01T12:00:00+02:00");
    assert_eq!(meta["committer"]["name"], "Charles Babbage");
    assert_eq!(meta["merge"], false);
    assert_eq!(meta["parents"], Value::Array(vec![]));
    assert_eq!(meta["totals"]["added"], 2);
    let b_meta = env.metadata("repo", &b);
    assert_eq!(b_meta["parents"][0], a);
    assert_eq!(b_meta["files"][0]["status"], "modified");
    assert_eq!(
        (
            b_meta["files"][0]["added"].as_u64(),
            b_meta["files"][0]["deleted"].as_u64()
        ),
        (Some(1), Some(0))
    );

    let (title, body, actor, at): (String, String, String, i64) = env
        .store()
        .query_row(
            "SELECT title, body, actor, occurred_at FROM events WHERE id = ?1",
            [&a],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (title.as_str(), body.as_str(), actor.as_str()),
        ("Add readme", "First words.", "Ada Lovelace")
    );
    // 12:00 at +02:00 is 10:00 UTC.
    assert_eq!(at, 1_704_103_200_000);
}

#[test]
fn incremental_sync_stores_only_new_commits() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "one", &[("a", b"1\n")]);
    env.write_config(&git_config("repo", &repo, ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 1);
    let d = commit_files(&repo, "two", &[("a", b"1\n2\n")]);
    let e = commit_files(&repo, "three", &[("b", b"x\n")]);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 2);
    assert_eq!(json["sources"][0]["duplicates"], 0);
    assert_eq!(env.ids("repo")[1..], [d, e]);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
    assert_eq!(json["sources"][0]["duplicates"], 0);
    assert_eq!(env.ids("repo").len(), 3);
}

#[test]
fn branches_and_merges_are_each_stored_once_with_their_branches() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let base = commit_files(&repo, "base", &[("a.txt", b"a\n")]);
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    let feat = commit_files(&repo, "feature work", &[("f.txt", b"f\n")]);
    git(&repo, &["checkout", "-q", "main"]);
    let main_only = commit_files(&repo, "main work", &[("a.txt", b"a\nb\n")]);
    git(
        &repo,
        &["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"],
    );
    let merge = head(&repo);
    git(&repo, &["checkout", "-q", "-b", "side", &base]);
    let side = commit_files(&repo, "side work", &[("s.txt", b"s\n")]);
    git(&repo, &["checkout", "-q", "main"]);

    env.write_config(&git_config(
        "repo",
        &repo,
        "branches = [\"main\", \"side\"]",
    ));
    env.run(&["sync"]).ok();
    let ids: BTreeSet<String> = env.ids("repo").into_iter().collect();
    let expected: BTreeSet<String> = rev_list(&repo, "main")
        .union(&rev_list(&repo, "side"))
        .cloned()
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(env.ids("repo").len(), expected.len(), "no commit twice");

    let branches = |sha: &str| -> Vec<String> {
        let text: String = env
            .store()
            .query_row("SELECT context FROM events WHERE id = ?1", [sha], |r| {
                r.get(0)
            })
            .unwrap();
        let ctx: Value = serde_json::from_str(&text).unwrap();
        ctx["branches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(branches(&base), ["main", "side"]);
    assert_eq!(branches(&feat), ["main"]);
    assert_eq!(branches(&main_only), ["main"]);
    assert_eq!(branches(&side), ["side"]);
    let m = env.metadata("repo", &merge);
    assert_eq!(m["merge"], true);
    assert_eq!(m["parents"].as_array().unwrap().len(), 2);
    // Like `git log --numstat`: a merge shows no files by default.
    assert_eq!(m["files"], Value::Array(vec![]));
    assert_numstat_matches_git(&env, "repo", &repo);

    // With first-parent diffs the merge brings in the feature's file.
    let env2 = TestEnv::new();
    env2.write_config(&git_config("repo", &repo, "merge_diffs = \"first-parent\""));
    env2.run(&["sync"]).ok();
    let files = &env2.metadata("repo", &merge)["files"];
    assert_eq!(files[0]["path"], "f.txt");
    assert_eq!(files[0]["added"], 1);
}

#[test]
fn a_force_pushed_branch_is_rewalked_without_duplicates() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let a = commit_files(&repo, "a", &[("f", b"1\n")]);
    let b = commit_files(&repo, "b", &[("f", b"2\n")]);
    let c = commit_files(&repo, "c", &[("f", b"3\n")]);
    env.write_config(&git_config("repo", &repo, "branches = [\"main\"]"));
    env.run(&["sync"]).ok();
    git(&repo, &["reset", "-q", "--hard", &a]);
    let d = commit_files(&repo, "d (rewritten)", &[("f", b"4\n")]);
    let e = commit_files(&repo, "e", &[("g", b"5\n")]);
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 2);
    assert_eq!(json["sources"][0]["duplicates"], 0);
    assert_eq!(env.ids("repo"), [a, b, c, d, e.clone()]);
    let cursor: String = env.cursor_text("repo").unwrap();
    let cursor: Value = serde_json::from_str(&cursor).unwrap();
    assert_eq!(cursor["version"], 1);
    assert_eq!(cursor["tips"]["main"], e);
    assert!(cursor.get("pending").is_none());
}

#[test]
fn binary_empty_renamed_unicode_non_utf8_and_large_commits() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let bin = commit_files(
        &repo,
        "Add binary",
        &[
            ("img.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            ("a.txt", b"x\ny\n"),
        ],
    );
    let empty = commit_files(&repo, "Nothing changes", &[]);
    git(&repo, &["mv", "a.txt", "b.txt"]);
    git(&repo, &["commit", "-q", "-m", "Rename a to b"]);
    let renamed = head(&repo);
    let unicode = commit_files(
        &repo,
        "Ünïcødé ✓ 日本語\n\nbody ✓",
        &[("u.txt", "é\n".as_bytes())],
    );
    // A Latin-1 message that says so in its encoding header.
    std::fs::write(env.path("latin1.txt"), b"caf\xe9 cr\xe8me\n").unwrap();
    std::fs::write(repo.join("l.txt"), b"l\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "-c",
            "i18n.commitEncoding=ISO-8859-1",
            "commit",
            "-q",
            "-F",
            env.path("latin1.txt").to_str().unwrap(),
        ],
    );
    let latin1 = head(&repo);
    // Invalid UTF-8 without an encoding header. `git commit` would re-encode the message, so
    // the commit object is written by hand.
    let tree = git(&repo, &["rev-parse", "HEAD^{tree}"]).trim().to_string();
    let mut raw = format!(
        "tree {tree}\nparent {latin1}\nauthor Ada <ada@example.com> 1704103200 +0000\ncommitter Ada <ada@example.com> 1704103200 +0000\n\n"
    )
    .into_bytes();
    raw.extend_from_slice(b"bad \xff\xfe bytes\n");
    std::fs::write(env.path("raw-commit"), &raw).unwrap();
    let invalid = git(
        &repo,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            env.path("raw-commit").to_str().unwrap(),
        ],
    )
    .trim()
    .to_string();
    git(&repo, &["update-ref", "refs/heads/main", &invalid]);
    let big: String = (0..100_000).map(|i| format!("line number {i}\n")).collect();
    let large = commit_files(&repo, "Large file", &[("big.txt", big.as_bytes())]);

    env.write_config(&git_config("repo", &repo, ""));
    env.run(&["sync"]).ok();
    assert_numstat_matches_git(&env, "repo", &repo);

    let files = env.metadata("repo", &bin)["files"].clone();
    let img = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "img.bin")
        .unwrap();
    assert_eq!(
        (img["added"].clone(), img["deleted"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(env.metadata("repo", &empty)["files"], Value::Array(vec![]));
    let r = env.metadata("repo", &renamed)["files"].clone();
    let statuses: Vec<(&str, &str)> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("a.txt", "deleted"), ("b.txt", "added")]);
    let title = |sha: &str| -> (String, String) {
        env.store()
            .query_row("SELECT title, body FROM events WHERE id = ?1", [sha], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    };
    assert_eq!(
        title(&unicode),
        ("Ünïcødé ✓ 日本語".to_string(), "body ✓".to_string())
    );
    assert_eq!(title(&latin1).0, "café crème");
    assert!(env.metadata("repo", &latin1).get("message_lossy").is_none());
    assert_eq!(title(&invalid).0, "bad \u{fffd}\u{fffd} bytes");
    assert_eq!(env.metadata("repo", &invalid)["message_lossy"], true);
    assert_eq!(env.metadata("repo", &large)["totals"]["added"], 100_000);
}

#[test]
fn numstat_matches_git_on_a_generated_history_of_600_commits() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    generate_history(&repo, 600, 0x5eed_1234_abcd_0001);
    env.write_config(&git_config("gen", &repo, "batch_size = 128"));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 600);
    assert_numstat_matches_git(&env, "gen", &repo);
}

#[test]
fn a_bare_repository_gives_the_same_events() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    generate_history(&repo, 40, 7);
    let bare = env.path("bare.git");
    git(
        env.dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            repo.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    env.write_config(&format!(
        "{}{}",
        git_config("work", &repo, ""),
        git_config("bare", &bare, "")
    ));
    env.run(&["sync"]).ok();
    assert_eq!(env.ids("work").len(), 40);
    assert_eq!(env.ids("work"), env.ids("bare"));
    assert_eq!(
        env.metadata("work", &env.ids("work")[10])["files"],
        env.metadata("bare", &env.ids("bare")[10])["files"]
    );
}

#[test]
fn diff_text_is_attached_and_capped() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "one", &[("a.txt", b"a\nb\nc\n")]);
    let two = commit_files(&repo, "two", &[("a.txt", b"a\nB\nc\n")]);
    let big: String = (0..1000).map(|i| format!("{i}\n")).collect();
    let three = commit_files(&repo, "three", &[("big.txt", big.as_bytes())]);
    env.write_config(&git_config(
        "repo",
        &repo,
        "include_diff = true\nmax_diff_bytes = 200",
    ));
    env.run(&["sync"]).ok();
    let m = env.metadata("repo", &two);
    assert_eq!(
        m["diff"],
        "--- a/a.txt\n+++ b/a.txt\n@@ -2,1 +2,1 @@\n-b\n+B\n"
    );
    assert_eq!(m["diff_truncated"], false);
    let m = env.metadata("repo", &three);
    assert_eq!(m["diff"].as_str().unwrap().len(), 200);
    assert_eq!(m["diff_truncated"], true);
}

#[test]
fn a_shallow_clone_shows_its_cut_off_commits_as_roots_like_git() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    generate_history(&repo, 30, 11);
    let shallow = env.path("shallow");
    git(
        env.dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "5",
            &format!("file://{}", repo.display()),
            shallow.to_str().unwrap(),
        ],
    );
    env.write_config(&git_config("s", &shallow, ""));
    env.run(&["sync"]).ok();
    let ids = env.ids("s");
    assert_eq!(ids.len(), 5);
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        rev_list(&shallow, "HEAD")
    );
    assert_numstat_matches_git(&env, "s", &shallow);
    let cut = std::fs::read_to_string(shallow.join(".git/shallow")).unwrap();
    assert_eq!(env.metadata("s", cut.trim())["shallow_boundary"], true);
    assert!(env.metadata("s", &ids[4]).get("shallow_boundary").is_none());
}

#[test]
fn submodules_and_symlinks_count_like_git() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "base", &[("target.txt", b"t\n")]);
    let a = "1111111111111111111111111111111111111111";
    let b = "2222222222222222222222222222222222222222";
    git(
        &repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{a},vendor/lib"),
        ],
    );
    git(&repo, &["commit", "-q", "-m", "add submodule"]);
    git(
        &repo,
        &[
            "update-index",
            "--cacheinfo",
            &format!("160000,{b},vendor/lib"),
        ],
    );
    git(&repo, &["commit", "-q", "-m", "bump submodule"]);
    std::os::unix::fs::symlink("target.txt", repo.join("link")).unwrap();
    git(&repo, &["add", "link"]);
    git(&repo, &["commit", "-q", "-m", "add symlink"]);
    git(&repo, &["rm", "-q", "--cached", "vendor/lib"]);
    git(&repo, &["commit", "-q", "-m", "drop submodule"]);
    env.write_config(&git_config("r", &repo, ""));
    env.run(&["sync"]).ok();
    assert_eq!(env.ids("r").len(), 5);
    assert_numstat_matches_git(&env, "r", &repo);
}

#[test]
fn parents_are_stored_before_children_even_when_clocks_disagree() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    generate_branchy_history(&repo, 200, 5);
    env.write_config(&git_config("b", &repo, "batch_size = 7"));
    env.run(&["sync"]).ok();
    let ids = env.ids("b");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        rev_list(&repo, "main")
    );
    let position: BTreeMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut skewed = 0;
    for (i, id) in ids.iter().enumerate() {
        let meta = env.metadata("b", id);
        for parent in meta["parents"].as_array().unwrap() {
            let p = position[parent.as_str().unwrap()];
            assert!(p < i, "parent {parent} stored after its child {id}");
            let parent_time =
                env.metadata("b", parent.as_str().unwrap())["committer"]["time"].clone();
            if parent_time.as_str() > meta["committer"]["time"].as_str() {
                skewed += 1;
            }
        }
    }
    assert!(
        skewed > 0,
        "the history should have children dated before their parents"
    );
}

#[test]
fn a_commit_with_an_impossible_timezone_is_stored_not_fatal() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let base = commit_files(&repo, "base", &[("a", b"a\n")]);
    let tree = git(&repo, &["rev-parse", "HEAD^{tree}"]).trim().to_string();
    let raw = format!(
        "tree {tree}\nparent {base}\nauthor Odd <odd@example.com> 1704103200 +9999\ncommitter Odd <odd@example.com> 1704103200 +9999\n\nodd zone\n"
    );
    std::fs::write(env.path("raw"), raw).unwrap();
    let odd = git(
        &repo,
        &[
            "hash-object",
            "--literally",
            "-t",
            "commit",
            "-w",
            env.path("raw").to_str().unwrap(),
        ],
    )
    .trim()
    .to_string();
    git(&repo, &["update-ref", "refs/heads/main", &odd]);
    let after = commit_files(&repo, "after", &[("b", b"b\n")]);
    env.write_config(&git_config("r", &repo, ""));
    env.run(&["sync"]).ok();
    assert_eq!(env.ids("r"), [base, odd.clone(), after]);
    let author = &env.metadata("r", &odd)["author"];
    assert_eq!(author["time"], "2024-01-01T10:00:00+00:00");
    assert_eq!(author["time_raw"], "1704103200 +9999");
}
