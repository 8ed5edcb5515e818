//! The slack source against a local fake of Slack's Web API, serving its documented shapes:
//! `{"ok": true, …}` answers, `response_metadata.next_cursor` paging, `oldest` on history,
//! threads through `conversations.replies`, `users.info`, `ok: false` errors in `200`s, and 429
//! with `Retry-After`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use athena_http::testing::{TestRequest, TestResponse, TestServer};
use serde_json::{json, Value};

use crate::support::*;

const TOKEN: &str = "xoxb-test-0123456789-secret";

#[derive(Default)]
struct Data {
    /// (id, name, is_member, answers history with this error)
    channels: Vec<(String, String, bool, Option<&'static str>)>,
    /// channel → messages (any order).
    history: BTreeMap<String, Vec<Value>>,
    /// (channel, thread ts) → replies, parent excluded.
    replies: BTreeMap<(String, String), Vec<Value>>,
    users: BTreeMap<String, String>,
    faults: VecDeque<(String, TestResponse)>,
    delay: Duration,
}

#[derive(Clone)]
struct FakeSlack {
    data: Arc<Mutex<Data>>,
}

/// A `ts` `minutes` after two days ago (inside the default 7-day lookback).
fn ts(minutes: u64) -> String {
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        * 3600
        - 2 * 86_400;
    format!("{}.{:06}", base + minutes * 60, minutes % 1000)
}

fn msg(minutes: u64, user: &str, text: &str) -> Value {
    json!({"type": "message", "user": user, "text": text, "ts": ts(minutes),
           "client_msg_id": format!("m{minutes}")})
}

/// A page of `items` from `cursor` (an offset), and the next cursor.
fn page(items: &[Value], cursor: Option<String>, size: usize) -> (Vec<Value>, String) {
    let from: usize = cursor
        .and_then(|c| c.strip_prefix("off:").map(|n| n.parse().unwrap()))
        .unwrap_or(0);
    let chunk: Vec<Value> = items.iter().skip(from).take(size).cloned().collect();
    let next = if from + size < items.len() {
        format!("off:{}", from + size)
    } else {
        String::new()
    };
    (chunk, next)
}

impl FakeSlack {
    fn new() -> Self {
        let data = Data {
            users: [("U1", "ann"), ("U2", "bob")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Data::default()
        };
        FakeSlack {
            data: Arc::new(Mutex::new(data)),
        }
    }

    fn channel(&self, id: &str, name: &str, error: Option<&'static str>) {
        self.data
            .lock()
            .unwrap()
            .channels
            .push((id.into(), name.into(), true, error));
    }

    fn post(&self, channel: &str, m: Value) {
        self.data
            .lock()
            .unwrap()
            .history
            .entry(channel.into())
            .or_default()
            .push(m);
    }

    /// Changes the stored message `minutes` of `channel`.
    fn edit(&self, channel: &str, minutes: u64, f: impl FnOnce(&mut Value)) {
        let mut d = self.data.lock().unwrap();
        let m = d
            .history
            .get_mut(channel)
            .unwrap()
            .iter_mut()
            .find(|m| m["ts"] == ts(minutes))
            .unwrap();
        f(m);
    }

    fn reply(&self, channel: &str, parent: u64, minutes: u64, user: &str, text: &str) {
        let mut r = msg(minutes, user, text);
        r["thread_ts"] = json!(ts(parent));
        r["parent_user_id"] = json!("U1");
        let key = (channel.to_string(), ts(parent));
        let count = {
            let mut d = self.data.lock().unwrap();
            let list = d.replies.entry(key).or_default();
            list.push(r);
            list.len()
        };
        self.edit(channel, parent, |m| {
            m["thread_ts"] = json!(ts(parent));
            m["reply_count"] = json!(count);
            m["latest_reply"] = json!(ts(minutes));
        });
    }

    fn fault(&self, method: &str, response: TestResponse) {
        self.data
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), response));
    }

    fn start(&self) -> TestServer {
        let fake = self.clone();
        TestServer::start(move |r| fake.answer(r))
    }

    fn answer(&self, r: &TestRequest) -> TestResponse {
        let delay = self.data.lock().unwrap().delay;
        std::thread::sleep(delay);
        let mut d = self.data.lock().unwrap();
        let ok = |v: Value| {
            let mut v = v;
            v["ok"] = json!(true);
            TestResponse::json(200, &v)
        };
        let err = |e: &str| TestResponse::json(200, &json!({"ok": false, "error": e}));
        if r.header("authorization") != Some(&format!("Bearer {TOKEN}")[..]) {
            return err("invalid_auth");
        }
        let method = r.path().trim_start_matches("/api/").to_string();
        if let Some(i) = d.faults.iter().position(|(m, _)| *m == method) {
            return d.faults.remove(i).unwrap().1;
        }
        match method.as_str() {
            "auth.test" => ok(json!({"team": "T", "user": "bot"})),
            "conversations.list" => {
                let all: Vec<Value> = d
                    .channels
                    .iter()
                    .map(|(id, name, member, _)| json!({"id": id, "name": name, "is_channel": true, "is_member": member}))
                    .collect();
                // Two a page, whatever the limit: servers may send fewer than asked.
                let (chunk, next) = page(&all, r.query("cursor"), 2);
                ok(json!({"channels": chunk, "response_metadata": {"next_cursor": next}}))
            }
            "conversations.history" => {
                let channel = r.query("channel").unwrap_or_default();
                let Some((_, _, _, error)) = d.channels.iter().find(|c| c.0 == channel) else {
                    return err("channel_not_found");
                };
                if let Some(e) = error {
                    return err(e);
                }
                let oldest = r.query("oldest").unwrap_or_else(|| "0".into());
                let as_num = |s: &str| s.parse::<f64>().unwrap();
                let mut items: Vec<Value> = d
                    .history
                    .get(&channel)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| as_num(m["ts"].as_str().unwrap()) > as_num(&oldest))
                    .collect();
                items.sort_by(|a, b| {
                    as_num(b["ts"].as_str().unwrap()).total_cmp(&as_num(a["ts"].as_str().unwrap()))
                });
                let limit: usize = r.query("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
                let (chunk, next) = page(&items, r.query("cursor"), limit.min(50));
                ok(json!({"messages": chunk, "has_more": !next.is_empty(),
                          "response_metadata": {"next_cursor": next}}))
            }
            "conversations.replies" => {
                let channel = r.query("channel").unwrap_or_default();
                let thread = r.query("ts").unwrap_or_default();
                let parent = d
                    .history
                    .get(&channel)
                    .and_then(|h| h.iter().find(|m| m["ts"] == json!(thread)).cloned());
                let Some(parent) = parent else {
                    return err("thread_not_found");
                };
                let mut all = vec![parent];
                all.extend(
                    d.replies
                        .get(&(channel, thread))
                        .cloned()
                        .unwrap_or_default(),
                );
                let (chunk, next) = page(&all, r.query("cursor"), 2);
                ok(json!({"messages": chunk, "has_more": !next.is_empty(),
                          "response_metadata": {"next_cursor": next}}))
            }
            "users.info" => {
                let id = r.query("user").unwrap_or_default();
                match d.users.get(&id) {
                    Some(name) => ok(json!({"user": {"id": id, "name": name.to_lowercase(),
                        "profile": {"display_name": name, "real_name": format!("{name} Real")}}})),
                    None => err("user_not_found"),
                }
            }
            _ => err("unknown_method"),
        }
    }
}

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"sl\"\ntype = \"slack\"\napi_url = \"{}/api\"\ntoken = \"${{SLACK_TEST_TOKEN}}\"\nretry_delay_ms = 20\n{extra}\n",
        server.url()
    )
}

fn sync_with(env: &TestEnv, token: &str, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["sync", "--format", "json"];
    all.extend_from_slice(args);
    let run = Run(env
        .cmd(&all)
        .env("SLACK_TEST_TOKEN", token)
        .output()
        .unwrap());
    let json = serde_json::from_str(run.stdout().trim())
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}", run.describe()));
    (run, json)
}

fn sync(env: &TestEnv) -> (Run, Value) {
    sync_with(env, TOKEN, &[])
}

/// (kind, id) of stored events, in storage order.
fn stored(env: &TestEnv) -> Vec<(String, String)> {
    let c = env.store();
    let mut s = c
        .prepare("SELECT kind, id FROM events WHERE source_id = 'sl' ORDER BY seq")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
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
    let dump: String = {
        let c = env.store();
        let mut s = c
            .prepare("SELECT id || title || body || context || metadata FROM events UNION ALL SELECT cursor FROM cursors UNION ALL SELECT coalesce(error, '') FROM source_runs")
            .unwrap();
        s.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
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
    fake.data.lock().unwrap().delay = Duration::from_millis(40);
    let server = fake.start();
    // Channels are stored one after the other, each once read: kill in the later part.
    assert_kill_safe(
        &config(&server, "batch_size = 5\nlookback = \"1m\""),
        "sl",
        &[("SLACK_TEST_TOKEN", TOKEN)],
        |full, rng| full / 3 + rng.below(full * 2 / 3),
    );
}
