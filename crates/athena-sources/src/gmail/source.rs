//! [`GmailSource`]: the `gmail` source as the kit runs it.
//!
//! A first sync takes the mailbox's `historyId` from `users.getProfile`, then lists each
//! configured label's messages (`users.messages.list`, paged by `nextPageToken`) and reads each
//! message, checkpointing after every page with the listing's position. Once every label is
//! listed it reads the history from the `historyId` taken before the listing, which is where
//! every later sync starts: `users.history.list` from the cursor's `historyId`, checkpointed
//! per page, the cursor moving to the `historyId` the read's *first* page answered once the last
//! page is read (a change landing while the pages are read is read again next time, never
//! skipped). A 404 there (Google keeps about a week of history) starts a full listing again;
//! what it reads again is stored already and comes back as duplicates. The cursor keeps the
//! mailbox's address: another address (`user` or the credentials changed) starts over.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, DeadLetter, SourceConfig, SourceError, SourceInfo};
use athena_http::{ApiClient, BodyVerdict, HttpError, HttpErrorKind, PageRead, Pages, Paging, Url};
use serde_json::Value;

use super::config::GmailConfig;
use super::cursor::{GmailCursor, Phase};
use super::message::{self, label_ids, wanted, Mailbox};
use crate::api::{self, ApiSource, Failure, Hint, Hints, Parts};

/// The OAuth scope the source asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";

/// Message ids per page of `users.messages.list` (Gmail serves at most 500).
const LIST_PAGE: u32 = 100;

/// History records per page of `users.history.list` (Gmail serves at most 500).
const HISTORY_PAGE: u32 = 100;

/// The longest backoff after Google says a rate limit is exceeded.
const MAX_BACKOFF: Duration = Duration::from_secs(64);

/// Reads a Gmail mailbox (run by the kit's [`Async`](athena_core::kit::Async)).
pub struct GmailSource {
    info: SourceInfo,
    config: GmailConfig,
    /// The labels, query and user, as the cursor records them.
    filter: String,
    client: ApiClient,
    /// Rate-limit answers in a row, for the backoff.
    limited: AtomicU32,
}

/// How a history read ended.
enum History {
    /// Read to its last page.
    Read,
    /// The history from the cursor's id is gone (404).
    Expired,
}

/// What a sync knows of the mailbox from `users.getProfile`.
struct Profile {
    email: String,
    history_id: String,
}

impl GmailSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: GmailConfig = config.parse()?;
        if c.labels.is_empty() || c.labels.iter().any(|l| l.trim().is_empty()) {
            return Err(config.error(Some("labels"), "needs at least one label id, none empty"));
        }
        if c.user.trim().is_empty() || c.user.contains(['/', '?', '#']) {
            return Err(config.error(Some("user"), "must be `me` or a mailbox's address"));
        }
        let tokens = c.auth.token_source(config, &[SCOPE])?;
        let client = api::client(config, &c.api_url, None, &c.http, |http| {
            http.headers = vec![("Accept".into(), "application/json".into())];
            http.token_source = Some(tokens);
            // Google says "rate limited" in a 403's body only.
            http.judge_client_errors = true;
        })?;
        let mut filter = c.labels.join(",");
        if let Some(q) = c.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            filter.push_str(&format!(" q={q}"));
        }
        // `me` left out, so cursors written before `user` was recorded still match.
        if c.user != "me" {
            filter.push_str(&format!(" user={}", c.user));
        }
        Ok(GmailSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "gmail".into(),
                name: format!("gmail {}", c.user),
            },
            client,
            filter,
            config: c,
            limited: AtomicU32::new(0),
        })
    }

    /// `users/{user}/{path}` under the API.
    fn url(&self, path: &str) -> Result<Url, HttpError> {
        self.client
            .url(&format!("users/{}/{path}", self.config.user))
    }

    /// Google's error body judged: a rate limit is waited for with a doubling backoff (Google
    /// sends no `Retry-After`), a spent daily quota fails; the rest is left to the status.
    fn verdict(&self, body: &Value) -> BodyVerdict {
        let Some(error) = body.get("error") else {
            self.limited.store(0, Ordering::Relaxed);
            return BodyVerdict::Accept;
        };
        let mut reasons: Vec<&str> = error
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get("reason").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        reasons.extend(error.get("status").and_then(Value::as_str));
        let has = |names: &[&str]| reasons.iter().any(|r| names.contains(r));
        if has(&["dailyLimitExceeded", "quotaExceeded"]) {
            return BodyVerdict::Fail(
                HttpErrorKind::RateLimited,
                "the Gmail API's daily quota is spent".into(),
            );
        }
        if has(&[
            "rateLimitExceeded",
            "userRateLimitExceeded",
            "RESOURCE_EXHAUSTED",
        ]) {
            let n = self.limited.fetch_add(1, Ordering::Relaxed).min(16);
            let first = Duration::from_millis(self.config.http.retry_delay_ms);
            return BodyVerdict::Wait(first.saturating_mul(1 << n).min(MAX_BACKOFF));
        }
        BodyVerdict::Accept
    }

    async fn get(&self, url: &Url) -> Result<Value, HttpError> {
        let check = |v: &Value, _: &athena_http::HeaderMap| self.verdict(v);
        self.client.get_value(url, &check).await
    }

    async fn profile(&self) -> Result<Profile, HttpError> {
        let url = self.url("profile")?;
        let p = self.get(&url).await?;
        let history_id = id_text(p.get("historyId")).ok_or_else(|| {
            let message = "the profile has no historyId";
            HttpError::answer(HttpErrorKind::Decode, "GET", &url, message)
        })?;
        Ok(Profile {
            email: p
                .get("emailAddress")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            history_id,
        })
    }

    /// Reads message `id` and emits its event; a message deleted meanwhile is skipped, one
    /// that cannot be an event is a dead letter.
    /// `arrived`: the history shows it arriving in a configured label, so it is an event even
    /// if it carries none now.
    async fn emit_message(
        &self,
        id: &str,
        email: &str,
        arrived: bool,
        sink: &mut Sink,
    ) -> Result<(), HttpError> {
        let mut url = self.url(&format!("messages/{id}"))?;
        {
            let mut q = url.query_pairs_mut();
            if self.config.include_body {
                q.append_pair("format", "full");
            } else {
                q.append_pair("format", "metadata");
                for h in message::HEADERS {
                    q.append_pair("metadataHeaders", h);
                }
            }
        }
        let json = match self.get(&url).await {
            Ok(j) => j,
            Err(e) if e.kind == HttpErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mailbox = Mailbox {
            labels: &self.config.labels,
            email,
            body: self
                .config
                .include_body
                .then_some(self.config.max_body_bytes),
            arrived,
        };
        match message::message_event(&json, &mailbox) {
            Ok(Some(e)) => sink.event(e),
            Ok(None) => {}
            Err(reason) => sink.dead_letter(DeadLetter {
                origin: athena_http::redact_url(&url),
                reason,
                raw: json.to_string().chars().take(4096).collect(),
            }),
        }
        Ok(())
    }

    /// `users.messages.list` of `label` (from page `token` on).
    fn list_url(&self, label: &str, token: Option<&str>) -> Result<Url, HttpError> {
        let mut url = self.url("messages")?;
        let mut q = url.query_pairs_mut();
        q.append_pair("labelIds", label)
            .append_pair("maxResults", &LIST_PAGE.to_string());
        if let Some(query) = self
            .config
            .query
            .as_deref()
            .filter(|q| !q.trim().is_empty())
        {
            q.append_pair("q", query);
        }
        if let Some(t) = token {
            q.append_pair("pageToken", t);
        }
        drop(q);
        Ok(url)
    }

    /// Lists the labels from `label` on, each message read; leaves the cursor in the history
    /// phase at `history_id`.
    async fn full(
        &self,
        cursor: &mut GmailCursor,
        sink: &mut Sink,
        email: &str,
        history_id: String,
        label: String,
        mut token: Option<String>,
    ) -> Result<(), Failure> {
        let labels = &self.config.labels;
        let mut at = labels.iter().position(|l| *l == label).unwrap_or(0);
        let mut done = 0u64;
        while at < labels.len() {
            let mut url = self.list_url(&labels[at], token.as_deref())?;
            let mut pages = Pages::new(Paging::GOOGLE, url.clone());
            loop {
                let page = self.get(&url).await?;
                // Gmail leaves `messages` out of an empty answer.
                let messages = list(&page, "messages");
                for id in messages.iter().filter_map(|m| m.get("id")?.as_str()) {
                    self.emit_message(id, email, false, sink).await?;
                    done += 1;
                }
                sink.progress(done, None);
                let read = PageRead {
                    url: &url,
                    link: None,
                    body: &page,
                    items: messages.len(),
                };
                let next = pages.next(read)?;
                token = next
                    .as_ref()
                    .and_then(|_| id_text(page.get("nextPageToken")));
                if next.is_none() {
                    at += 1;
                }
                cursor.phase = match labels.get(at) {
                    Some(label) => Phase::Full {
                        history_id: history_id.clone(),
                        label: label.clone(),
                        page_token: token.clone(),
                    },
                    None => Phase::History {
                        history_id: history_id.clone(),
                        page_token: None,
                        until: None,
                    },
                };
                sink.checkpoint(|| cursor.encode()).await?;
                match next {
                    Some(next) => url = next,
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// `users.history.list` from `history_id` (from page `token` on).
    fn history_url(&self, history_id: &str, token: Option<&str>) -> Result<Url, HttpError> {
        let mut url = self.url("history")?;
        let mut q = url.query_pairs_mut();
        q.append_pair("startHistoryId", history_id)
            .append_pair("maxResults", &HISTORY_PAGE.to_string());
        for t in [
            "messageAdded",
            "labelAdded",
            "labelRemoved",
            "messageDeleted",
        ] {
            q.append_pair("historyTypes", t);
        }
        if let Some(t) = token {
            q.append_pair("pageToken", t);
        }
        drop(q);
        Ok(url)
    }

    /// Reads the history from `history_id` (from page `token` on, `until` the `historyId` of
    /// the read's first page); leaves the cursor at the first page's `historyId`: a change
    /// landing while the pages are read may be missing from them, so it is read next time.
    async fn history(
        &self,
        cursor: &mut GmailCursor,
        sink: &mut Sink,
        email: &str,
        history_id: String,
        mut token: Option<String>,
        mut until: Option<String>,
    ) -> Result<History, Failure> {
        let mut done = 0u64;
        let mut url = self.history_url(&history_id, token.as_deref())?;
        let mut pages = Pages::new(Paging::GOOGLE, url.clone());
        loop {
            let page = match self.get(&url).await {
                Err(e) if e.kind == HttpErrorKind::NotFound => return Ok(History::Expired),
                page => page?,
            };
            if until.is_none() {
                // A read resumed without its first page's id (an older cursor) ends where it
                // began: what it read is read again next time, as duplicates.
                until = match token {
                    None => id_text(page.get("historyId")),
                    Some(_) => None,
                }
                .or_else(|| Some(history_id.clone()));
            }
            let records = list(&page, "history");
            let mut read: HashSet<String> = HashSet::new();
            let now = chrono::Utc::now();
            for record in records {
                self.record(record, email, now, &mut read, sink).await?;
                done += 1;
            }
            sink.progress(done, None);
            let page_read = PageRead {
                url: &url,
                link: None,
                body: &page,
                items: records.len(),
            };
            let Some(next) = pages.next(page_read)? else {
                cursor.phase = Phase::History {
                    history_id: until.unwrap_or(history_id),
                    page_token: None,
                    until: None,
                };
                return Ok(History::Read);
            };
            token = id_text(page.get("nextPageToken"));
            url = next;
            cursor.phase = Phase::History {
                history_id: history_id.clone(),
                page_token: token.clone(),
                until: until.clone(),
            };
            sink.checkpoint(|| cursor.encode()).await?;
        }
    }

    /// One history record's events: messages added to a configured label (read whole), label
    /// changes worth telling, deletions. `read`: the messages this page has read already.
    async fn record(
        &self,
        record: &Value,
        email: &str,
        now: chrono::DateTime<chrono::Utc>,
        read: &mut HashSet<String>,
        sink: &mut Sink,
    ) -> Result<(), HttpError> {
        let labels = &self.config.labels;
        let rid = id_text(record.get("id")).unwrap_or_default();
        for added in list(record, "messagesAdded") {
            let Some(m) = added.get("message") else {
                continue;
            };
            let Some(id) = m.get("id").and_then(Value::as_str) else {
                continue;
            };
            if wanted(labels, &label_ids(m)) && read.insert(id.to_string()) {
                self.emit_message(id, email, true, sink).await?;
            }
        }
        for (key, added) in [("labelsAdded", true), ("labelsRemoved", false)] {
            for change in list(record, key) {
                let Some(m) = change.get("message") else {
                    continue;
                };
                let Some(id) = m.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let changed: Vec<&str> = list(change, "labelIds")
                    .iter()
                    .filter_map(|l| l.as_str())
                    .collect();
                let ours = wanted(labels, &label_ids(m)) || wanted(labels, &changed);
                if ours && changed.iter().any(|l| noteworthy(labels, l)) {
                    if let Some(e) = message::labels_event(&rid, change, added, now) {
                        sink.event(e);
                    }
                }
                // A message moved into a label read now (out of the archive, say).
                if added && wanted(labels, &changed) && read.insert(id.to_string()) {
                    self.emit_message(id, email, true, sink).await?;
                }
            }
        }
        for deleted in list(record, "messagesDeleted") {
            let Some(m) = deleted.get("message") else {
                continue;
            };
            let was = label_ids(m);
            if was.is_empty() || wanted(labels, &was) {
                if let Some(e) = message::deleted_event(m, now) {
                    sink.event(e);
                }
            }
        }
        Ok(())
    }

    /// The mailbox read from the cursor's phase on to the end of its history.
    async fn mailbox(&self, cursor: &mut GmailCursor, sink: &mut Sink) -> Result<(), Failure> {
        let profile = self.profile().await?;
        if cursor.for_mailbox(&profile.email) {
            tracing::info!(source = %self.info.id, email = %profile.email,
                "the cursor belongs to another mailbox: reading from the start");
        }
        let email = &profile.email;
        let listing = || Phase::Full {
            history_id: profile.history_id.clone(),
            label: self.config.labels[0].clone(),
            page_token: None,
        };
        let mut resynced = false;
        loop {
            match cursor.phase.clone() {
                Phase::Start => cursor.phase = listing(),
                Phase::Full {
                    history_id,
                    label,
                    page_token,
                } => {
                    self.full(cursor, sink, email, history_id, label, page_token)
                        .await?
                }
                Phase::History {
                    history_id,
                    page_token,
                    until,
                } => {
                    let from = history_id.clone();
                    match self
                        .history(cursor, sink, email, from, page_token, until)
                        .await?
                    {
                        History::Read => return Ok(()),
                        History::Expired if !resynced => {
                            tracing::info!(source = %self.info.id, history_id = %history_id,
                                "the mailbox's history from the cursor has expired: listing every message again");
                            resynced = true;
                            cursor.phase = listing();
                        }
                        History::Expired => {
                            let url = athena_http::redact_url(&self.url("history")?);
                            let message = format!("the history from {history_id} is not found, even after a full listing");
                            let e = HttpError::new(
                                HttpErrorKind::NotFound,
                                "GET",
                                url,
                                Some(404),
                                message,
                            );
                            return Err(e.into());
                        }
                    }
                }
            }
        }
    }
}

#[async_trait]
impl ApiSource for GmailSource {
    type Run = GmailCursor;

    fn parts(&self) -> Parts<'_> {
        Parts {
            info: &self.info,
            client: &self.client,
            batch_size: self.config.batch_size,
        }
    }

    /// Gmail's words for what a user can fix.
    fn hints(&self) -> Hints {
        let id = &self.info.id;
        Hints {
            unauthorized: Hint::lead(format!(
                "Google rejected the credentials for source {id} (check {}): ",
                self.config.auth.keys_to_check()
            )),
            forbidden: Hint::lead(format!(
                "Google refused access for source {id} (does the token have scope gmail.readonly, and may it read mailbox {:?}?): ",
                self.config.user
            )),
            not_found: Hint::lead(format!(
                "not found for source {id} (is `api_url` the Gmail API, and `user` a mailbox?): "
            )),
            other: Hint::lead(format!("source {id}: ")),
        }
    }

    /// `GET users/{user}/profile`: the credentials are accepted for the mailbox.
    async fn check(&self) -> Result<(), Failure> {
        self.profile().await?;
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<GmailCursor, SourceError> {
        GmailCursor::decode(ctx.take_cursor(), &self.info.id, &self.filter)
    }

    /// The pages stored whole before a failure go with their position.
    async fn sync(&self, cursor: &mut GmailCursor, sink: &mut Sink) -> Result<(), Failure> {
        self.mailbox(cursor, sink).await
    }

    fn cursor(cursor: &GmailCursor) -> Cursor {
        cursor.encode()
    }
}

api::driven!(GmailSource);

/// Gmail writes ids (`historyId`) as strings of digits; a number is taken too.
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Whether a label change is worth an event: a configured label, a user's own label, a star,
/// the trash or spam; not Gmail's bookkeeping (`UNREAD`, `IMPORTANT`, `CATEGORY_…`), which
/// changes each time a message is read.
fn noteworthy(configured: &[String], label: &str) -> bool {
    configured.iter().any(|c| c == label)
        || label.starts_with("Label_")
        || matches!(label, "STARRED" | "TRASH" | "SPAM")
}
