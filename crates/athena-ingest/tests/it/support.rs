//! `TestEnv`: a temp dir with a config, a store and a command builder for the binary, plus
//! helpers that build real git repositories.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn db(&self) -> PathBuf {
        self.path("athena.db")
    }

    pub fn write_config(&self, text: &str) -> PathBuf {
        let p = self.path("athena.toml");
        std::fs::write(&p, text).expect("writing config");
        p
    }

    /// `athena-ingest ARGS` run in the env's dir.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_athena-ingest"));
        c.current_dir(self.dir.path())
            .args(args)
            .env_remove("RUST_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.cmd(args).output().expect("running athena-ingest"))
    }

    /// `status --format json`, which must succeed, parsed.
    pub fn status_json(&self) -> serde_json::Value {
        let run = self.run(&["status", "--format", "json"]).ok();
        serde_json::from_str(run.stdout().trim()).unwrap()
    }

    pub fn sync_json(&self) -> (Run, serde_json::Value) {
        self.sync_json_with(&[], &[])
    }

    /// `sync --format json` with more arguments and environment variables (an API source's
    /// token).
    pub fn sync_json_with(&self, args: &[&str], vars: &[(&str, &str)]) -> (Run, serde_json::Value) {
        let mut all = vec!["sync", "--format", "json"];
        all.extend_from_slice(args);
        let mut cmd = self.cmd(&all);
        cmd.envs(vars.iter().copied());
        sync_json_of(Run(cmd.output().expect("running athena-ingest")))
    }

    /// [`sync_json_with`](Self::sync_json_with) without arguments, with the child's own peak
    /// RSS in KiB: unlike [`children_max_rss_kib`], not raised by other tests' children.
    pub fn sync_json_rss_kib(&self, vars: &[(&str, &str)]) -> (Run, serde_json::Value, i64) {
        let mut cmd = self.cmd(&["sync", "--format", "json"]);
        cmd.envs(vars.iter().copied());
        let (output, rss_kib) = output_with_max_rss_kib(&mut cmd);
        let (run, json) = sync_json_of(Run(output));
        (run, json, rss_kib)
    }

    /// The store, for reading with SQL: `events` shows each event's context and metadata as
    /// JSON text, packed or not (`athena_store::readable_events`).
    pub fn store(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.db()).expect("opening the store");
        // A store not made yet (or made by a release before packing) has nothing packed.
        let packs = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'event_dicts'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0);
        if packs > 0 {
            athena_store::readable_events(&conn).expect("reading packed events");
        }
        conn
    }

    /// Every text the store keeps of events, cursors and run errors, run together: where a
    /// leaked secret would show.
    pub fn store_text(&self) -> String {
        let c = self.store();
        let mut s = c
            .prepare("SELECT id || title || body || context || metadata FROM events UNION ALL SELECT cursor FROM cursors UNION ALL SELECT coalesce(error, '') FROM source_runs")
            .unwrap();
        s.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Stored event ids of a source, in commit (storage) order.
    /// (kind, id) of `source`'s stored events, in storage order.
    pub fn kinds_and_ids(&self, source: &str) -> Vec<(String, String)> {
        let c = self.store();
        let mut stmt = c
            .prepare("SELECT kind, id FROM events WHERE source_id = ?1 ORDER BY seq")
            .unwrap();
        let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)));
        rows.unwrap().map(Result::unwrap).collect()
    }

    pub fn ids(&self, source: &str) -> Vec<String> {
        let c = self.store();
        let mut stmt = match c.prepare("SELECT id FROM events WHERE source_id = ?1 ORDER BY seq") {
            Ok(stmt) => stmt,
            // A sync has created the file but not yet its schema: nothing is stored.
            Err(e) if e.to_string().contains("no such table") => return Vec::new(),
            Err(e) => panic!("reading the store: {e}"),
        };
        let rows = stmt.query_map([source], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// The saved cursor of a source, as stored (text), if any.
    pub fn cursor_text(&self, source: &str) -> Option<String> {
        self.store()
            .query_row(
                "SELECT cursor FROM cursors WHERE source_id = ?1",
                [source],
                |r| r.get(0),
            )
            .ok()
    }

    /// The saved cursor of a source, parsed.
    pub fn cursor(&self, source: &str) -> Option<serde_json::Value> {
        self.cursor_text(source)
            .map(|t| serde_json::from_str(&t).expect("cursor is JSON"))
    }

    pub fn metadata(&self, source: &str, id: &str) -> serde_json::Value {
        let text: String = self
            .store()
            .query_row(
                "SELECT metadata FROM events WHERE source_id = ?1 AND id = ?2",
                [source, id],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("event {id} of {source} not stored: {e}"));
        serde_json::from_str(&text).unwrap()
    }
}

pub fn is_root() -> bool {
    let uid = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&uid.stdout).trim() == "0"
}

/// `athena-ingest ARGS` in the env's dir, as `nobody` (through `setpriv`) when the tests run as
/// root, for whom permissions do not stop reads or writes. The caller makes what `nobody` must
/// reach reachable.
pub fn run_unprivileged(env: &TestEnv, args: &[&str]) -> Run {
    let out = if is_root() {
        let cmd = env.cmd(args);
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .current_dir(env.dir.path())
            .env_remove("RUST_LOG")
            .output()
            .expect("setpriv (util-linux) runs the command as nobody")
    } else {
        env.cmd(args).output().unwrap()
    };
    Run(out)
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code(), 0, "{}", self.describe());
        self
    }
}

/// A git command with a fixed identity and no user or system config.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("running git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Charles Babbage")
        .env("GIT_COMMITTER_EMAIL", "charles@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T12:00:00+02:00")
        .env("GIT_COMMITTER_DATE", "2024-01-01T12:00:00+02:00");
    c
}

/// A new work tree repository with `main` as its branch.
pub fn init_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
}

/// Writes files and commits them.
pub fn commit_files(dir: &Path, message: &str, files: &[(&str, &[u8])]) -> String {
    for (path, content) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    head(dir)
}

pub fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// Every commit reachable from `rev`, as git lists them.
pub fn rev_list(dir: &Path, rev: &str) -> BTreeSet<String> {
    git(dir, &["rev-list", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

/// A deterministic pseudo-random generator (xorshift), so generated histories are reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Builds a linear history of `commits` commits on `main` with `git fast-import`: files are
/// created, edited line by line (inserts, deletes, replacements), deleted and re-created, and
/// a binary file changes now and then. Returns nothing; read the repository with git.
pub fn generate_history(dir: &Path, commits: usize, seed: u64) {
    generate_history_with(dir, commits, seed, false);
}

/// Like [`generate_history`], plus every 40 commits a side branch of three commits merged back
/// into `main`, commits sharing timestamps in threes, and side commits dated *before* the commit
/// they branch from (clock skew), so that time order and parent order disagree.
pub fn generate_branchy_history(dir: &Path, commits: usize, seed: u64) {
    generate_history_with(dir, commits, seed, true);
}

fn generate_history_with(dir: &Path, commits: usize, seed: u64, branchy: bool) {
    init_repo(dir);
    let mut rng = Rng(seed);
    let mut files: Vec<Option<Vec<String>>> = vec![None; 12];
    let mut script: Vec<u8> = Vec::new();
    let mut merge_next: Option<usize> = None;
    let mut side_mark = 1_000_000;
    for n in 0..commits {
        let when = if branchy {
            1_700_000_000 + (n as u64 / 3) * 60
        } else {
            1_700_000_000 + n as u64 * 60
        };
        let _ = write!(
            script,
            "commit refs/heads/main\nmark :{}\nauthor Dev {} <dev{}@example.com> {} +0100\ncommitter Dev {} <dev{}@example.com> {} +0100\n",
            n + 1,
            n % 5,
            n % 5,
            when,
            n % 5,
            n % 5,
            when
        );
        let msg = format!("change {n}\n\nbody of change {n}\n");
        let _ = write!(script, "data {}\n{}", msg.len(), msg);
        if n > 0 {
            let _ = writeln!(script, "from :{n}");
        }
        if let Some(side) = merge_next.take() {
            let _ = writeln!(script, "merge :{side}");
        }
        let touched = 1 + rng.below(3);
        for _ in 0..touched {
            let f = rng.below(files.len() as u64) as usize;
            let path = format!("dir{}/file{f}.txt", f % 3);
            match &mut files[f] {
                None => {
                    let lines = (0..1 + rng.below(40))
                        .map(|i| format!("line {i} of {f}"))
                        .collect();
                    files[f] = Some(lines);
                }
                Some(_) if rng.below(25) == 0 => {
                    files[f] = None;
                    let _ = writeln!(script, "D {path}");
                    continue;
                }
                Some(lines) => {
                    for _ in 0..1 + rng.below(6) {
                        let at = rng.below(lines.len() as u64 + 1) as usize;
                        match rng.below(3) {
                            0 => lines.insert(at, format!("inserted {} in {n}", rng.below(1000))),
                            1 if at < lines.len() => {
                                lines.remove(at);
                            }
                            _ if at < lines.len() => lines[at] = format!("replaced in {n}"),
                            _ => lines.push(format!("appended in {n}")),
                        }
                    }
                }
            }
            let mut content = files[f].as_ref().unwrap().join("\n");
            if rng.below(4) != 0 {
                content.push('\n');
            }
            let _ = write!(
                script,
                "M 100644 inline {path}\ndata {}\n{}\n",
                content.len(),
                content
            );
        }
        if n % 37 == 5 {
            let blob: Vec<u8> = (0..64).map(|i| ((i * 7 + n) % 256) as u8).collect();
            let _ = write!(
                script,
                "M 100644 inline assets/logo.bin\ndata {}\n",
                blob.len()
            );
            script.extend_from_slice(&blob);
            script.push(b'\n');
        }
        if branchy && n % 40 == 39 && n + 1 < commits {
            let mut parent = n + 1;
            for k in 0..3 {
                side_mark += 1;
                let t = when - 30 + k;
                let msg = format!("side {k} after change {n}\n");
                let note = format!("side note {n}.{k}\n");
                let _ = write!(
                    script,
                    "commit refs/heads/side{n}\nmark :{side_mark}\nauthor Side <side@example.com> {t} +0000\ncommitter Side <side@example.com> {t} +0000\ndata {}\n{msg}from :{parent}\nM 100644 inline side/notes{n}.txt\ndata {}\n{note}\n",
                    msg.len(),
                    note.len()
                );
                parent = side_mark;
            }
            merge_next = Some(side_mark);
        }
    }
    let mut child = git_cmd(dir)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child.stdin.take().unwrap().write_all(&script).unwrap();
    assert!(child.wait().unwrap().success(), "fast-import failed");
    git(dir, &["reset", "-q", "--hard", "main"]);
}

/// A config with one git source.
pub fn git_config(id: &str, path: &Path, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"{id}\"\ntype = \"git\"\npath = \"{}\"\n{extra}\n",
        path.display()
    )
}

/// The commits a git cursor's `pending.heads` reach, by git's own count.
pub fn reached_by_heads(repo: &Path, cursor: &serde_json::Value) -> BTreeSet<String> {
    let heads: Vec<&str> = cursor["pending"]["heads"]
        .as_array()
        .expect("a pending walk with heads")
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let mut args = vec!["rev-list"];
    args.extend(heads);
    git(repo, &args).lines().map(str::to_string).collect()
}

/// A kill schedule's random generator, seeded from `ATHENA_TEST_SEED` when set, else from the
/// clock; the seed is printed so a failing schedule can be replayed.
pub fn kill_schedule(what: &str) -> Rng {
    // ATHENA_TEST_SEED replays a schedule; otherwise a new one each run, printed so that a
    // failure can be replayed.
    let seed = match std::env::var("ATHENA_TEST_SEED") {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("ATHENA_TEST_SEED={text:?} is not a number")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    } | 1;
    eprintln!("kill schedule seed: {seed} (replay with ATHENA_TEST_SEED={seed}), {what}");
    Rng(seed)
}

/// SIGKILLs `sync` runs of `env` (with `vars` set) after `delay()` milliseconds each, until
/// three kills have left a partial store of `source`; after every kill the stored ids must be
/// distinct and among `expected`. A store completed between kills is thrown away to start over.
pub fn kill_until_partial(
    env: &TestEnv,
    source: &str,
    expected: &BTreeSet<String>,
    vars: &[(&str, &str)],
    mut delay: impl FnMut() -> u64,
) {
    let (mut partial, mut attempts) = (0, 0);
    while partial < 3 {
        attempts += 1;
        assert!(
            attempts <= 40,
            "only {partial} of {attempts} kills landed mid-sync"
        );
        if env.db().exists() && env.ids(source).len() == expected.len() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(env.path(&format!("athena.db{suffix}")));
            }
        }
        let mut cmd = env.cmd(&["sync"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay()));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        if env.db().exists() {
            let ids = env.ids(source);
            let distinct: BTreeSet<String> = ids.iter().cloned().collect();
            assert_eq!(distinct.len(), ids.len(), "an event stored twice");
            assert!(
                distinct.is_subset(expected),
                "an event not in the reference run"
            );
            if !ids.is_empty() && ids.len() < expected.len() {
                partial += 1;
            }
        }
    }
    eprintln!("{partial} partial stores in {attempts} kills");
}

/// The exactly-once check for a source read from a server: a reference sync with `config`,
/// then SIGKILLs of another sync at `delay(full_ms, rng)` ms until three land mid-sync, then a
/// last sync; the store must hold exactly the reference's events, once each.
pub fn assert_kill_safe(
    config: &str,
    source: &str,
    vars: &[(&str, &str)],
    mut delay: impl FnMut(u64, &mut Rng) -> u64,
) {
    let sync = |env: &TestEnv| {
        let mut cmd = env.cmd(&["sync"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run(cmd.output().unwrap())
    };
    let reference = TestEnv::new();
    reference.write_config(config);
    let started = std::time::Instant::now();
    let run = sync(&reference);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let full_ms = started.elapsed().as_millis() as u64;
    let expected: BTreeSet<String> = reference.ids(source).into_iter().collect();

    let env = TestEnv::new();
    env.write_config(config);
    let mut rng = kill_schedule(&format!("uninterrupted sync: {full_ms} ms"));
    kill_until_partial(&env, source, &expected, vars, || delay(full_ms, &mut rng));
    let run = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let ids = env.ids(source);
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), got.len(), "an event stored twice");
    assert_eq!(got, expected);
}

/// The real Apache access log the repository keeps (2,000 lines, May 2015; its origin and
/// licence are in the fixtures' README).
pub const SAMPLE_LOG: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../athena-sources/src/api_log/fixtures/apache_combined.log"
));

/// Lines `range` (1-based, inclusive) of [`SAMPLE_LOG`], each with its newline.
pub fn sample_lines(range: std::ops::RangeInclusive<usize>) -> String {
    let lines = SAMPLE_LOG.lines().count();
    assert!(
        *range.start() >= 1 && *range.end() <= lines,
        "the sample log has lines 1..={lines}, not {range:?}"
    );
    SAMPLE_LOG
        .lines()
        .skip(range.start() - 1)
        .take(range.end() - range.start() + 1)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The program `name` as the tests run it: from the virtual environment `scripts/test-setup.sh`
/// makes in the target dir (`<target>/test-tools/venv`) when it has one, else from `PATH`. So
/// the Python tools (schemathesis, a python3 with `mcp`) are found without activating anything.
pub fn test_tool(name: &str) -> PathBuf {
    // `CARGO_TARGET_TMPDIR` is `<target>/tmp`, wherever `CARGO_TARGET_DIR` puts the target dir.
    let venv_bin = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir")
        .join("test-tools/venv/bin");
    tool_in(&venv_bin, name)
}

/// `dir/name` if that file exists, else `name` (looked up in `PATH` when run).
pub fn tool_in(dir: &Path, name: &str) -> PathBuf {
    let local = dir.join(name);
    if local.is_file() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// The repository's `scripts/NAME`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}

/// The largest resident size of this test's finished children, in KiB.
fn sync_json_of(run: Run) -> (Run, serde_json::Value) {
    let json = serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| {
        panic!(
            "sync --format json printed no JSON ({e}):\n{}",
            run.describe()
        )
    });
    (run, json)
}

/// Runs `cmd` to its end as `output()` does, with that child's peak RSS in KiB (`wait4`'s).
#[allow(clippy::zombie_processes)] // reaped by wait4, which `Child::wait` cannot stand in for
pub fn output_with_max_rss_kib(cmd: &mut Command) -> (Output, i64) {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::{ExitStatus, Stdio};

    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running athena-ingest");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).expect("reading stdout");
        v
    });
    let mut stderr = Vec::new();
    err.read_to_end(&mut stderr).expect("reading stderr");
    let stdout = reader.join().expect("stdout reader");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 reaps the child `Child` never waited for, writing its status and a
    // complete rusage into the pointers it is given.
    let usage = unsafe {
        assert_eq!(libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()), pid);
        usage.assume_init()
    };
    let output = Output {
        status: ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (output, usage.ru_maxrss)
}

pub fn children_max_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    usage.ru_maxrss
}

/// How many of `events` (kind, id) are of `kind`.
pub fn count(events: &[(String, String)], kind: &str) -> usize {
    events.iter().filter(|(k, _)| k == kind).count()
}
