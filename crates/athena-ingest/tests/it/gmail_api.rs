//! The gmail source through the CLI against athena-sources' fake Gmail API, which serves
//! Google's documented shapes: `users/me/profile`, `messages` listed per label and paged by
//! `nextPageToken`, each message by id, `history` from a `startHistoryId` (404 once it
//! expired), Google's error JSON, and its own OAuth token endpoint for the refresh-token grant.

use std::time::Duration;

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::gmail::fake::{
    message_id, rate_limit_403, rate_limit_429, FakeGmail, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
};
use serde_json::Value;

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    let url = server.url();
    format!(
        "[[sources]]\nid = \"gm\"\ntype = \"gmail\"\napi_url = \"{url}/gmail/v1\"\ntoken_uri = \"{url}/token\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"${{GMAIL_TEST_SECRET}}\"\nrefresh_token = \"${{GMAIL_TEST_REFRESH}}\"\nretry_delay_ms = 20\n{extra}\n"
    )
}

const VARS: [(&str, &str); 2] = [
    ("GMAIL_TEST_SECRET", CLIENT_SECRET),
    ("GMAIL_TEST_REFRESH", REFRESH_TOKEN),
];

fn sync(env: &TestEnv) -> (Run, Value) {
    env.sync_json_with(&[], &VARS)
}

/// (kind, id) of stored events, in storage order.
fn stored(env: &TestEnv) -> Vec<(String, String)> {
    env.kinds_and_ids("gm")
}

/// `received` messages from others (every fifth a reply in thread 1), then 10 sent, 2 drafts.
fn populate(fake: &FakeGmail, received: u64) {
    for n in 1..=received {
        let thread = (n % 5 == 0).then_some(1);
        fake.receive(
            n,
            n,
            &format!("P{n} <p{n}@example.com>"),
            &format!("about {n}"),
            thread,
        );
    }
    for n in 0..10 {
        let m = received + 1 + n;
        fake.send(m, m, "team@example.com", &format!("sent {n}"), Some(2));
    }
    fake.draft(received + 20, received + 20, "draft a");
    fake.draft(received + 21, received + 21, "draft b");
}

#[test]
fn first_sync_then_history_then_an_expired_history_resyncs_without_duplicates() {
    let fake = FakeGmail::new();
    populate(&fake, 30);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));

    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let events = stored(&env);
    assert_eq!(
        (
            count(&events, "email_received"),
            count(&events, "email_sent")
        ),
        (30, 10),
        "{json}"
    );
    assert_eq!(json["sources"][0]["events_written"], 40);
    let (actor, thread): (String, String) = env
        .store()
        .query_row(
            "SELECT actor, json_extract(context, '$.thread_id') FROM events WHERE id = ?1",
            [format!("message:{}", message_id(10))],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (actor.as_str(), thread),
        ("P10 <p10@example.com>", message_id(1))
    );
    let cursor = env.cursor("gm").unwrap();
    assert_eq!(cursor["phase"], "history", "{cursor}");
    assert_eq!(cursor["history_id"], fake.history_id().to_string());

    // Nothing new: one profile, one history page, nothing written.
    server.clear_requests();
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert!(paths.iter().all(|p| !p.ends_with("/messages")), "{paths:?}");

    // New mail, a deletion, a user label: only those.
    let new = fake.receive(100, 100, "Zed <z@example.com>", "new", None);
    fake.delete(&message_id(7));
    fake.label(&message_id(8), true, &["Label_42"]);
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 3, "{json}");
    let events = stored(&env);
    assert_eq!(
        events[events.len() - 3..]
            .iter()
            .filter(|(k, _)| k == "email_received")
            .count(),
        1
    );
    assert!(events.contains(&("email_received".into(), format!("message:{new}"))));
    assert!(events.contains(&(
        "email_deleted".into(),
        format!("message:{}:deleted", message_id(7))
    )));
    assert_eq!(count(&events, "email_labels_changed"), 1);

    // The history expires: a full listing, and only what is new is written.
    fake.receive(101, 101, "Zed <z@example.com>", "newer", None);
    fake.expire_history();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 1, "{json}");
    assert_eq!(
        s["duplicates"], 40,
        "the 40 still in the mailbox read again: {json}"
    );
    let ids = env.ids("gm");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (44, 44));
}

#[test]
fn rate_limits_5xx_and_a_refused_token_are_survived_and_errors_fail_without_secrets() {
    let fake = FakeGmail::new();
    populate(&fake, 12);
    fake.fault("/messages", rate_limit_403());
    fake.fault(&format!("/messages/{}", message_id(3)), rate_limit_429());
    fake.fault(
        &format!("/messages/{}", message_id(4)),
        TestResponse::text(502, "bad gateway"),
    );
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["events_written"], 22, "{json}");
    assert_eq!(
        (s["rate_limit_waits"].as_u64(), s["retries"].as_u64()),
        (Some(2), Some(1)),
        "{json}"
    );

    // The access token is refused mid-run: the 401 gets a new one, once.
    let before = fake.tokens_issued();
    fake.fault(
        "/history",
        TestResponse::json(
            401,
            &serde_json::json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
        ),
    );
    fake.receive(50, 50, "Late <l@example.com>", "late", None);
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 1, "{json}");
    assert_eq!(
        fake.tokens_issued(),
        before + 2,
        "a token per run, one more after the 401"
    );

    // Refused again with the new token: unauthorized, nothing secret shown.
    for _ in 0..2 {
        fake.fault(
            "/profile",
            TestResponse::json(
                401,
                &serde_json::json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
            ),
        );
    }
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert_eq!(json["sources"][0]["error_kind"], "unauthorized", "{json}");
    assert!(
        run.stderr()
            .contains("Google rejected the credentials for source gm"),
        "{}",
        run.describe()
    );
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "ya29."] {
        assert!(!run.describe().contains(secret), "{secret} shown");
    }

    // A wrong refresh token: the token endpoint's refusal, the token not shown.
    let (run, json) = env.sync_json_with(
        &[],
        &[
            ("GMAIL_TEST_SECRET", CLIENT_SECRET),
            ("GMAIL_TEST_REFRESH", "1//wrong-refresh-token"),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(json["sources"][0]["error"].is_string(), "{json}");
    assert!(!run.describe().contains("1//wrong-refresh-token"));

    // A 5xx that stays: the source fails naming the URL, what was stored is kept.
    for _ in 0..3 {
        fake.fault("/history", TestResponse::text(500, "backend error"));
    }
    let env2 = TestEnv::new();
    env2.write_config(&config(&server, "max_retries = 2"));
    let (run, json) = sync(&env2);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("/gmail/v1/users/me/history?") && error.contains("500"),
        "{error}"
    );
    assert_eq!(
        stored(&env2).len(),
        23,
        "the listing was stored before the history failed"
    );
    let (run, _) = sync(&env2);
    assert_eq!(run.code(), 0, "{}", run.describe());

    // Nor in the most verbose logs, nor in the store.
    let mut cmd = env.cmd(&["-vvv", "sync"]);
    for (k, v) in VARS {
        cmd.env(k, v);
    }
    let run = Run(cmd.output().unwrap());
    assert_eq!(run.code(), 0, "{}", run.describe());
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "ya29."] {
        assert!(!run.describe().contains(secret), "{secret} logged");
        assert!(!env.store_text().contains(secret), "{secret} stored");
    }
}

#[test]
fn sigkill_mid_sync_then_resume_stores_exactly_the_uninterrupted_events() {
    let fake = FakeGmail::new();
    populate(&fake, 60);
    fake.set_delay(Duration::from_millis(10));
    let server = fake.start();
    assert_kill_safe(
        &config(&server, "batch_size = 4"),
        "gm",
        &VARS,
        |full, rng| full / 6 + rng.below(full * 2 / 3),
    );
}

#[test]
fn three_thousand_messages_in_bounded_memory() {
    // A first sync of 30 messages sets the baseline: the binary, the runtime, the store.
    let small = FakeGmail::new();
    small.set_page_size(100);
    small.generate(30);
    let small_server = small.start();
    let env = TestEnv::new();
    env.write_config(&config(&small_server, ""));
    let (run, json, baseline_kib) = env.sync_json_rss_kib(&VARS);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 30, "{json}");
    let baseline_mib = baseline_kib / 1024;

    // Pages of 100 ids, as the source asks: 30 listings, 3,000 messages read one by one.
    let fake = FakeGmail::new();
    fake.set_page_size(100);
    fake.generate(3000);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json, rss_kib) = env.sync_json_rss_kib(&VARS);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 3000, "{json}");
    let events = stored(&env);
    assert_eq!(
        (
            count(&events, "email_received"),
            count(&events, "email_sent")
        ),
        (2700, 300)
    );
    // Each child's own peak: other tests' children running alongside leave it be.
    let rss_mib = rss_kib / 1024;
    eprintln!("peak RSS: {baseline_mib} MiB for 30 messages, {rss_mib} MiB for 3,000");
    assert!(
        rss_mib < baseline_mib + 16,
        "3,000 messages took {rss_mib} MiB, 30 took {baseline_mib} MiB"
    );
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
}
