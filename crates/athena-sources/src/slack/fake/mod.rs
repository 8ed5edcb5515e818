//! A fake of Slack's Web API for tests (feature `test-server`): channels, their messages,
//! threads and users, which a test sets and changes between syncs, served in Slack's documented
//! shapes: `{"ok": true, …}` answers, `response_metadata.next_cursor` paging, `oldest` on
//! history, threads through `conversations.replies`, `users.info`, and `ok: false` errors in
//! `200`s (`invalid_auth` for a wrong token). Faults (429 with `Retry-After`, …) and delays come
//! from the kit, [`athena_http::testing::FakeApi`]; `routes` has what each method answers.

mod routes;

use std::collections::BTreeMap;
use std::ops::Deref;

use athena_http::testing::FakeApi;
use serde_json::{json, Value};

/// The token the fake accepts (`Authorization: Bearer …`).
pub const TOKEN: &str = "xoxb-test-0123456789-secret";

/// A channel of the fake workspace.
struct Channel {
    id: String,
    name: String,
    /// What `conversations.history` answers instead of messages (`not_in_channel`).
    error: Option<&'static str>,
}

/// The fake's workspace.
pub struct Workspace {
    channels: Vec<Channel>,
    /// Channel id → its messages, in any order.
    history: BTreeMap<String, Vec<Value>>,
    /// (channel id, thread ts) → the thread's replies, parent excluded.
    replies: BTreeMap<(String, String), Vec<Value>>,
    /// User id → name.
    users: BTreeMap<String, String>,
}

/// A fake Slack serving a [`Workspace`] with users `U1` (ann) and `U2` (bob); clones share it.
/// The kit's controls (`fault` by method name, `set_delay`, `start`, …) are reached through
/// `Deref`, so a test drives one object.
#[derive(Clone)]
pub struct FakeSlack {
    api: FakeApi<Workspace>,
}

impl Deref for FakeSlack {
    type Target = FakeApi<Workspace>;

    fn deref(&self) -> &FakeApi<Workspace> {
        &self.api
    }
}

impl Default for FakeSlack {
    fn default() -> Self {
        FakeSlack::new()
    }
}

/// A `ts` `minutes` after the hour two days ago (inside the source's default 7-day
/// lookback), with a distinct fraction.
pub fn ts(minutes: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = now / 3600 * 3600 - 2 * 86_400;
    format!("{}.{:06}", base + minutes * 60, minutes % 1000)
}

/// A message by `user` at `ts(minutes)`.
pub fn msg(minutes: u64, user: &str, text: &str) -> Value {
    json!({"type": "message", "user": user, "text": text, "ts": ts(minutes),
           "client_msg_id": format!("m{minutes}")})
}

impl FakeSlack {
    /// A workspace with two users and no channels.
    pub fn new() -> Self {
        let users = [("U1", "ann"), ("U2", "bob")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FakeSlack {
            api: FakeApi::new(Workspace {
                channels: Vec::new(),
                history: BTreeMap::new(),
                replies: BTreeMap::new(),
                users,
            }),
        }
    }

    /// Adds a channel the bot is a member of; with `error`, its history answers that error.
    pub fn channel(&self, id: &str, name: &str, error: Option<&'static str>) {
        self.with(|w| {
            w.channels.push(Channel {
                id: id.into(),
                name: name.into(),
                error,
            })
        });
    }

    /// Adds (or renames) a user: `users.info` answers `name` as display name and
    /// `<name>@example.com` as the profile's email.
    pub fn user(&self, id: &str, name: &str) {
        self.with(|w| {
            w.users.insert(id.into(), name.into());
        });
    }

    /// Posts a message to a channel.
    pub fn post(&self, channel: &str, m: Value) {
        self.with(|w| w.history.entry(channel.into()).or_default().push(m));
    }

    /// Changes the message posted at `ts(minutes)` in `channel`.
    ///
    /// # Panics
    /// When there is no such message: the test is wrong.
    pub fn edit(&self, channel: &str, minutes: u64, f: impl FnOnce(&mut Value)) {
        self.with(|w| {
            let m = w
                .history
                .get_mut(channel)
                .and_then(|h| h.iter_mut().find(|m| m["ts"] == ts(minutes)))
                .expect("no such message");
            f(m);
        });
    }

    /// A reply at `ts(minutes)` in the thread of the message at `ts(parent)`, which starts or
    /// grows the thread as Slack shows it on the parent (`reply_count`, `latest_reply`).
    pub fn reply(&self, channel: &str, parent: u64, minutes: u64, user: &str, text: &str) {
        let mut r = msg(minutes, user, text);
        r["thread_ts"] = json!(ts(parent));
        r["parent_user_id"] = json!("U1");
        let key = (channel.to_string(), ts(parent));
        let count = self.with(|w| {
            let list = w.replies.entry(key).or_default();
            list.push(r);
            list.len()
        });
        self.edit(channel, parent, |m| {
            m["thread_ts"] = json!(ts(parent));
            m["reply_count"] = json!(count);
            m["latest_reply"] = json!(ts(minutes));
        });
    }
}
