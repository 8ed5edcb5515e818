//! One Slack message as an event, with the people it names made readable.

use serde_json::{json, Map, Value};

use athena_core::Event;
use athena_http::HttpErrorKind;

use super::cursor::Ts;
use super::format::readable;
use super::source::{Channel, Run};
use crate::api::Failure;

impl Run<'_> {
    pub(super) async fn message_event(
        &mut self,
        channel: &Channel,
        m: &Value,
        kind: &str,
    ) -> Result<Event, Failure> {
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
            self.note_email(&mut ctx, u);
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

    /// Puts user `id`'s profile email, when known, into `ctx` as `user_email`.
    pub(super) fn note_email(&self, ctx: &mut Map<String, Value>, id: &str) {
        match self.emails.get(id) {
            Some(email) => ctx.insert("user_email".into(), json!(email)),
            None => ctx.remove("user_email"),
        };
    }

    /// A user's display name (else real name, else handle, else the id), asked once per run.
    pub(super) async fn user_name(&mut self, id: &str) -> Result<String, Failure> {
        if !self.resolve_users {
            return Ok(id.to_string());
        }
        if let Some(known) = self.users.get(id) {
            return Ok(known.clone().unwrap_or_else(|| id.to_string()));
        }
        let url = self
            .source
            .url("users.info", &[("user", id)])
            .map_err(|e| Failure::Source(self.source.fatal(&e)))?;
        let name = match self.source.get(&url).await {
            Ok(v) => {
                if let Some(email) = v.pointer("/user/profile/email").and_then(Value::as_str) {
                    self.emails.insert(id.to_string(), email.to_string());
                }
                [
                "/user/profile/display_name",
                "/user/profile/real_name",
                "/user/real_name",
                "/user/name",
            ]
            .iter()
            .filter_map(|p| v.pointer(p).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(str::to_string)
            }
            Err(e) if e.kind == HttpErrorKind::Unauthorized => {
                return Err(Failure::Source(self.source.fatal(&e)))
            }
            // Passing trouble: show the id this time, ask again next time.
            Err(e)
                if matches!(
                    e.kind,
                    HttpErrorKind::RateLimited
                        | HttpErrorKind::Network
                        | HttpErrorKind::Unreachable
                        | HttpErrorKind::Server
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
}
