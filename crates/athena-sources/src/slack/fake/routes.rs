//! What the fake Slack answers, by Web API method: `auth.test`, `conversations.list`,
//! `conversations.history`, `conversations.replies` and `users.info`, each paged by
//! `next_cursor` where Slack pages.

use athena_http::testing::{paging, Routes, TestRequest, TestResponse};
use serde_json::{json, Value};

use super::{Workspace, TOKEN};

/// Slack's most messages a page, whatever the `limit` asked for.
const HISTORY_PAGE: usize = 50;

/// Channels and replies come two a page, whatever the `limit`: servers may send fewer than
/// asked, and small pages make paging visible in small tests.
const SMALL_PAGE: usize = 2;

impl Routes for Workspace {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        (!r.has_bearer(TOKEN)).then(|| err("invalid_auth"))
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        match r.path().trim_start_matches("/api/") {
            "auth.test" => ok(json!({"team": "T", "user": "bot"})),
            "conversations.list" => self.list(r),
            "conversations.history" => self.history(r),
            "conversations.replies" => self.replies(r),
            "users.info" => self.user(r),
            _ => err("unknown_method"),
        }
    }
}

impl Workspace {
    fn list(&self, r: &TestRequest) -> TestResponse {
        let all: Vec<Value> = self
            .channels
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "is_channel": true, "is_member": true}))
            .collect();
        let page = paging::by_token(&all, r.query("cursor").as_deref(), SMALL_PAGE);
        ok(json!({"channels": page.items,
                  "response_metadata": {"next_cursor": page.next.unwrap_or_default()}}))
    }

    /// A channel's messages newer than `oldest`, newest first.
    fn history(&self, r: &TestRequest) -> TestResponse {
        let channel = r.query("channel").unwrap_or_default();
        let Some(found) = self.channels.iter().find(|c| c.id == channel) else {
            return err("channel_not_found");
        };
        if let Some(e) = found.error {
            return err(e);
        }
        let oldest = r.query("oldest").map_or(0.0, |o| number(&o));
        let mut items: Vec<Value> = self
            .history
            .get(&channel)
            .into_iter()
            .flatten()
            .filter(|m| ts_of(m) > oldest)
            .cloned()
            .collect();
        items.sort_by(|a, b| ts_of(b).total_cmp(&ts_of(a)));
        let limit: usize = r.query("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
        messages(&items, r, limit.min(HISTORY_PAGE))
    }

    /// A thread: its parent, then its replies.
    fn replies(&self, r: &TestRequest) -> TestResponse {
        let channel = r.query("channel").unwrap_or_default();
        let thread = r.query("ts").unwrap_or_default();
        let parent = self
            .history
            .get(&channel)
            .and_then(|h| h.iter().find(|m| m["ts"] == thread.as_str()).cloned());
        let Some(parent) = parent else {
            return err("thread_not_found");
        };
        let mut all = vec![parent];
        all.extend(
            self.replies
                .get(&(channel, thread))
                .cloned()
                .unwrap_or_default(),
        );
        messages(&all, r, SMALL_PAGE)
    }

    fn user(&self, r: &TestRequest) -> TestResponse {
        let id = r.query("user").unwrap_or_default();
        match self.users.get(&id) {
            Some(name) => ok(json!({"user": {"id": id, "name": name.to_lowercase(),
                "profile": {"display_name": name, "real_name": format!("{name} Real"),
                    "email": format!("{}@example.com", name.to_lowercase())}}})),
            None => err("user_not_found"),
        }
    }
}

/// The page of `items` the request's `cursor` starts, as history and replies answer.
fn messages(items: &[Value], r: &TestRequest, size: usize) -> TestResponse {
    let page = paging::by_token(items, r.query("cursor").as_deref(), size);
    ok(
        json!({"messages": page.items, "has_more": page.next.is_some(),
              "response_metadata": {"next_cursor": page.next.unwrap_or_default()}}),
    )
}

fn ok(mut body: Value) -> TestResponse {
    body["ok"] = json!(true);
    TestResponse::json(200, &body)
}

/// Slack's errors come in `200`s.
fn err(error: &str) -> TestResponse {
    TestResponse::json(200, &json!({"ok": false, "error": error}))
}

fn ts_of(m: &Value) -> f64 {
    number(m["ts"].as_str().unwrap_or("0"))
}

/// A `ts` as a number; the fake's own are always numbers.
fn number(ts: &str) -> f64 {
    ts.parse().unwrap_or(0.0)
}
