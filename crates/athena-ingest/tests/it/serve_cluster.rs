//! `serve` workers sharing a PostgreSQL store (`[store] url`): they divide the sources by
//! leases, each running its share (rebalanced when a worker joins), and the survivors take
//! over the sources of a worker that died once its leases run out; nothing is stored twice.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::serve_support::{append, wait_for, Server};
use crate::support::*;

/// The sources a worker runs, as its `/readyz` lists them.
fn running(server: &Server) -> Vec<String> {
    let ready = server.must_get("/readyz");
    let body: Value = serde_json::from_str(&ready.body).unwrap();
    (body["sources"].as_array().unwrap().iter())
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The ids of every stored event, as `events` lists them.
fn stored(env: &TestEnv, url: &str) -> Vec<String> {
    let run = env.run(&[
        "events", "--db", url, "--format", "jsonl", "--limit", "10000",
    ]);
    (run.stdout().lines())
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            format!(
                "{}/{}",
                e["source_id"].as_str().unwrap(),
                e["id"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn workers_share_the_sources_rebalance_when_one_joins_and_take_over_those_of_a_dead_one() {
    let url = athena_store::postgres_testing::fresh_url();
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let mut config = format!("[store]\nurl = \"{url}\"\n\n[cluster]\nlease_ttl = \"2s\"\n");
    // web2 and web3 come first wherever sources wait.
    let priorities = [0, -1, 5, 4];
    for (i, priority) in priorities.iter().enumerate() {
        append(&env.path(&format!("logs/{i}.log")), 0..5);
        config.push_str(&format!(
            "\n[[sources]]\nid = \"web{i}\"\ntype = \"api_log\"\npaths = [\"logs/{i}.log\"]\npriority = {priority}\n"
        ));
    }
    env.write_config(&config);
    // Alone, a worker runs every source; a second joins and the two settle on their shares:
    // two sources each, all four run once. The first hands back its two of lowest priority.
    let mut first = Server::start(&env);
    wait_for("the first worker to run every source", || {
        running(&first).len() == 4
    });
    let second = Server::start(&env);
    wait_for("the sources divided two and two", || {
        let (a, b) = (running(&first), running(&second));
        let all: BTreeSet<&String> = a.iter().chain(&b).collect();
        a.len() == 2 && b.len() == 2 && all.len() == 4
    });
    let mut kept = running(&first);
    kept.sort();
    assert_eq!(kept, ["web2", "web3"]);
    let ready: Value = serde_json::from_str(&first.must_get("/readyz").body).unwrap();
    assert_eq!(
        ready["priorities"],
        serde_json::json!({"web2": 5, "web3": 4})
    );
    wait_for("every line stored", || stored(&env, &url).len() == 20);
    // `/readyz` names each worker; `status` says which holds which source.
    let names: Vec<String> = [&first, &second]
        .iter()
        .map(|w| {
            let body: Value = serde_json::from_str(&w.must_get("/readyz").body).unwrap();
            body["worker"].as_str().unwrap().to_string()
        })
        .collect();
    assert_ne!(names[0], names[1]);
    let status: Value = env.status_json();
    for s in status["sources"].as_array().unwrap() {
        let i: usize = s["id"].as_str().unwrap()[3..].parse().unwrap();
        assert_eq!(s["priority"], priorities[i], "{s}");
        let holder = s["worker"].as_str().unwrap_or_default().to_string();
        let runs = if holder == names[0] { &first } else { &second };
        assert!(names.contains(&holder), "{s}");
        assert!(
            running(runs).contains(&s["id"].as_str().unwrap().to_string()),
            "{s}"
        );
    }

    // The first dies without handing its leases back; the second takes its sources over
    // once they run out (2 s) and follows their logs.
    first.kill();
    for i in 0..4 {
        append(&env.path(&format!("logs/{i}.log")), 5..10);
    }
    wait_for("the survivor runs every source", || {
        running(&second).len() == 4
    });
    wait_for("every new line stored", || stored(&env, &url).len() == 40);
    let ids = stored(&env, &url);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 40, "stored twice: {ids:?}");
}

/// A worker paused (SIGSTOP) past its leases' time loses its sources to the other; resumed
/// (SIGCONT), it stops running them, and whatever it tries to write of them is refused: each
/// line is stored once.
#[test]
fn a_paused_worker_loses_its_sources_and_writes_nothing_of_them_when_it_resumes() {
    let url = athena_store::postgres_testing::fresh_url();
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let mut config = format!("[store]\nurl = \"{url}\"\n\n[cluster]\nlease_ttl = \"1s\"\n");
    for i in 0..2 {
        append(&env.path(&format!("logs/{i}.log")), 0..5);
        config.push_str(&format!(
            "\n[[sources]]\nid = \"web{i}\"\ntype = \"api_log\"\npaths = [\"logs/{i}.log\"]\n"
        ));
    }
    env.write_config(&config);
    let mut first = Server::start(&env);
    wait_for("the first worker to run both sources", || {
        running(&first).len() == 2
    });
    let second = Server::start(&env);
    wait_for("one source each", || {
        running(&first).len() == 1 && running(&second).len() == 1
    });
    wait_for("every line stored", || stored(&env, &url).len() == 10);
    let paused = running(&first)[0].clone();

    first.signal(libc::SIGSTOP);
    let log = env.path(&format!("logs/{}.log", &paused[3..]));
    append(&log, 5..10);
    wait_for("the other worker to take the paused one's source", || {
        running(&second).len() == 2
    });
    wait_for("the new lines stored", || stored(&env, &url).len() == 15);
    first.signal(libc::SIGCONT);
    // Resumed, its watch sees the lines appended meanwhile, and more.
    append(&log, 10..15);
    wait_for("the resumed worker to run none", || {
        running(&first).is_empty()
    });
    wait_for("the last lines stored", || stored(&env, &url).len() == 20);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ids = stored(&env, &url);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (20, 20), "{ids:?}");
    let (_, stderr, _) = first.terminate();
    // If it did try to write before it learnt of the takeover, the store refused it.
    if stderr.contains(&format!("source {paused}")) && stderr.contains("storing a batch") {
        assert!(stderr.contains("lease was taken over"), "{stderr}");
    }
}

/// The scenario: three workers and twelve sources (six git repositories, six logs
/// being appended to). One worker is killed, another paused past its leases and resumed; at
/// the end the shared store holds exactly what one SQLite sync of the same sources stores,
/// event for event.
#[test]
fn three_workers_twelve_sources_a_kill_and_a_pause_end_as_one_sqlite_sync() {
    let url = athena_store::postgres_testing::fresh_url();
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let mut sources = String::new();
    for i in 0..6 {
        let repo = env.path(&format!("repo{i}"));
        init_repo(&repo);
        for c in 0..3 {
            commit_files(&repo, &format!("r{i} c{c}"), &[(&format!("f{c}"), b"x\n")]);
        }
        append(&env.path(&format!("logs/{i}.log")), 0..10);
        sources.push_str(&format!(
            "\n[[sources]]\nid = \"git{i}\"\ntype = \"git\"\npath = \"repo{i}\"\nschedule = \"1s\"\n\
             \n[[sources]]\nid = \"web{i}\"\ntype = \"api_log\"\npaths = [\"logs/{i}.log\"]\n"
        ));
    }
    env.write_config(&format!(
        "[store]\nurl = \"{url}\"\n\n[cluster]\nlease_ttl = \"2s\"\n{sources}"
    ));
    let mut workers: Vec<Server> = (0..3).map(|_| Server::start(&env)).collect();
    wait_for("the twelve sources divided four, four and four", || {
        workers.iter().all(|w| running(w).len() == 4)
    });
    wait_for("everything stored", || {
        stored(&env, &url).len() == 6 * 3 + 6 * 10
    });

    // One dies, one pauses past its leases; meanwhile the sources grow.
    workers[0].kill();
    workers[1].signal(libc::SIGSTOP);
    for i in 0..6 {
        commit_files(
            &env.path(&format!("repo{i}")),
            &format!("r{i} c3"),
            &[("f3", b"y\n")],
        );
        append(&env.path(&format!("logs/{i}.log")), 10..20);
    }
    wait_for("the one left to run every source", || {
        running(&workers[2]).len() == 12
    });
    workers[1].signal(libc::SIGCONT);
    wait_for("everything new stored", || {
        stored(&env, &url).len() == 6 * 4 + 6 * 20
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    for w in &mut workers[1..] {
        w.terminate();
    }

    // The same sources into SQLite by one process.
    let single = TestEnv::new();
    for i in 0..6 {
        std::fs::rename(
            env.path(&format!("repo{i}")),
            single.path(&format!("repo{i}")),
        )
        .unwrap();
    }
    std::fs::rename(env.path("logs"), single.path("logs")).unwrap();
    single.write_config(&sources);
    let (run, _) = single.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    let shared: BTreeSet<String> = stored(&env, &url).into_iter().collect();
    let alone: BTreeSet<String> = stored(&single, single.db().to_str().unwrap())
        .into_iter()
        .collect();
    assert_eq!(shared.len(), 6 * 4 + 6 * 20);
    assert_eq!(shared, alone);
}

/// PostgreSQL restarted (`pg_ctl restart`) while two workers follow four growing logs: the
/// workers connect again and go on, and every line appended before, during and after the
/// restart is stored exactly once.
#[test]
fn workers_go_on_after_postgres_restarts_under_load_and_lose_nothing() {
    let server = athena_store::postgres_testing::PrivateServer::start();
    let url = server.url();
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let mut config = format!("[store]\nurl = \"{url}\"\n\n[cluster]\nlease_ttl = \"2s\"\n");
    for i in 0..4 {
        append(&env.path(&format!("logs/{i}.log")), 0..0);
        config.push_str(&format!(
            "\n[[sources]]\nid = \"web{i}\"\ntype = \"api_log\"\npaths = [\"logs/{i}.log\"]\n"
        ));
    }
    env.write_config(&config);
    let mut first = Server::start(&env);
    let mut second = Server::start(&env);
    wait_for("the sources divided", || {
        running(&first).len() + running(&second).len() == 4
    });
    // A writer appends to every log, 20 lines at a time, all through the restart.
    let rounds = 30;
    let appender = {
        let logs: Vec<_> = (0..4).map(|i| env.path(&format!("logs/{i}.log"))).collect();
        std::thread::spawn(move || {
            for round in 0..rounds {
                for log in &logs {
                    append(log, round * 20..(round + 1) * 20);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    wait_for("some lines stored", || stored(&env, &url).len() >= 200);
    server.restart();
    let after_restart = stored(&env, &url).len();
    appender.join().unwrap();
    let total = 4 * rounds * 20;
    assert!(after_restart < total, "the restart came after the load");
    wait_for_long("every line stored", || stored(&env, &url).len() >= total);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ids = stored(&env, &url);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (total, total));
    // Both workers are still up and hold the sources between them.
    wait_for("both workers ready", || {
        first.must_get("/readyz").status == 200 && second.must_get("/readyz").status == 200
    });
    assert_eq!(running(&first).len() + running(&second).len(), 4);
    // The restart was felt: a worker found the server gone and said so.
    let (_, a, _) = first.terminate();
    let (_, b, _) = second.terminate();
    // (Refused while it shuts down, or not there at all, or a connection cut.)
    let felt = |log: &str| {
        [
            "the database system is shutting down",
            "error connecting to server",
            "connection closed",
        ]
        .iter()
        .any(|sign| log.contains(sign))
    };
    assert!(felt(&a) || felt(&b), "{a}\n{b}");
}

/// [`wait_for`], for what a worker's backoff after lost connections may delay: 60 s.
fn wait_for_long(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
