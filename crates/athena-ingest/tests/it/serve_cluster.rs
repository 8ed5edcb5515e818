//! `serve` workers sharing a PostgreSQL store (`[store] url`): they divide the sources by
//! leases, each running its share, and the survivors take over the sources of a worker that
//! died once its leases run out; nothing is stored twice.

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
fn workers_share_the_sources_and_take_over_those_of_a_dead_one() {
    let url = athena_store::postgres_testing::fresh_url();
    let env = TestEnv::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let mut config = format!("[store]\nurl = \"{url}\"\n\n[cluster]\nlease_ttl = \"2s\"\n");
    for i in 0..4 {
        append(&env.path(&format!("logs/{i}.log")), 0..5);
        config.push_str(&format!(
            "\n[[sources]]\nid = \"web{i}\"\ntype = \"api_log\"\npaths = [\"logs/{i}.log\"]\n"
        ));
    }
    env.write_config(&config);
    let mut first = Server::start(&env);
    let second = Server::start(&env);
    // Each settles on its share: two sources each, all four run once.
    wait_for("the sources divided two and two", || {
        let (a, b) = (running(&first), running(&second));
        let all: BTreeSet<&String> = a.iter().chain(&b).collect();
        a.len() == 2 && b.len() == 2 && all.len() == 4
    });
    wait_for("every line stored", || stored(&env, &url).len() == 20);

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
