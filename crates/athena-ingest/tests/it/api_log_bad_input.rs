//! The api_log source against input that broke it once: logs that begin alike, bad `.gz` files,
//! endless lines, decompression bombs, paths that are no log, and old cursors.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn config(paths: &str, extra: &str) -> String {
    format!("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [{paths}]\n{extra}\n")
}

fn gzip(path: &Path) {
    let ok = Command::new("gzip").arg("-f").arg(path).status().unwrap();
    assert!(ok.success());
}

/// Sets `path`'s modification time two minutes back: a `.gz` that old is no longer being
/// written, so a break in it is final.
fn settle(path: &Path) {
    let ok = Command::new("touch")
        .args(["-d", "2 minutes ago"])
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// (origin, reason) of every dead letter of `web`.
fn dead_letters(env: &TestEnv) -> Vec<(String, String)> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT origin, reason FROM dead_letters WHERE source_id = 'web' ORDER BY seq")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn count(env: &TestEnv) -> i64 {
    env.store()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

/// A W3C-style log: a `#Version` header line, then the sample log's `lines`.
fn write_with_header(env: &TestEnv, name: &str, lines: std::ops::RangeInclusive<usize>) {
    let text = format!("#Version: 1.0\n{}", sample_lines(lines));
    std::fs::write(env.path(name), text).unwrap();
}

#[test]
fn two_logs_that_begin_with_the_same_header_line_are_both_read() {
    let env = TestEnv::new();
    write_with_header(&env, "day1.log", 1..=100);
    write_with_header(&env, "day2.log", 101..=250);
    env.write_config(&config("\"day*.log\"", ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 250, "{json}");
    assert_eq!(json["sources"][0]["invalid"], 2, "the two header lines");
}

#[test]
fn a_log_whose_twin_is_deleted_resumes_at_its_own_offset_not_the_twins() {
    let env = TestEnv::new();
    write_with_header(&env, "day1.log", 1..=100);
    write_with_header(&env, "day2.log", 101..=110);
    env.write_config(&config("\"day*.log\"", ""));
    env.run(&["sync"]).ok();
    std::fs::remove_file(env.path("day1.log")).unwrap();
    let mut day2 = std::fs::read_to_string(env.path("day2.log")).unwrap();
    day2.push_str(&sample_lines(111..=200));
    std::fs::write(env.path("day2.log"), day2).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 90, "{json}");
    assert_eq!(json["sources"][0]["invalid"], 0, "{json}");
    assert_eq!(count(&env), 200);
}

#[test]
fn a_version_1_cursor_resumes_where_it_was() {
    let env = TestEnv::new();
    let log = env.path("access.log");
    let first_five = sample_lines(1..=5);
    std::fs::write(&log, format!("{first_five}{}", sample_lines(6..=10))).unwrap();
    // A store as an earlier release left it: five lines stored under a version 1 cursor,
    // keyed by the BLAKE3 of the first line.
    env.write_config(&config("\"other.log\"", ""));
    env.run(&["sync"]).ok();
    let first_line = first_five.lines().next().unwrap().to_string() + "\n";
    let fp = blake3::hash(first_line.as_bytes()).to_hex()[..32].to_string();
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(&log).unwrap().ino();
    let cursor = format!(
        r#"{{"version":1,"files":{{"{fp}":{{"path":"{}","offset":{},"line":5,"ino":{ino},"generation":0}}}}}}"#,
        log.display(),
        first_five.len()
    );
    env.store()
        .execute(
            "INSERT INTO cursors (source_id, source_type, cursor, updated_at) VALUES ('web', 'api_log', ?1, 0)",
            [cursor],
        )
        .unwrap();
    env.write_config(&config("\"access.log\"", ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    assert_eq!(env.cursor("web").unwrap()["version"], 2);
    // The lines read since the upgrade have the ids a full read gives them: after `reset`
    // only the five lines the old cursor had stored elsewhere are new.
    env.run(&["reset", "--source", "web"]).ok();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    assert_eq!(json["sources"][0]["duplicates"], 5, "{json}");
}

#[test]
fn a_truncated_gz_yields_its_good_lines_and_a_dead_letter_for_the_rest() {
    let env = TestEnv::new();
    std::fs::write(env.path("old.log"), sample_lines(1..=2000)).unwrap();
    gzip(&env.path("old.log"));
    let gz = std::fs::read(env.path("old.log.gz")).unwrap();
    std::fs::write(env.path("old.log.gz"), &gz[..gz.len() / 2]).unwrap();
    settle(&env.path("old.log.gz"));
    env.write_config(&config("\"old.log.gz\"", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let written = json["sources"][0]["events_written"].as_u64().unwrap();
    assert!(written > 100 && written < 2000, "{json}");
    let dead = dead_letters(&env);
    assert_eq!(dead.len(), 1, "{dead:?}");
    let (origin, reason) = &dead[0];
    assert!(
        origin.contains(&format!(":{} (byte ", written + 1)),
        "{origin}"
    );
    assert!(
        reason.contains("compressed file cannot be read"),
        "{reason}"
    );
    // The same broken file is not read again, nor dead-lettered twice.
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 0);
    assert_eq!(dead_letters(&env).len(), 1);
}

#[test]
fn bad_gz_files_beside_the_live_log_do_not_stop_it() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), sample_lines(1..=10)).unwrap();
    std::fs::write(env.path("access.log.1.gz"), sample_lines(11..=20)).unwrap(); // not gzip
    std::fs::write(env.path("access.log.2.gz"), "").unwrap(); // empty
    std::fs::write(env.path("corrupt.log"), sample_lines(21..=40)).unwrap();
    gzip(&env.path("corrupt.log"));
    let mut gz = std::fs::read(env.path("corrupt.log.gz")).unwrap();
    let middle = gz.len() / 2;
    for b in &mut gz[middle..middle + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(env.path("access.log.3.gz"), gz).unwrap();
    for n in 1..=3 {
        settle(&env.path(&format!("access.log.{n}.gz")));
    }
    env.write_config(&config("\"access.log*\"", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["status"], "ok");
    let paths: Vec<String> = {
        let c = env.store();
        let mut s = c
            .prepare("SELECT json_extract(context, '$.file') FROM events")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let live = paths.iter().filter(|p| p.ends_with("access.log")).count();
    assert_eq!(live, 10, "{paths:?}");
    let dead = dead_letters(&env);
    assert!(
        dead.iter()
            .any(|(o, r)| o.contains("access.log.1.gz:1 (byte 0)") && r.contains("gzip")),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|(o, r)| o.contains("access.log.3.gz") && r.contains("cannot be read")),
        "{dead:?}"
    );
    // Appending to the live log still works on the next sync.
    let mut live_text = std::fs::read_to_string(env.path("access.log")).unwrap();
    live_text.push_str(&sample_lines(41..=45));
    std::fs::write(env.path("access.log"), live_text).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
}

#[test]
fn an_over_long_line_is_skipped_without_being_held_in_memory() {
    let env = TestEnv::new();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(env.path("access.log")).unwrap();
        f.write_all(sample_lines(1..=3).as_bytes()).unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..400 {
            f.write_all(&block).unwrap();
        }
        f.write_all(b"\n").unwrap();
        f.write_all(sample_lines(4..=6).as_bytes()).unwrap();
    }
    env.write_config(&config("\"access.log\"", ""));
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 6, "{json}");
    let dead = dead_letters(&env);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].0.contains("access.log:4 (byte "), "{dead:?}");
    assert!(dead[0].1.contains("max_line_bytes"), "{dead:?}");
    let rss_mib = children_max_rss_kib() / 1024;
    assert!(rss_mib < 120, "a 400 MiB line took {rss_mib} MiB of memory");
}

#[test]
fn a_gzip_bomb_is_cut_off_with_a_dead_letter() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), sample_lines(1..=3)).unwrap();
    // 1 GiB of zeros without a newline, in about 1 MiB of gzip.
    let made = Command::new("sh")
        .arg("-c")
        .arg("head -c 1073741824 /dev/zero | gzip -1 > access.log.1.gz")
        .current_dir(env.dir.path())
        .status()
        .unwrap();
    assert!(made.success());
    env.write_config(&config("\"access.log*\"", ""));
    let started = std::time::Instant::now();
    let (run, json) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 3, "{json}");
    let dead = dead_letters(&env);
    assert!(
        dead.iter()
            .any(|(o, r)| o.contains("access.log.1.gz:1 (byte 0)")
                && r.contains("decompression bomb")),
        "{dead:?}"
    );
    // Cut off after 64 MiB, not read to its end (1 GiB).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    let rss_mib = children_max_rss_kib() / 1024;
    assert!(rss_mib < 120, "the bomb took {rss_mib} MiB of memory");
}

#[test]
fn paths_that_name_no_log_file_are_warned_about_one_by_one() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("adir")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(env.path("pipe"))
        .status()
        .unwrap();
    assert!(fifo.success());
    std::os::unix::fs::symlink(env.path("loop-a"), env.path("loop-b")).unwrap();
    std::os::unix::fs::symlink(env.path("loop-b"), env.path("loop-a")).unwrap();
    std::fs::write(env.path("access.log"), sample_lines(1..=2)).unwrap();
    env.write_config(&config(
        "\"access.log\", \"missing.log\", \"adir\", \"pipe\", \"/dev/zero\", \"loop-a\"",
        "",
    ));
    let (run, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 2, "{json}");
    let err = run.stderr();
    for (path, why) in [
        ("missing.log", "matches no log file"),
        ("adir", "a directory"),
        ("pipe", "a FIFO"),
        ("/dev/zero", "a device"),
        ("loop-a", "cannot be read"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(path) && l.contains(why)),
            "no warning for {path} ({why}):\n{err}"
        );
    }
}

#[test]
fn validate_fails_on_a_path_that_matches_nothing() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), sample_lines(1..=2)).unwrap();
    env.write_config(&config("\"access.log\", \"logs/*.log\"", ""));
    std::fs::create_dir(env.path("logs")).unwrap();
    let run = env.run(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stdout().contains("logs/*.log") && run.stdout().contains("no log file"),
        "{}",
        run.describe()
    );
    std::fs::write(env.path("logs/a.log"), sample_lines(1..=2)).unwrap();
    env.run(&["validate"]).ok();
}

#[test]
fn a_star_glob_never_reads_the_store_its_lock_or_the_config() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), sample_lines(1..=5)).unwrap();
    env.write_config(&config("\"*\"", ""));
    env.run(&["sync"]).ok();
    // Now the store, its WAL and its lock all exist and match `*`.
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["invalid"], 0, "{json}");
    let files: Vec<String> = {
        let c = env.store();
        let mut s = c
            .prepare(
                "SELECT json_extract(context, '$.file') FROM events
                 UNION SELECT origin FROM dead_letters",
            )
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(files.iter().all(|f| f.ends_with("access.log")), "{files:?}");
    assert_eq!(count(&env), 5);
    let cursor = env.cursor("web").unwrap();
    let read: Vec<&str> = cursor["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(read.len(), 1, "{cursor}");
}

#[test]
fn an_invalid_glob_is_a_config_error_and_the_store_is_not_created() {
    let env = TestEnv::new();
    env.write_config(&config("\"logs/[abc.log\"", ""));
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("athena.toml:4") && run.stderr().contains("paths"),
        "{}",
        run.describe()
    );
    assert!(!env.db().exists());
}

#[test]
fn logs_that_begin_with_a_blank_line_and_the_same_json_record_are_both_read() {
    let env = TestEnv::new();
    let rec = r#"{"time":"2024-05-01T10:00:00Z","method":"GET","path":"/a","status":200}"#;
    let other = r#"{"time":"2024-05-01T11:00:00Z","method":"GET","path":"/b","status":200}"#;
    std::fs::write(env.path("a.jsonl"), format!("\n{rec}\n{other}\n")).unwrap();
    std::fs::write(env.path("b.jsonl"), format!("\n{rec}\n{rec}\n")).unwrap();
    env.write_config(&config("\"*.jsonl\"", "format = \"jsonl\""));
    let (_, json) = env.sync_json();
    // The first record is the same bytes at the same place in both files: one event. What
    // follows differs, so both later lines are stored.
    assert_eq!(json["sources"][0]["events_written"], 3, "{json}");
    let v: Value = env.cursor("web").unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
}

#[test]
fn a_gz_still_being_written_is_read_on_later_without_a_dead_letter() {
    let env = TestEnv::new();
    std::fs::write(env.path("old.log"), sample_lines(1..=2000)).unwrap();
    gzip(&env.path("old.log"));
    let whole = std::fs::read(env.path("old.log.gz")).unwrap();
    // Half written, just now: gzip has not finished it.
    std::fs::write(env.path("old.log.gz"), &whole[..whole.len() / 2]).unwrap();
    env.write_config(&config("\"old.log.gz\"", ""));
    let (_, json) = env.sync_json();
    let first = json["sources"][0]["events_written"].as_u64().unwrap();
    assert!(first > 0 && first < 2000, "{json}");
    assert_eq!(dead_letters(&env), vec![]);
    std::fs::write(env.path("old.log.gz"), &whole).unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 2000 - first, "{json}");
    assert_eq!(json["sources"][0]["duplicates"], 0, "{json}");
    assert_eq!(dead_letters(&env), vec![]);
}

#[test]
fn a_rotated_gz_is_read_when_the_new_log_begins_with_the_same_header() {
    let env = TestEnv::new();
    let log = env.path("app.log");
    std::fs::write(&log, "#Version: 1.0\n").unwrap();
    env.write_config(&config("\"app.log*\"", ""));
    env.run(&["sync"]).ok();
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(&sample_lines(1..=20));
    std::fs::write(&log, text).unwrap();
    std::fs::rename(&log, env.path("app.log.1")).unwrap();
    gzip(&env.path("app.log.1"));
    std::fs::write(&log, "#Version: 1.0\n").unwrap();
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 20, "{json}");
}

#[test]
fn a_log_reached_through_a_symlink_too_is_read_once() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), sample_lines(1..=10)).unwrap();
    std::fs::write(env.path("bad.log"), "not a log line\n").unwrap();
    std::os::unix::fs::symlink(env.path("access.log"), env.path("current.log")).unwrap();
    env.write_config(&config("\"*.log\"", ""));
    let (_, json) = env.sync_json();
    assert_eq!(json["sources"][0]["events_written"], 10, "{json}");
    assert_eq!(json["sources"][0]["duplicates"], 0, "{json}");
    assert_eq!(json["sources"][0]["invalid"], 1, "{json}");
}

#[test]
fn an_unreadable_log_is_warned_about_and_the_others_are_read() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(env.path("a.log"), sample_lines(1..=10)).unwrap();
    std::fs::write(env.path("b.log"), sample_lines(11..=20)).unwrap();
    std::fs::set_permissions(env.path("b.log"), std::fs::Permissions::from_mode(0o000)).unwrap();
    env.write_config(&config("\"*.log\"", ""));
    let run = run_unprivileged(&env, &["sync", "--format", "json"]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let json: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(json["sources"][0]["events_written"], 10, "{json}");
    assert!(
        run.stderr().contains("b.log") && run.stderr().contains("cannot be read"),
        "{}",
        run.describe()
    );
    // Readable again: its lines are read then.
    std::fs::set_permissions(env.path("b.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = run_unprivileged(&env, &["sync", "--format", "json"]);
    let json: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(json["sources"][0]["events_written"], 10, "{json}");
}
