//! The `slack` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake Slack.

use athena_core::memory::SharedMemoryStore;
use athena_core::SourceStatusKind;

use super::fake::{msg, ts, FakeSlack, TOKEN};
use crate::synced::sync;

fn config(url: &str) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("api_url".into(), format!("{url}/api").into());
    table.insert("token".into(), TOKEN.into());
    table
}

/// (kind, id) of the events stored since the first `from`, in storage order.
fn stored(store: &SharedMemoryStore, from: usize) -> Vec<(String, String)> {
    store.with(|s| {
        s.events[from..]
            .iter()
            .map(|e| (e.kind.clone(), e.id.clone()))
            .collect()
    })
}

#[tokio::test]
async fn a_full_sync_pages_channels_and_threads_then_an_incremental_one_reads_only_what_is_new() {
    let fake = FakeSlack::new();
    // Three channels and a three-message thread: more than a page of each (the fake's pages
    // of channels and replies hold two).
    fake.channel("C1", "general", None);
    fake.channel("C2", "random", None);
    fake.channel("C3", "ops", None);
    for i in 1..=4 {
        fake.post("C1", msg(i, "U1", &format!("general {i}")));
    }
    fake.post("C3", msg(10, "U2", "ops 1"));
    fake.reply("C1", 2, 20, "U2", "first reply");
    fake.reply("C1", 2, 21, "U1", "second reply");
    let server = fake.start();
    let store = SharedMemoryStore::new();

    let report = sync(&store, "sl", "slack", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let mut first = stored(&store, 0);
    first.sort();
    let message = |c: &str, m: u64| ("message".to_string(), format!("{c}:{}", ts(m)));
    let reply = |m: u64| ("thread_reply".to_string(), format!("C1:{}", ts(m)));
    assert_eq!(
        first,
        [
            message("C1", 1),
            message("C1", 2),
            message("C1", 3),
            message("C1", 4),
            message("C3", 10),
            reply(20),
            reply(21),
        ]
    );
    store.with(|s| {
        let e = s.events.iter().find(|e| e.id == format!("C1:{}", ts(20)));
        let e = e.expect("the first reply");
        assert_eq!(e.actor.as_deref(), Some("bob"), "users made readable");
        assert_eq!(e.context["thread_ts"], ts(2), "{:?}", e.context);
    });
    let cursor = store.with(|s| s.cursors["sl"].as_json().clone());
    assert_eq!(cursor["channels"]["C1"]["latest"], ts(4), "{cursor}");
    assert_eq!(cursor["channels"]["C3"]["latest"], ts(10), "{cursor}");

    // A new message and a late reply: only they are stored, and C1's cursor moves on.
    fake.post("C1", msg(30, "U2", "general 5"));
    fake.reply("C1", 2, 31, "U2", "late reply");
    let n = store.with(|s| s.events.len());
    let report = sync(&store, "sl", "slack", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let mut new = stored(&store, n);
    new.sort();
    assert_eq!(new, [message("C1", 30), reply(31)]);
    let cursor = store.with(|s| s.cursors["sl"].as_json().clone());
    assert_eq!(cursor["channels"]["C1"]["latest"], ts(30), "{cursor}");
}
