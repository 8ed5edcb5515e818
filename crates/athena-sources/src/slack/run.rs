//! One sync of the `slack` source: the channels to read, and each channel's history, threads,
//! edits and reactions, stored oldest first with the cursor moving per channel.

use athena_core::kit::Sink;
use athena_core::{Cursor, Event, SourceError};
use athena_http::{HttpError, HttpErrorKind, PageRead, Pages};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::client::PAGING;
use super::cursor::{ChannelCursor, SlackCursor, Ts};
use super::source::{Channel, Run};
use crate::api::{Failure, PartsFailed};

/// Messages per history page (Slack's advice: at most 200).
const PAGE: u32 = 200;

impl Run<'_> {
    /// The channels to read, then each one's history from `state` on, the cursor stored
    /// after each channel; a channel that cannot be read is told at the end.
    pub(super) async fn run(
        &mut self,
        state: &mut SlackCursor,
        sink: &mut Sink,
    ) -> Result<(), Failure> {
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
            Err(e) => return Err(Failure::Source(self.source.fatal(&e))),
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
        let wanted = self.source.config.channels.len();
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
            match self.channel(channel, state, sink).await {
                Ok(()) => {}
                // Slack's own "this channel cannot be read" (see `channel_error`).
                Err(Failure::Http(e)) => {
                    let why = e.message;
                    // Told once, in the source's error; the log has it at debug level only.
                    tracing::debug!(source = %self.source.info.id, channel = %channel.name, "skipped: {why}");
                    failures.push(format!("#{} ({}): {why}", channel.name, channel.id));
                }
                Err(stopped_or_fatal) => return Err(stopped_or_fatal),
            }
        }
        let failed = PartsFailed {
            noun: "channel",
            // Those named (found or not), else those the token is a member of.
            total: wanted.max(channels.len()),
            failed: failures,
            not_tried: Vec::new(),
            events: sink.events_emitted(),
        };
        if !failed.any() {
            return Ok(());
        }
        // A channel that does not exist or that the token is not in: the config (or the
        // bot's invitations) to fix, not the service.
        Err(Failure::Source(SourceError::Config {
            source_id: self.source.info.id.clone(),
            message: failed.message(),
        }))
    }

    /// Slack's own "this channel cannot be read" (said in a `200`) stops that channel only;
    /// anything else (an HTTP 404 from a wrong `api_url` included) stops the source.
    fn channel_error(&self, e: &HttpError) -> Failure {
        match (e.kind, e.status) {
            (HttpErrorKind::NotFound, Some(200)) => Failure::Http(e.clone()),
            _ => Failure::Source(self.source.fatal(e)),
        }
    }

    async fn channel(
        &mut self,
        channel: &Channel,
        state: &mut SlackCursor,
        sink: &mut Sink,
    ) -> Result<(), Failure> {
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
            .map_err(|e| Failure::Source(self.source.fatal(&e)))?;
        let mut url = first.clone();
        let mut pages = Pages::new(PAGING, first);
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
            let read = PageRead {
                url: &url,
                link: None,
                body: &page,
                items: messages.len(),
            };
            let next = pages.next(read).map_err(|e| self.channel_error(&e))?;
            messages.sort_by_key(|m| m.get("ts").and_then(Value::as_str).and_then(Ts::parse));
            let mut pending = Vec::new();
            for m in &messages {
                if let Some(ts) = self.group(channel, m, latest, now, &mut pending).await? {
                    newest = Some(newest.map_or(ts, |n| n.max(ts)));
                }
            }
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
    ) -> Result<Option<Ts>, Failure> {
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
    ) -> Result<(), Failure> {
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
            .map_err(|_| Failure::Stopped)
    }

    /// A message's edit and reactions, as events.
    async fn changes(
        &mut self,
        channel: &Channel,
        m: &Value,
        ts: Ts,
        out: &mut Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
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
                self.note_email(&mut e.context, editor);
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
                self.note_email(&mut e.context, u);
                e.metadata.insert("reaction".into(), json!(name));
                e.metadata.insert("time_observed".into(), json!(true));
                out.push(e);
            }
        }
        Ok(())
    }
}
