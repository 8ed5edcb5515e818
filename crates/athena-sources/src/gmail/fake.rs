//! A fake of the Gmail API v1 for tests (feature `test-server`), in Google's documented
//! shapes: `users/{user}/profile`, `users/{user}/messages` (one `labelIds`, a `from:` query,
//! newest first, paged by `nextPageToken`, `messages` left out when empty),
//! `users/{user}/messages/{id}` (`format=metadata` or `full` with a base64url text/plain part),
//! `users/{user}/history` (paged, the records up to the `historyId` of the read's first page, as
//! a listing taken then; 404 for a `startHistoryId` older than the history kept), and
//! its own OAuth token endpoint `/token` (the refresh-token grant), since every request needs a
//! bearer token it handed out. Errors are Google's JSON (`{"error":{"code":…,"errors":[{"reason":…}]}}`).
//! Faults and delays come from the kit, [`athena_http::testing::FakeApi`]; helpers here make
//! Google's rate-limit answers.

use std::ops::Deref;

use athena_http::testing::{paging, FakeApi, Routes, TestRequest, TestResponse};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::message::base64url_encode;

/// The OAuth client id the fake's token endpoint accepts.
pub const CLIENT_ID: &str = "1234-fake.apps.googleusercontent.com";
/// The OAuth client secret it accepts.
pub const CLIENT_SECRET: &str = "GOCSPX-fake-gmail-client-secret";
/// The refresh token it accepts.
pub const REFRESH_TOKEN: &str = "1//fake-gmail-refresh-token-0123456789";
/// The mailbox's address (until [`FakeGmail::set_email`]).
pub const EMAIL: &str = "me@example.com";

/// Message ids per page of the listing, whatever `maxResults` asks (small pages make paging
/// visible in small tests), until [`FakeGmail::set_page_size`].
const LIST_PAGE: usize = 7;
/// History records per page.
const HISTORY_PAGE: usize = 5;

/// A message of the fake mailbox.
#[derive(Clone)]
struct FakeMessage {
    id: String,
    thread: String,
    labels: Vec<String>,
    from: String,
    to: String,
    subject: String,
    body: String,
    minutes: u64,
}

/// The fake's mailbox, history and tokens.
#[derive(Default)]
pub struct Mailbox {
    messages: Vec<FakeMessage>,
    /// History records, oldest first, each with its id.
    history: Vec<(u64, Value)>,
    history_id: u64,
    /// Histories before this id are gone: a `startHistoryId` below it is a 404.
    kept_from: u64,
    /// The access token the API accepts now.
    token: String,
    /// The profile's address: another account's behind the same URL.
    email: String,
    /// A message received after the next history page with a next page is served.
    between_pages: Option<FakeMessage>,
    tokens_issued: u32,
    /// Message ids per page of the listing, at most.
    list_page: usize,
}

/// A fake Gmail serving a [`Mailbox`]; clones share it. The kit's controls (`fault` by path
/// end, `set_delay`, `start`, …) are reached through `Deref`.
#[derive(Clone)]
pub struct FakeGmail {
    api: FakeApi<Mailbox>,
}

impl Deref for FakeGmail {
    type Target = FakeApi<Mailbox>;

    fn deref(&self) -> &FakeApi<Mailbox> {
        &self.api
    }
}

impl Default for FakeGmail {
    fn default() -> Self {
        FakeGmail::new()
    }
}

/// The fake's times: `minutes` after 2024-03-01 00:00 UTC.
pub fn time(minutes: u64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(i64::try_from(minutes).unwrap_or(0))
}

/// Message `n`'s id, in Gmail's hex form.
pub fn message_id(n: u64) -> String {
    format!("18e{n:013x}")
}

/// Google's error answer with `status` and `reason`.
pub fn google_error(status: u16, reason: &str, message: &str) -> TestResponse {
    TestResponse::json(
        status,
        &json!({"error": {"code": status, "message": message,
            "errors": [{"message": message, "domain": "usageLimits", "reason": reason}],
            "status": if status == 429 { "RESOURCE_EXHAUSTED" } else { "PERMISSION_DENIED" }}}),
    )
}

/// Google's `403 rateLimitExceeded` (its message left out, so only the reason says it).
pub fn rate_limit_403() -> TestResponse {
    google_error(
        403,
        "rateLimitExceeded",
        "Quota exceeded for quota metric 'Queries'",
    )
}

/// Google's `429 RESOURCE_EXHAUSTED`.
pub fn rate_limit_429() -> TestResponse {
    google_error(
        429,
        "rateLimitExceeded",
        "Too many concurrent requests for user",
    )
}

impl FakeGmail {
    /// An empty mailbox at history id 1000.
    pub fn new() -> Self {
        FakeGmail {
            api: FakeApi::new(Mailbox {
                history_id: 1000,
                kept_from: 0,
                email: EMAIL.into(),
                list_page: LIST_PAGE,
                ..Mailbox::default()
            }),
        }
    }

    /// A message `n` from `from` in the inbox (unread), at minute `minutes`; a reply to thread
    /// `thread` (a message number) if given. Returns its id.
    pub fn receive(
        &self,
        n: u64,
        minutes: u64,
        from: &str,
        subject: &str,
        thread: Option<u64>,
    ) -> String {
        self.add(
            n,
            minutes,
            from,
            EMAIL,
            subject,
            thread,
            &["INBOX", "UNREAD"],
        )
    }

    /// A message `n` sent to `to`. Returns its id.
    pub fn send(
        &self,
        n: u64,
        minutes: u64,
        to: &str,
        subject: &str,
        thread: Option<u64>,
    ) -> String {
        self.add(
            n,
            minutes,
            &format!("Me <{EMAIL}>"),
            to,
            subject,
            thread,
            &["SENT"],
        )
    }

    /// A draft (never an event).
    pub fn draft(&self, n: u64, minutes: u64, subject: &str) -> String {
        self.add(
            n,
            minutes,
            EMAIL,
            "x@example.com",
            subject,
            None,
            &["DRAFT"],
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        n: u64,
        minutes: u64,
        from: &str,
        to: &str,
        subject: &str,
        thread: Option<u64>,
        labels: &[&str],
    ) -> String {
        let m = FakeMessage::new(n, minutes, from, to, subject, thread, labels);
        let id = m.id.clone();
        self.with(|b| b.push(m));
        id
    }

    /// Message ids per page of the listing, at most (Gmail's own cap is 500).
    pub fn set_page_size(&self, n: usize) {
        self.with(|b| b.list_page = n.max(1));
    }

    /// A large mailbox, cheaply: messages `1..=n`, one a minute, every tenth sent to
    /// team@example.com and the others received from one of 50 senders (every fourth a reply
    /// in the thread of the message before it). Each is an event of a first sync.
    pub fn generate(&self, n: u64) {
        self.with(|b| {
            for i in 1..=n {
                let thread = (i % 4 == 0).then_some(i - 1);
                let m = if i % 10 == 0 {
                    let from = format!("Me <{EMAIL}>");
                    let subject = format!("report {i}");
                    FakeMessage::new(i, i, &from, "team@example.com", &subject, thread, &["SENT"])
                } else {
                    let s = i % 50;
                    let from = format!("Sender {s} <s{s}@example.com>");
                    let subject = format!("update {i} on the quarterly numbers");
                    FakeMessage::new(i, i, &from, EMAIL, &subject, thread, &["INBOX", "UNREAD"])
                };
                b.push(m);
            }
        });
    }

    /// A message `n` received (as [`receive`](Self::receive)) while the history is read: right
    /// after the next history page that has a next page is served.
    pub fn receive_between_history_pages(&self, n: u64, minutes: u64, from: &str, subject: &str) {
        let m = FakeMessage::new(n, minutes, from, EMAIL, subject, None, &["INBOX", "UNREAD"]);
        self.with(|b| b.between_pages = Some(m));
    }

    /// The profile answers with `email` from now on (and `users/{email}` is accepted): the
    /// credentials are another account's.
    pub fn set_email(&self, email: &str) {
        self.with(|b| b.email = email.to_string());
    }

    /// Adds (`add`) or removes labels of message `id`, in the history too.
    pub fn label(&self, id: &str, add: bool, labels: &[&str]) {
        self.with(|b| {
            let m = b
                .messages
                .iter_mut()
                .find(|m| m.id == id)
                .expect("no such message");
            for l in labels {
                m.labels.retain(|x| x != l);
                if add {
                    m.labels.push(l.to_string());
                }
            }
            let short = m.short();
            let key = if add { "labelsAdded" } else { "labelsRemoved" };
            b.record(json!({key: [{"message": short, "labelIds": labels}]}));
        });
    }

    /// Deletes message `id` for good.
    pub fn delete(&self, id: &str) {
        self.with(|b| {
            let at = b
                .messages
                .iter()
                .position(|m| m.id == id)
                .expect("no such message");
            let m = b.messages.remove(at);
            b.record(json!({"messagesDeleted": [{"message": m.short()}]}));
        });
    }

    /// Forgets the history before the current history id: a sync from an older one gets a
    /// 404.
    pub fn expire_history(&self) {
        self.with(|b| b.kept_from = b.history_id);
    }

    /// Revokes the access token handed out: the next request with it gets a 401.
    pub fn revoke_token(&self) {
        self.with(|b| b.token = "revoked".into());
    }

    /// How many access tokens the token endpoint handed out.
    pub fn tokens_issued(&self) -> u32 {
        self.with(|b| b.tokens_issued)
    }

    /// The mailbox's current history id.
    pub fn history_id(&self) -> u64 {
        self.with(|b| b.history_id)
    }
}

impl FakeMessage {
    #[allow(clippy::too_many_arguments)]
    fn new(
        n: u64,
        minutes: u64,
        from: &str,
        to: &str,
        subject: &str,
        thread: Option<u64>,
        labels: &[&str],
    ) -> Self {
        FakeMessage {
            id: message_id(n),
            thread: message_id(thread.unwrap_or(n)),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            from: from.to_string(),
            to: to.to_string(),
            subject: subject.to_string(),
            body: format!("Body of message {n}: {subject}.\r\nSecond line."),
            minutes,
        }
    }

    /// As history records and listings carry it.
    fn short(&self) -> Value {
        json!({"id": self.id, "threadId": self.thread, "labelIds": self.labels})
    }

    fn json(&self, full: bool) -> Value {
        let headers = json!([
            {"name": "From", "value": self.from},
            {"name": "To", "value": self.to},
            {"name": "Subject", "value": self.subject},
            {"name": "Message-ID", "value": format!("<{}@mail.example.com>", self.id)},
        ]);
        let mut payload = json!({"mimeType": "multipart/alternative", "headers": headers});
        if full {
            payload["parts"] = json!([
                {"partId": "0", "mimeType": "text/plain", "filename": "",
                 "body": {"size": self.body.len(), "data": base64url_encode(self.body.as_bytes())}},
                {"partId": "1", "mimeType": "text/html", "filename": "",
                 "body": {"data": base64url_encode(format!("<p>{}</p>", self.body).as_bytes())}},
            ]);
        }
        json!({"id": self.id, "threadId": self.thread, "labelIds": self.labels,
            "snippet": self.body.lines().next().unwrap_or(""),
            "historyId": "1", "internalDate": time(self.minutes).timestamp_millis().to_string(),
            "sizeEstimate": 1000 + self.body.len(), "payload": payload})
    }
}

impl Mailbox {
    fn push(&mut self, m: FakeMessage) {
        let short = m.short();
        self.messages.push(m);
        self.record(json!({"messagesAdded": [{"message": short}]}));
    }

    fn record(&mut self, mut record: Value) {
        self.history_id += 1;
        record["id"] = json!(self.history_id.to_string());
        self.history.push((self.history_id, record));
    }

    fn token_grant(&mut self, r: &TestRequest) -> TestResponse {
        let form: Vec<(String, String)> =
            athena_http::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(&r.body)))
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if field("grant_type") != Some("refresh_token")
            || field("client_id") != Some(CLIENT_ID)
            || field("client_secret") != Some(CLIENT_SECRET)
            || field("refresh_token") != Some(REFRESH_TOKEN)
        {
            return TestResponse::json(
                400,
                &json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            );
        }
        self.tokens_issued += 1;
        self.token = format!("ya29.fake-access-{}", self.tokens_issued);
        TestResponse::json(
            200,
            &json!({"access_token": self.token, "expires_in": 3599, "scope": super::source::SCOPE, "token_type": "Bearer"}),
        )
    }

    fn list(&self, r: &TestRequest) -> TestResponse {
        let label = r.query("labelIds");
        let from = r
            .query("q")
            .and_then(|q| q.strip_prefix("from:").map(str::to_string));
        let mut matching: Vec<&FakeMessage> = self
            .messages
            .iter()
            .filter(|m| label.as_ref().is_none_or(|l| m.labels.contains(l)))
            .filter(|m| from.as_ref().is_none_or(|f| m.from.contains(f.as_str())))
            .collect();
        // Newest first, as Gmail lists.
        matching.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(b.id.cmp(&a.id)));
        let size = r
            .query("maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(100usize)
            .min(self.list_page);
        let page = paging::by_token(&matching, r.query("pageToken").as_deref(), size);
        let mut body = json!({"resultSizeEstimate": matching.len()});
        if !page.items.is_empty() {
            body["messages"] = json!(page
                .items
                .iter()
                .map(|m| json!({"id": m.id, "threadId": m.thread}))
                .collect::<Vec<_>>());
        }
        if let Some(n) = page.next {
            body["nextPageToken"] = json!(n);
        }
        TestResponse::json(200, &body)
    }

    fn history(&mut self, r: &TestRequest) -> TestResponse {
        let Some(start) = r
            .query("startHistoryId")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            return google_error(400, "invalidArgument", "Invalid startHistoryId");
        };
        if start < self.kept_from {
            return google_error(404, "notFound", "Requested entity was not found.");
        }
        // The token is `OFFSET@BOUND`: the read lists the records up to the history id of its
        // first page.
        let token = r.query("pageToken");
        let (offset, bound) = match token.as_deref().and_then(|t| t.split_once('@')) {
            Some((o, b)) => (
                Some(o),
                b.parse().expect("a page token the fake handed out"),
            ),
            None => (None, self.history_id),
        };
        let records: Vec<&Value> = self
            .history
            .iter()
            .filter(|(id, _)| *id > start && *id <= bound)
            .map(|(_, r)| r)
            .collect();
        let page = paging::by_token(&records, offset, HISTORY_PAGE);
        let mut body = json!({"historyId": self.history_id.to_string()});
        if !page.items.is_empty() {
            body["history"] = json!(page.items);
        }
        let next = page.next.map(|n| format!("{n}@{bound}"));
        if let Some(n) = next {
            body["nextPageToken"] = json!(n);
            if let Some(m) = self.between_pages.take() {
                self.push(m);
            }
        }
        TestResponse::json(200, &body)
    }
}

impl Routes for Mailbox {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        if r.path() == "/token" {
            return None;
        }
        let ok = !self.token.is_empty() && r.has_bearer(&self.token);
        (!ok).then(|| {
            TestResponse::json(
                401,
                &json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                    "errors": [{"reason": "authError", "domain": "global"}], "status": "UNAUTHENTICATED"}}),
            )
            .header("WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\"")
        })
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        if r.path() == "/token" {
            return self.token_grant(r);
        }
        let Some(rest) = r.path().strip_prefix("/gmail/v1/users/") else {
            return google_error(404, "notFound", "Not Found");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let email = self.email.clone();
        let user_ok = |u: &str| u == "me" || u == email;
        match parts.as_slice() {
            [u, ..] if !user_ok(u) => google_error(403, "forbidden", "Delegation denied"),
            [_, "profile"] => TestResponse::json(
                200,
                &json!({"emailAddress": self.email, "messagesTotal": self.messages.len(),
                    "threadsTotal": self.messages.len(), "historyId": self.history_id.to_string()}),
            ),
            [_, "messages"] => self.list(r),
            [_, "messages", id] => match self.messages.iter().find(|m| m.id == *id) {
                Some(m) => {
                    TestResponse::json(200, &m.json(r.query("format").as_deref() == Some("full")))
                }
                None => google_error(404, "notFound", "Requested entity was not found."),
            },
            [_, "history"] => self.history(r),
            _ => google_error(404, "notFound", "Not Found"),
        }
    }
}
