//! The `slack` source: per channel, the history newer than the stored cursor plus a lookback
//! window read again for replies, edits and reactions; stored oldest first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use athena_core::kit::{AsyncSource, Context, Limits, ReadError, Sink};
use athena_core::{ConfigError, Cursor, Event, SourceConfig, SourceError, SourceInfo, SourceStats};
use athena_http::{
    link, ApiClient, BodyVerdict, Fetched, HeaderMap, HttpError, HttpErrorKind, HttpStats, Url,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::SlackConfig;
use super::format::readable;
use crate::api;

/// Version 1:
///
/// ```json
/// {"version":1,"channels":{"C0123":{"latest":"1700000000.000100"}}}
/// ```
///
/// Per channel, the `ts` of the newest top-level message stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SlackCursor {
    version: u32,
    channels: BTreeMap<String, ChannelCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ChannelCursor {
    latest: Option<String>,
}

const VERSION: u32 = 1;

/// Messages per history page (Slack's advice: at most 200).
const PAGE: u32 = 200;

/// Reads Slack channels: messages, thread replies, edits and reactions (run by the kit's
/// [`Async`](athena_core::kit::Async)).
pub struct SlackSource {
    info: SourceInfo,
    config: SlackConfig,
    lookback: chrono::Duration,
    client: ApiClient,
    stats: Arc<HttpStats>,
}

/// Slack's `ts`: seconds and microseconds, ordered as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Ts(i64, u32);

impl Ts {
    fn parse(s: &str) -> Option<Ts> {
        let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
        let micros: u32 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
        Some(Ts(secs.parse().ok()?, micros))
    }

    fn time(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, self.1 * 1000).unwrap_or_default()
    }

    fn text(self) -> String {
        format!("{}.{:06}", self.0, self.1)
    }
}

impl SlackSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: SlackConfig = config.parse()?;
        let now = Utc::now();
        let lookback = c
            .lookback
            .trim()
            .ends_with(|ch: char| ch.is_ascii_alphabetic())
            .then(|| athena_core::time::parse_time_arg(&c.lookback, now).ok())
            .flatten()
            .map(|t| now - t)
            .filter(|d| *d >= chrono::Duration::zero())
            .ok_or_else(|| {
                config.error(Some("lookback"), "must be a duration like 7d, 12h or 30m")
            })?;
        if c.token.expose().trim().is_empty() {
            return Err(config.error(Some("token"), "is empty (is the variable set?)"));
        }
        let authorization = Some(athena_core::Secret::new(format!(
            "Bearer {}",
            c.token.expose()
        )));
        let client = api::client(config, &c.api_url, authorization, &c.knobs(), |http| {
            // Slack has no remaining-budget headers: 429 and `ratelimited` carry `Retry-After`.
            http.rate_limit = None;
        })?;
        Ok(SlackSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "slack".into(),
                name: "slack".into(),
            },
            stats: client.stats(),
            client,
            lookback,
            config: c,
        })
    }
}

/// Slack's own errors, said inside `200` answers, judged like HTTP ones.
fn slack_verdict(v: &Value, _: &HeaderMap) -> BodyVerdict {
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return BodyVerdict::Accept;
    }
    let error = v
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("an answer without \"ok\": true");
    match error {
        "ratelimited" => BodyVerdict::Wait(Duration::from_secs(30)),
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked" | "token_expired" => {
            BodyVerdict::Fail(HttpErrorKind::Unauthorized, error.to_string())
        }
        "not_in_channel" | "channel_not_found" | "is_archived" | "thread_not_found" => {
            BodyVerdict::Fail(HttpErrorKind::NotFound, error.to_string())
        }
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
            BodyVerdict::Retry(error.to_string())
        }
        _ => {
            let needed = v
                .get("needed")
                .and_then(Value::as_str)
                .map(|s| format!(" (the token needs scope {s})"))
                .unwrap_or_default();
            BodyVerdict::Fail(HttpErrorKind::Api, format!("{error}{needed}"))
        }
    }
}

#[async_trait]
impl AsyncSource for SlackSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// `auth.test`: the token is accepted.
    async fn health_check(&self) -> Result<(), SourceError> {
        let url = self.url("auth.test", &[]).map_err(|e| self.fatal(&e))?;
        self.get(&url).await.map(|_| ()).map_err(|e| self.fatal(&e))
    }

    fn limits(&self) -> Limits {
        Limits::items(self.config.batch_size)
    }

    async fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let cursor = ctx.take_cursor();
        let mut run = Run {
            source: self,
            users: HashMap::new(),
            resolve_users: self.config.resolve_users,
            channel_names: HashMap::new(),
        };
        run.run(cursor, &mut ctx.sink).await
    }

    fn stats(&self) -> SourceStats {
        api::stats(&self.stats)
    }
}

#[derive(Debug, Clone)]
struct Channel {
    id: String,
    name: String,
}

/// Why a channel stopped.
enum ChannelError {
    /// This channel only (not a member, gone): the others go on.
    Channel(String),
    /// The whole source.
    Fatal(SourceError),
    /// The consumer went away.
    Stopped,
}

/// What one sync learns as it goes.
struct Run<'a> {
    source: &'a SlackSource,
    /// User id → display name (`None`: unknown), for this run.
    users: HashMap<String, Option<String>>,
    resolve_users: bool,
    channel_names: HashMap<String, String>,
}

impl SlackSource {
    fn url(&self, method: &str, query: &[(&str, &str)]) -> Result<Url, HttpError> {
        let mut url = self.client.url(method)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        Ok(url)
    }

    async fn get(&self, url: &Url) -> Result<Value, HttpError> {
        match self.client.get_checked(url, None, &slack_verdict).await? {
            Fetched::Page(p) => Ok(p.value),
            // Never asked conditionally.
            Fetched::NotModified => Ok(json!({"ok": true})),
        }
    }

    fn fatal(&self, e: &HttpError) -> SourceError {
        let message = match e.kind {
            HttpErrorKind::Unauthorized => format!(
                "Slack rejected the token for source {} ({}; check `token`): {e}",
                self.info.id, e.message
            ),
            _ => e.to_string(),
        };
        SourceError::failed(&self.info.id, message)
    }

    /// Every page of a cursor-paged method, the items under `key`.
    async fn all_pages(
        &self,
        method: &str,
        query: &[(&str, &str)],
        key: &str,
    ) -> Result<Vec<Value>, HttpError> {
        let first = self.url(method, query)?;
        let mut url = first.clone();
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = self.get(&url).await?;
            if let Some(list) = page.get(key).and_then(Value::as_array) {
                items.extend(list.iter().cloned());
            }
            match link::body_cursor(&page, "/response_metadata/next_cursor") {
                Some(c) if !seen.insert(c.clone()) => {
                    return Err(HttpError {
                        kind: HttpErrorKind::Api,
                        method: "GET",
                        url: athena_http::redact_url(&url),
                        status: Some(200),
                        message: "the next cursor repeats an earlier one (a paging loop)".into(),
                        body: String::new(),
                    })
                }
                Some(c) => url = link::with_query(&first, "cursor", &c),
                None => return Ok(items),
            }
        }
    }
}

impl Run<'_> {
    async fn run(&mut self, cursor: Option<Cursor>, sink: &mut Sink) -> Result<(), ReadError> {
        let mut state: SlackCursor =
            Cursor::decode_saved(cursor, &self.source.info.id, u64::from(VERSION))?.unwrap_or(
                SlackCursor {
                    version: VERSION,
                    channels: BTreeMap::new(),
                },
            );
        // Archived channels are only read when named.
        let archived = if self.source.config.channels.is_empty() {
            "true"
        } else {
            "false"
        };
        let list = |types| {
            [
                ("types", types),
                ("exclude_archived", archived),
                ("limit", "200"),
            ]
        };
        let listed = match self
            .source
            .all_pages(
                "conversations.list",
                &list("public_channel,private_channel"),
                "channels",
            )
            .await
        {
            Ok(l) => l,
            // A token without groups:read still reads public channels.
            Err(e) if e.kind == HttpErrorKind::Api && e.message.starts_with("missing_scope") => {
                tracing::warn!(source = %self.source.info.id, "private channels not listed: {e}");
                self.source
                    .all_pages("conversations.list", &list("public_channel"), "channels")
                    .await
                    .map_err(|e| self.source.fatal(&e))?
            }
            Err(e) => return Err(self.source.fatal(&e).into()),
        };
        let mut member = Vec::new();
        for c in &listed {
            let (Some(id), Some(name)) = (
                c.get("id").and_then(Value::as_str),
                c.get("name").and_then(Value::as_str),
            ) else {
                continue;
            };
            self.channel_names.insert(id.to_string(), name.to_string());
            if c.get("is_member").and_then(Value::as_bool) != Some(false) {
                member.push(Channel {
                    id: id.to_string(),
                    name: name.to_string(),
                });
            }
        }
        let mut failures = Vec::new();
        let channels: Vec<Channel> = if self.source.config.channels.is_empty() {
            member
        } else {
            let mut chosen = Vec::new();
            for wanted in &self.source.config.channels {
                let w = wanted.trim_start_matches('#');
                let found = self
                    .channel_names
                    .iter()
                    .find(|(id, name)| id.as_str() == w || name.as_str() == w);
                match found {
                    Some((id, name)) => chosen.push(Channel {
                        id: id.clone(),
                        name: name.clone(),
                    }),
                    // An id the list does not show (a DM, another team): try it anyway.
                    None if w.starts_with(['C', 'G', 'D']) && w.len() > 8 => chosen.push(Channel {
                        id: w.to_string(),
                        name: w.to_string(),
                    }),
                    None => failures.push(format!("#{w}: channel_not_found")),
                }
            }
            chosen
        };
        for channel in &channels {
            match self.channel(channel, &mut state, sink).await {
                Ok(()) => {}
                Err(ChannelError::Channel(why)) => {
                    tracing::warn!(source = %self.source.info.id, channel = %channel.name, "skipped: {why}");
                    failures.push(format!("#{} ({}): {why}", channel.name, channel.id));
                }
                Err(ChannelError::Fatal(e)) => return Err(e.into()),
                Err(ChannelError::Stopped) => return Err(ReadError::Stopped),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ReadError::Failed(SourceError::failed(
                &self.source.info.id,
                format!(
                    "{} channel(s) could not be read ({}); the others were stored",
                    failures.len(),
                    failures.join("; ")
                ),
            )))
        }
    }

    /// Slack's own "this channel cannot be read" (said in a `200`) stops that channel only;
    /// anything else (an HTTP 404 from a wrong `api_url` included) stops the source.
    fn channel_error(&self, e: &HttpError) -> ChannelError {
        match (e.kind, e.status) {
            (HttpErrorKind::NotFound, Some(200)) => ChannelError::Channel(e.message.clone()),
            _ => ChannelError::Fatal(self.source.fatal(e)),
        }
    }

    async fn channel(
        &mut self,
        channel: &Channel,
        state: &mut SlackCursor,
        sink: &mut Sink,
    ) -> Result<(), ChannelError> {
        let latest = state
            .channels
            .get(&channel.id)
            .and_then(|c| c.latest.as_deref())
            .and_then(Ts::parse);
        let now = Utc::now();
        let window = Ts((now - self.source.lookback).timestamp().max(0), 0);
        // New messages, and the lookback window again for replies, edits and reactions.
        let oldest = latest.map(|l| l.min(window));
        let oldest_text = oldest.map(Ts::text);
        let limit = PAGE.to_string();
        let mut query = vec![("channel", channel.id.as_str()), ("limit", limit.as_str())];
        if let Some(o) = &oldest_text {
            query.push(("oldest", o.as_str()));
        }
        // History comes newest first, a page at a time; each page is stored as it is read, and
        // the cursor moves only when the whole range is stored, so a sync stopped half-way
        // reads the range again (what it stored comes back as duplicates). Memory holds a page
        // and its threads, however long the channel.
        let first = self
            .source
            .url("conversations.history", &query)
            .map_err(|e| ChannelError::Fatal(self.source.fatal(&e)))?;
        let mut url = first.clone();
        let mut seen_cursors = std::collections::HashSet::new();
        let mut newest = latest;
        loop {
            let page = self
                .source
                .get(&url)
                .await
                .map_err(|e| self.channel_error(&e))?;
            let mut messages: Vec<Value> = page
                .get("messages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            messages.sort_by_key(|m| m.get("ts").and_then(Value::as_str).and_then(Ts::parse));
            let mut pending = Vec::new();
            for m in &messages {
                if let Some(ts) = self.group(channel, m, latest, now, &mut pending).await? {
                    newest = Some(newest.map_or(ts, |n| n.max(ts)));
                }
            }
            let next = match link::body_cursor(&page, "/response_metadata/next_cursor") {
                Some(c) if !seen_cursors.insert(c.clone()) => {
                    return Err(ChannelError::Fatal(SourceError::failed(
                        &self.source.info.id,
                        format!(
                            "GET {}: the next cursor repeats an earlier one (a paging loop)",
                            athena_http::redact_url(&url)
                        ),
                    )))
                }
                Some(c) => Some(link::with_query(&first, "cursor", &c)),
                None => None,
            };
            // Batches of at most `batch_size` events; only the last page's last batch moves the
            // cursor (alone, if the page brought no events).
            let last_page = next.is_none();
            let mut chunks = Vec::new();
            while !pending.is_empty() {
                let rest = pending.split_off(pending.len().min(self.source.config.batch_size));
                chunks.push(std::mem::replace(&mut pending, rest));
            }
            if last_page && chunks.is_empty() && newest != latest {
                chunks.push(Vec::new());
            }
            let count = chunks.len();
            for (i, mut chunk) in chunks.into_iter().enumerate() {
                let at = if last_page && i + 1 == count {
                    newest
                } else {
                    latest
                };
                Run::send(channel, state, at, &mut chunk, sink).await?;
            }
            match next {
                Some(n) => url = n,
                None => return Ok(()),
            }
        }
    }

    /// One top-level message's events: the message itself if new, its edit, its reactions, and
    /// its thread; returns its `ts` if it is new.
    async fn group(
        &mut self,
        channel: &Channel,
        m: &Value,
        latest: Option<Ts>,
        now: DateTime<Utc>,
        out: &mut Vec<Event>,
    ) -> Result<Option<Ts>, ChannelError> {
        let Some(ts) = m.get("ts").and_then(Value::as_str).and_then(Ts::parse) else {
            return Ok(None);
        };
        let is_new = latest.is_none_or(|l| ts > l);
        if is_new {
            let e = self.message_event(channel, m, "message").await?;
            out.push(e);
        }
        self.changes(channel, m, ts, out, now).await?;
        let replies = m.get("reply_count").and_then(Value::as_u64).unwrap_or(0);
        let is_parent =
            m.get("thread_ts").and_then(Value::as_str) == m.get("ts").and_then(Value::as_str);
        if self.source.config.include_threads && replies > 0 && is_parent {
            let ts_text = ts.text();
            let limit = PAGE.to_string();
            let thread = match self
                .source
                .all_pages(
                    "conversations.replies",
                    &[
                        ("channel", channel.id.as_str()),
                        ("ts", ts_text.as_str()),
                        ("limit", limit.as_str()),
                    ],
                    "messages",
                )
                .await
            {
                Ok(t) => t,
                // The thread went away between the two calls: the message stays.
                Err(e) if e.message == "thread_not_found" => Vec::new(),
                Err(e) => return Err(self.channel_error(&e)),
            };
            for r in &thread {
                let Some(rts) = r.get("ts").and_then(Value::as_str).and_then(Ts::parse) else {
                    continue;
                };
                if rts == ts {
                    continue; // the parent, listed first
                }
                let e = self.message_event(channel, r, "thread_reply").await?;
                out.push(e);
                self.changes(channel, r, rts, out, now).await?;
            }
        }
        Ok(is_new.then_some(ts))
    }

    /// Sends `events` with the channel's cursor at `newest`.
    async fn send(
        channel: &Channel,
        state: &mut SlackCursor,
        newest: Option<Ts>,
        events: &mut Vec<Event>,
        sink: &mut Sink,
    ) -> Result<(), ChannelError> {
        state.channels.insert(
            channel.id.clone(),
            ChannelCursor {
                latest: newest.map(Ts::text),
            },
        );
        for event in events.drain(..) {
            sink.event(event);
        }
        sink.commit(Cursor::encode(&*state))
            .await
            .map_err(|_| ChannelError::Stopped)
    }

    /// A message's edit and reactions, as events.
    async fn changes(
        &mut self,
        channel: &Channel,
        m: &Value,
        ts: Ts,
        out: &mut Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<(), ChannelError> {
        if let Some(edit_ts) = m
            .pointer("/edited/ts")
            .and_then(Value::as_str)
            .and_then(Ts::parse)
        {
            let mut e = self.message_event(channel, m, "message_edited").await?;
            e.id = format!("{}:{}:edited:{}", channel.id, ts.text(), edit_ts.text());
            e.occurred_at = edit_ts.time();
            if let Some(editor) = m.pointer("/edited/user").and_then(Value::as_str) {
                e.actor = Some(self.user_name(editor).await?);
                e.context.insert("user_id".into(), json!(editor));
            }
            e.title = format!("edited: {}", e.title);
            out.push(e);
        }
        let reactions = m
            .get("reactions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // The message as reactions describe it, built once for all of them.
        let base = if reactions.is_empty() {
            None
        } else {
            Some(self.message_event(channel, m, "reaction_added").await?)
        };
        for r in &reactions {
            let Some(base) = &base else { break };
            let Some(name) = r.get("name").and_then(Value::as_str) else {
                continue;
            };
            let users = r
                .get("users")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for u in users.iter().filter_map(Value::as_str) {
                let mut e = Event::new(
                    format!("{}:{}:reaction:{name}:{u}", channel.id, ts.text()),
                    "reaction_added",
                    // Slack does not say when a reaction was added: when this sync first saw it.
                    now,
                    format!(":{name}: on {}", base.title),
                );
                e.actor = Some(self.user_name(u).await?);
                e.context = base.context.clone();
                e.context.insert("user_id".into(), json!(u));
                e.metadata.insert("reaction".into(), json!(name));
                e.metadata.insert("time_observed".into(), json!(true));
                out.push(e);
            }
        }
        Ok(())
    }

    async fn message_event(
        &mut self,
        channel: &Channel,
        m: &Value,
        kind: &str,
    ) -> Result<Event, ChannelError> {
        let ts_text = m.get("ts").and_then(Value::as_str).unwrap_or("0");
        let ts = Ts::parse(ts_text).unwrap_or(Ts(0, 0));
        let user_id = m.get("user").and_then(Value::as_str).map(str::to_string);
        let actor = match &user_id {
            Some(u) => Some(self.user_name(u).await?),
            None => m
                .get("username")
                .or_else(|| m.pointer("/bot_profile/name"))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let raw = m.get("text").and_then(Value::as_str).unwrap_or("");
        // Mentioned people are looked up first, so the text never depends on who was met before.
        for id in mentioned_users(raw) {
            self.user_name(&id).await?;
        }
        let text = {
            let users = &self.users;
            let names = &self.channel_names;
            readable(raw, &|id| users.get(id).cloned().flatten(), &|id| {
                names.get(id).cloned()
            })
        };
        let first: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(100)
            .collect();
        let mut e = Event::new(
            format!("{}:{}", channel.id, ts.text()),
            kind,
            ts.time(),
            format!("#{}: {first}", channel.name),
        );
        e.body = text;
        e.actor = actor;
        let mut ctx = Map::new();
        ctx.insert("channel".into(), json!(channel.id));
        ctx.insert("channel_name".into(), json!(channel.name));
        ctx.insert("ts".into(), json!(ts_text));
        if let Some(t) = m.get("thread_ts").and_then(Value::as_str) {
            ctx.insert("thread_ts".into(), json!(t));
        }
        if let Some(u) = &user_id {
            ctx.insert("user_id".into(), json!(u));
        }
        e.context = ctx;
        e.url = m
            .get("permalink")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut md = Map::new();
        for k in ["subtype", "bot_id", "reply_count", "client_msg_id"] {
            if let Some(v) = m.get(k) {
                md.insert(k.into(), v.clone());
            }
        }
        e.metadata = md;
        Ok(e)
    }

    /// A user's display name (else real name, else handle, else the id), asked once per run.
    async fn user_name(&mut self, id: &str) -> Result<String, ChannelError> {
        if !self.resolve_users {
            return Ok(id.to_string());
        }
        if let Some(known) = self.users.get(id) {
            return Ok(known.clone().unwrap_or_else(|| id.to_string()));
        }
        let url = self
            .source
            .url("users.info", &[("user", id)])
            .map_err(|e| ChannelError::Fatal(self.source.fatal(&e)))?;
        let name = match self.source.get(&url).await {
            Ok(v) => [
                "/user/profile/display_name",
                "/user/profile/real_name",
                "/user/real_name",
                "/user/name",
            ]
            .iter()
            .filter_map(|p| v.pointer(p).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(str::to_string),
            Err(e) if e.kind == HttpErrorKind::Unauthorized => {
                return Err(ChannelError::Fatal(self.source.fatal(&e)))
            }
            // Passing trouble: show the id this time, ask again next time.
            Err(e)
                if matches!(
                    e.kind,
                    HttpErrorKind::RateLimited | HttpErrorKind::Network | HttpErrorKind::Server
                ) =>
            {
                tracing::warn!(source = %self.source.info.id, "cannot resolve user {id}: {e}");
                return Ok(id.to_string());
            }
            Err(e) => {
                if e.message.contains("missing_scope") {
                    tracing::warn!(source = %self.source.info.id, "cannot resolve user names: {e}");
                    self.resolve_users = false;
                }
                None
            }
        };
        self.users.insert(id.to_string(), name.clone());
        Ok(name.unwrap_or_else(|| id.to_string()))
    }
}

/// The user ids `<@U…>` mentions name without a label.
fn mentioned_users(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        if rest[end..].starts_with('>')
            && !rest[..end].is_empty()
            && !ids.iter().any(|x| x == &rest[..end])
        {
            ids.push(rest[..end].to_string());
        }
        rest = &rest[end..];
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_without_labels_are_collected_once() {
        assert_eq!(
            mentioned_users("hi <@U1> and <@U2|bob>, <@U1> again <@"),
            ["U1"]
        );
    }

    #[test]
    fn ts_orders_numerically_and_round_trips() {
        let a = Ts::parse("1700000000.000100").unwrap();
        let b = Ts::parse("1700000000.0002").unwrap();
        assert!(a < b);
        assert_eq!(a.text(), "1700000000.000100");
        assert_eq!(b.text(), "1700000000.000200");
        assert_eq!(a.time().timestamp_subsec_micros(), 100);
        assert!(Ts::parse("x.1").is_none());
    }

    #[test]
    fn slack_errors_inside_200_are_classified() {
        let h = HeaderMap::new();
        let v = |e: &str| slack_verdict(&json!({"ok": false, "error": e}), &h);
        assert_eq!(slack_verdict(&json!({"ok": true}), &h), BodyVerdict::Accept);
        assert!(matches!(v("ratelimited"), BodyVerdict::Wait(_)));
        assert!(matches!(
            v("invalid_auth"),
            BodyVerdict::Fail(HttpErrorKind::Unauthorized, _)
        ));
        assert!(matches!(
            v("not_in_channel"),
            BodyVerdict::Fail(HttpErrorKind::NotFound, _)
        ));
        assert!(matches!(v("internal_error"), BodyVerdict::Retry(_)));
        let scope = slack_verdict(
            &json!({"ok": false, "error": "missing_scope", "needed": "groups:history"}),
            &h,
        );
        assert_eq!(
            scope,
            BodyVerdict::Fail(
                HttpErrorKind::Api,
                "missing_scope (the token needs scope groups:history)".into()
            )
        );
    }
}
