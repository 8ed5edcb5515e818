//! What issues and pull requests share: their fields, their events' ids and metadata, the
//! digests of their texts that tell an edit from any other update, and their cursor.

use std::collections::HashMap;

use athena_core::{Event, SourceState, StateChange};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::github::cursor::{ListCursor, StreamCursor};
use crate::github::json::{time, Account, Ctx, Lax};
use crate::github::pass::Page;

/// An issue's or pull request's own fields. Those copied into metadata as sent are `Value`s.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Thread {
    pub number: Lax<u64>,
    pub title: Lax<String>,
    pub body: Lax<String>,
    pub user: Lax<Account>,
    pub html_url: Lax<String>,
    pub labels: Lax<Vec<Lax<Label>>>,
    pub state: Value,
    pub created_at: Value,
    pub updated_at: Value,
    pub closed_at: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Label {
    name: Lax<String>,
}

impl Thread {
    pub(crate) fn is_closed(&self) -> bool {
        self.state.as_str() == Some("closed")
    }

    fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("number".into(), json!(*self.number));
        m.insert("state".into(), self.state.clone());
        m.insert("author".into(), json!(self.author()));
        let labels: Vec<&str> = self
            .labels
            .each()
            .filter_map(|l| l.name.as_deref())
            .collect();
        m.insert("labels".into(), json!(labels));
        m.insert("created_at".into(), self.created_at.clone());
        m.insert("updated_at".into(), self.updated_at.clone());
        m.insert("closed_at".into(), self.closed_at.clone());
        m
    }

    fn author(&self) -> Option<&str> {
        self.user.as_ref().and_then(|u| u.login.as_deref())
    }

    /// One event of the thread. Its id is the repository, the number and the kind, plus the
    /// time for a closing (an issue closed, reopened and closed again closed twice).
    pub(crate) fn event(
        &self,
        ctx: &Ctx<'_>,
        kind: &str,
        what: &str,
        at: DateTime<Utc>,
    ) -> Option<Event> {
        let number = (*self.number)?;
        let title = self.title.as_deref().unwrap_or("");
        let id = if kind.ends_with("_closed") {
            format!(
                "{}#{number}:{kind}@{}",
                ctx.repository,
                self.closed_at.as_str()?
            )
        } else {
            format!("{}#{number}:{kind}", ctx.repository)
        };
        let mut e = Event::new(id, kind, at, format!("{what} #{number}: {title}"));
        e.body = self.body.as_deref().unwrap_or("").to_string();
        e.actor = self.author().map(str::to_string);
        e.url = self.html_url.0.clone();
        e.context.insert("number".into(), json!(number));
        e.metadata = self.metadata();
        Some(e)
    }

    /// The thread as opened, if it says when.
    pub(crate) fn opened(&self, ctx: &Ctx<'_>, kind: &str) -> Option<Event> {
        let at = self.created_at.as_str().and_then(time)?;
        self.event(ctx, kind, "opened", at)
    }

    /// The title or body as changed at `updated_at` (the list API does not say who edited;
    /// the actor is the author).
    fn edited(&self, ctx: &Ctx<'_>, kind: &str) -> Option<Event> {
        let updated = self.updated_at.as_str()?;
        let mut e = self.event(ctx, kind, "edited", time(updated)?)?;
        e.id = format!("{}@{updated}", e.id);
        Some(e)
    }

    pub(crate) fn updated(&self) -> Option<DateTime<Utc>> {
        self.updated_at.as_str().and_then(time)
    }

    pub(crate) fn closed(&self) -> Option<DateTime<Utc>> {
        self.closed_at.as_str().and_then(time)
    }

    /// A digest of the title and body.
    fn digest(&self) -> [u8; 16] {
        let mut h = blake3::Hasher::new();
        h.update(self.title.as_deref().unwrap_or("").as_bytes());
        h.update(b"\0");
        h.update(self.body.as_deref().unwrap_or("").as_bytes());
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&h.finalize().as_bytes()[..16]);
        digest
    }
}

/// An issue or pull request, for remembering its text: the pull requests stream's items have
/// the high bit set (issue and pull request numbers are one sequence in a repository).
pub(crate) type TextKey = u64;

pub(crate) const PULL_BIT: u64 = 1 << 63;

/// The digest of each issue's and pull request's title and body as last stored (the source's
/// state in the store), to tell an edit from any other update. Updated as items are read
/// (each is read once a sync); the store gets each change with or after the item's events.
pub(crate) struct Texts {
    repository: String,
    digests: HashMap<TextKey, [u8; 16]>,
}

impl Texts {
    /// The digests of `repository`'s threads in the stored state.
    pub(crate) fn restore(repository: &str, state: SourceState) -> Self {
        let digests = state
            .into_iter()
            .filter_map(|(k, v)| {
                let key = parse_text_state_key(repository, &k)?;
                Some((key, <[u8; 16]>::try_from(v.as_slice()).ok()?))
            })
            .collect();
        Texts {
            repository: repository.to_string(),
            digests,
        }
    }

    /// Records the thread's text (`bit`: [`PULL_BIT`] for a pull request) into `page`: the
    /// event `kind` if it was stored before with another text, and the state change.
    pub(crate) fn record(
        &mut self,
        thread: &Thread,
        bit: u64,
        kind: &str,
        ctx: &Ctx<'_>,
        page: &mut Page,
    ) {
        let Some(number) = *thread.number else {
            return;
        };
        let (key, digest) = (number | bit, thread.digest());
        let before = self.digests.insert(key, digest);
        if before.is_some_and(|b| b != digest) {
            if let Some(e) = thread.edited(ctx, kind) {
                page.event(ctx, e);
            }
        }
        if before != Some(digest) {
            page.changes.push(StateChange {
                key: text_state_key(&self.repository, key),
                value: Some(digest.to_vec()),
            });
        }
    }
}

/// The key a [`TextKey`] is stored under in the source's state: it names the repository, so
/// a source pointed at another repository does not compare its texts with the old one's.
pub(crate) fn text_state_key(repository: &str, key: TextKey) -> Vec<u8> {
    let kind = if key & PULL_BIT == 0 { "issue" } else { "pull" };
    format!("{repository}#{kind}:{}", key & !PULL_BIT).into_bytes()
}

/// The inverse of [`text_state_key`], for this repository's keys only.
pub(crate) fn parse_text_state_key(repository: &str, stored: &[u8]) -> Option<TextKey> {
    let rest = std::str::from_utf8(stored).ok()?.strip_prefix(repository)?;
    let (kind, number) = rest.strip_prefix('#')?.split_once(':')?;
    let number: u64 = number.parse().ok().filter(|n| n & PULL_BIT == 0)?;
    match kind {
        "issue" => Some(number),
        "pull" => Some(number | PULL_BIT),
        _ => None,
    }
}

/// The cursor of issues and of pull requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ThreadsCursor {
    #[serde(flatten)]
    pub list: ListCursor,
    /// A complete pass has recorded the digest of every item's text (see [`Texts`]). Until
    /// then passes read the whole list, so that an item not updated for years still has a
    /// digest when it is next edited.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digests: bool,
}

impl StreamCursor for ThreadsCursor {
    fn list(&self) -> &ListCursor {
        &self.list
    }
    fn list_mut(&mut self) -> &mut ListCursor {
        &mut self.list
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::github::json::item;

    #[test]
    fn text_state_keys_name_the_repository_and_round_trip() {
        let ctx = Ctx {
            repository: "o/r",
            branch: None,
        };
        let issue: Thread = item(&json!({"number": 7, "title": "t", "body": "b"}));
        let mut texts = Texts::restore("o/r", Vec::new());
        let mut page = Page::default();
        texts.record(&issue, 0, "issue_edited", &ctx, &mut page);
        texts.record(&issue, PULL_BIT, "pull_request_edited", &ctx, &mut page);
        let keys: Vec<&[u8]> = page.changes.iter().map(|c| c.key.as_slice()).collect();
        assert_eq!(keys, [&b"o/r#issue:7"[..], b"o/r#pull:7"]);
        assert_eq!(page.changes[0].value, page.changes[1].value);
        let mut edited = json!({"number": 7, "title": "t", "body": "b2"});
        let thread: Thread = item(&edited);
        assert_ne!(thread.digest(), issue.digest());
        for k in [7, 7 | PULL_BIT] {
            let stored = text_state_key("o/r", k);
            assert_eq!(parse_text_state_key("o/r", &stored), Some(k));
            assert_eq!(parse_text_state_key("o/other", &stored), None);
        }
        // Restored, an unchanged text is no change; an edited one is an edit.
        let state = page
            .changes
            .iter()
            .map(|c| (c.key.clone(), c.value.clone().unwrap()))
            .collect();
        let mut texts = Texts::restore("o/r", state);
        let mut page = Page::default();
        texts.record(&issue, 0, "issue_edited", &ctx, &mut page);
        assert!(page.changes.is_empty() && page.events.is_empty());
        edited["updated_at"] = json!("2024-01-03T10:00:00Z");
        texts.record(&item(&edited), 0, "issue_edited", &ctx, &mut page);
        assert_eq!(page.events[0].id, "o/r#7:issue_edited@2024-01-03T10:00:00Z");
        assert_eq!(page.changes.len(), 1);
    }
}
