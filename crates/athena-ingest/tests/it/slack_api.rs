//! The slack source through the CLI against athena-sources' fake of Slack's Web API, which
//! serves its documented shapes: `{"ok": true, …}` answers, `response_metadata.next_cursor`
//! paging, `oldest` on history, threads through `conversations.replies`, `users.info`,
//! `ok: false` errors in `200`s, and 429 with `Retry-After`.

use std::collections::BTreeSet;
use std::time::Duration;

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::slack::fake::{msg, ts, FakeSlack, TOKEN};
use serde_json::{json, Value};

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"sl\"\ntype = \"slack\"\napi_url = \"{}/api\"\ntoken = \"${{SLACK_TEST_TOKEN}}\"\nretry_delay_ms = 20\n{extra}\n",
        server.url()
    )
}

fn sync_with(env: &TestEnv, token: &str, args: &[&str]) -> (Run, Value) {
    env.sync_json_with(args, &[("SLACK_TEST_TOKEN", token)])
}

fn sync(env: &TestEnv) -> (Run, Value) {
    sync_with(env, TOKEN, &[])
}

/// (kind, id) of stored events, in storage order.
fn stored(env: &TestEnv) -> Vec<(String, String)> {
    env.kinds_and_ids("sl")
}

fn populate(fake: &FakeSlack) {
    fake.channel("C1", "general", None);
    fake.channel("C2", "random", None);
    for i in 1..=120 {
        let user = if i % 2 == 0 { "U1" } else { "U2" };
        fake.post("C1", msg(i, user, &format!("general message {i}")));
    }
    fake.edit("C1", 7, |m| {
        m["text"] = json!("ping <@U2>, see <#C2> and <https://example.com|the doc> &amp; more")
    });
    fake.reply("C1", 5, 200, "U2", "first reply");
    fake.reply("C1", 5, 201, "U1", "second reply");
    for i in 1..=10 {
        fake.post("C2", msg(300 + i, "U1", &format!("random message {i}")));
    }
    let mut bot = msg(400, "U1", "deployed v1.2");
    bot.as_object_mut().unwrap().remove("user");
    bot["subtype"] = json!("bot_message");
    bot["bot_id"] = json!("B1");
    bot["username"] = json!("deploybot");
    fake.post("C2", bot);
}

#[test]
fn messages_threads_then_replies_edits_and_reactions_arriving_later() {
    let fake = FakeSlack::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));

    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let events = stored(&env);
    let count = |kind: &str| events.iter().filter(|(k, _)| k == kind).count();
    assert_eq!(
        (count("message"), count("thread_reply")),
        (131, 2),
        "{json}"
    );
    assert_eq!(events.len(), 133);
    let ids: BTreeSet<&str> = events.iter().map(|(_, i)| i.as_str()).collect();
    assert!(ids.contains(format!("C1:{}", ts(200)).as_str()));

    // Readable text, the actor's display name, the user id and thread in context.
    let row = |id: String| -> (String, String, String) {
        env.store()
            .query_row(
                "SELECT actor, body, context FROM events WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let (actor, body, context) = row(format!("C1:{}", ts(7)));
    assert_eq!(actor, "bob");
    assert_eq!(
        body,
        "ping @bob, see #random and the doc (https://example.com) & more"
    );
    let context: Value = serde_json::from_str(&context).unwrap();
    assert_eq!(context["channel_name"], "general");
    assert_eq!(context["user_id"], "U2");
    let (actor, _, context) = row(format!("C1:{}", ts(200)));
    assert_eq!(actor, "bob");
    let context: Value = serde_json::from_str(&context).unwrap();
    assert_eq!(context["thread_ts"], ts(5));
    let (actor, _, _) = row(format!("C2:{}", ts(400)));
    assert_eq!(actor, "deploybot");
    assert_eq!(
        env.metadata("sl", &format!("C2:{}", ts(400)))["subtype"],
        "bot_message"
    );
    let cursor = env.cursor("sl").unwrap();
    assert_eq!(cursor["channels"]["C1"]["latest"], ts(120));
    assert_eq!(cursor["channels"]["C2"]["latest"], ts(400));

    // Nothing new: nothing written.
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
    assert_eq!(stored(&env).len(), 133);

    // Later: a reply to an old thread, an edit, a reaction, and a new message.
    fake.reply("C1", 5, 500, "U1", "late reply");
    fake.edit("C1", 8, |m| {
        m["text"] = json!("general message 8, corrected");
        m["edited"] = json!({"user": "U1", "ts": ts(501)});
    });
    fake.edit("C1", 9, |m| {
        m["reactions"] = json!([{"name": "tada", "users": ["U2"], "count": 1}])
    });
    fake.post("C1", msg(502, "U1", "new message"));
    let n = stored(&env).len();
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 4, "{json}");
    let mut new: Vec<(String, String)> = stored(&env)[n..].to_vec();
    new.sort();
    assert_eq!(
        new,
        vec![
            ("message".to_string(), format!("C1:{}", ts(502))),
            (
                "message_edited".to_string(),
                format!("C1:{}:edited:{}", ts(8), ts(501))
            ),
            (
                "reaction_added".to_string(),
                format!("C1:{}:reaction:tada:U2", ts(9))
            ),
            ("thread_reply".to_string(), format!("C1:{}", ts(500))),
        ]
    );
    let (actor, body, _) = row(format!("C1:{}:edited:{}", ts(8), ts(501)));
    assert_eq!(
        (actor.as_str(), body.as_str()),
        ("ann", "general message 8, corrected")
    );
    assert_eq!(
        env.cursor("sl").unwrap()["channels"]["C1"]["latest"],
        ts(502)
    );

    // And again nothing.
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0);
}

#[test]
fn rate_limits_are_waited_for_and_bad_channels_fail_alone() {
    let fake = FakeSlack::new();
    populate(&fake);
    fake.channel("C3", "secret", Some("not_in_channel"));
    fake.fault(
        "conversations.history",
        TestResponse::json(429, &json!({"ok": false, "error": "ratelimited"}))
            .header("Retry-After", "1"),
    );
    fake.fault(
        "users.info",
        TestResponse::json(200, &json!({"ok": false, "error": "ratelimited"}))
            .header("Retry-After", "1"),
    );
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(
        &server,
        "channels = [\"general\", \"#secret\", \"nope\", \"C2\"]",
    ));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["status"], "failed");
    assert_eq!(s["rate_limit_waits"], 2, "{json}");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("#secret (C3): not_in_channel"), "{error}");
    assert!(error.contains("#nope: channel_not_found"), "{error}");
    // The readable channels were stored all the same.
    assert_eq!(stored(&env).len(), 133);
}

#[test]
fn a_rejected_token_fails_at_once_and_the_token_is_never_shown() {
    let fake = FakeSlack::new();
    populate(&fake);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync_with(&env, "xoxb-wrong-token", &[]);
    assert_eq!(run.code(), 1);
    assert_eq!(json["sources"][0]["error_kind"], "unauthorized", "{json}");
    assert!(
        run.stderr()
            .contains("Slack rejected the token for source sl (invalid_auth"),
        "{}",
        run.describe()
    );
    assert_eq!(server.requests().len(), 1, "invalid_auth is not retried");
    assert!(!run.describe().contains("xoxb-wrong-token"));

    let run = Run(env
        .cmd(&["validate"])
        .env("SLACK_TEST_TOKEN", "xoxb-wrong-token")
        .output()
        .unwrap());
    assert_eq!(run.code(), 1);
    assert!(run.describe().contains("Slack rejected the token"));

    let run = Run(env
        .cmd(&["-vvv", "sync"])
        .env("SLACK_TEST_TOKEN", TOKEN)
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(!run.describe().contains(TOKEN));
    let dump = env.store_text();
    assert!(!dump.contains("xoxb-"));
}

#[test]
fn sigkill_mid_channel_then_resume_stores_exactly_the_uninterrupted_events() {
    let fake = FakeSlack::new();
    populate(&fake);
    for c in 0..4 {
        let id = format!("C{}", 10 + c);
        fake.channel(&id, &format!("team-{c}"), None);
        for i in 0..30 {
            fake.post(
                &id,
                msg(600 + c * 40 + i, "U1", &format!("team {c} message {i}")),
            );
        }
    }
    // Threads with many replies, and a lookback that does not reach them: a reply missed by
    // an interrupted sync would never be read again.
    for parent in [20u64, 60, 100] {
        for r in 0..6 {
            fake.reply(
                "C1",
                parent,
                700 + parent * 10 + r,
                "U2",
                &format!("reply {r} to {parent}"),
            );
        }
    }
    fake.set_delay(Duration::from_millis(40));
    let server = fake.start();
    // Channels are stored one after the other, each once read: kill in the later part.
    assert_kill_safe(
        &config(&server, "batch_size = 5\nlookback = \"1m\""),
        "sl",
        &[("SLACK_TEST_TOKEN", TOKEN)],
        |full, rng| full / 3 + rng.below(full * 2 / 3),
    );
}
