//! A Jira issue, its change history and its comments as events; Jira's times.
//!
//! Ids are Jira's own: `issue:ID:created`, `history:ID:transitioned|assigned|resolved`,
//! `comment:ID` and `comment:ID:edited@MS`. An issue moved to another project keeps its id
//! (its key changes), so its events are never stored twice under two keys.

use athena_core::{Event, Outcome};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::adf;

/// Parses Jira's times, `2022-06-09T16:29:31.871-0700` (no colon in the offset), or RFC 3339.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn time(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    text(v, pointer).and_then(parse_time)
}

/// What the events of one issue share.
pub(crate) struct Issue<'a> {
    pub id: String,
    pub key: String,
    pub summary: String,
    pub project: Option<String>,
    /// When the issue was last updated, for the cursor.
    pub updated: Option<DateTime<Utc>>,
    pub json: &'a Value,
    browse: String,
}

impl<'a> Issue<'a> {
    /// The issue of a search result; `None` without an id and a key (nothing to name it by).
    pub(crate) fn new(json: &'a Value, site: &str) -> Option<Self> {
        let id = match json.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return None,
        };
        let key = json.get("key").and_then(Value::as_str)?.to_string();
        Some(Issue {
            browse: format!("{}/browse/{key}", site.trim_end_matches('/')),
            summary: text(json, "/fields/summary").unwrap_or("").to_string(),
            project: text(json, "/fields/project/key").map(str::to_string),
            updated: time(json, "/fields/updated"),
            id,
            key,
            json,
        })
    }

    fn event(&self, id: String, kind: &str, at: DateTime<Utc>, title: String) -> Event {
        let mut e = Event::new(id, kind, at, title);
        e.url = Some(self.browse.clone());
        let mut context = Map::new();
        if let Some(p) = &self.project {
            context.insert("project".into(), json!(p));
        }
        context.insert("issue_key".into(), json!(self.key));
        context.insert("issue_id".into(), json!(self.id));
        e.context = context;
        e
    }

    /// `issue_created`, with the description as its body.
    pub(crate) fn created(&self) -> Option<Event> {
        let at = time(self.json, "/fields/created")?;
        let mut e = self.event(
            format!("issue:{}:created", self.id),
            "issue_created",
            at,
            format!("{} created: {}", self.key, self.summary),
        );
        e.actor = name(self.json.pointer("/fields/reporter"));
        note_account(&mut e, self.json.pointer("/fields/reporter"));
        e.body = self
            .json
            .pointer("/fields/description")
            .map(adf::render)
            .unwrap_or_default();
        for (field, pointer) in [
            ("issue_type", "/fields/issuetype/name"),
            ("status", "/fields/status/name"),
            ("priority", "/fields/priority/name"),
            ("assignee", "/fields/assignee/displayName"),
        ] {
            if let Some(v) = text(self.json, pointer) {
                e.metadata.insert(field.into(), json!(v));
            }
        }
        Some(e)
    }

    /// The events of one changelog history: a status change, an assignment, a resolution.
    pub(crate) fn history(&self, h: &Value, out: &mut Vec<Event>) {
        let (Some(hid), Some(at)) = (id_of(h), time(h, "/created")) else {
            return;
        };
        let actor = name(h.get("author"));
        let author = h.get("author");
        let items = h.get("items").and_then(Value::as_array);
        for item in items.into_iter().flatten() {
            let field = item
                .get("fieldId")
                .or_else(|| item.get("field"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let from = text(item, "/fromString");
            let to = text(item, "/toString");
            let (kind, title) = match field {
                "status" => (
                    "issue_transitioned",
                    format!(
                        "{} {} → {}: {}",
                        self.key,
                        from.unwrap_or("?"),
                        to.unwrap_or("?"),
                        self.summary
                    ),
                ),
                "assignee" => (
                    "issue_assigned",
                    match to {
                        Some(to) => format!("{} assigned to {to}: {}", self.key, self.summary),
                        None => format!("{} unassigned: {}", self.key, self.summary),
                    },
                ),
                "resolution" if to.is_some() => (
                    "issue_resolved",
                    format!(
                        "{} resolved ({}): {}",
                        self.key,
                        to.unwrap_or(""),
                        self.summary
                    ),
                ),
                _ => continue,
            };
            let suffix = kind.trim_start_matches("issue_");
            let mut e = self.event(format!("history:{hid}:{suffix}"), kind, at, title);
            e.actor = actor.clone();
            note_account(&mut e, author);
            e.metadata.insert("history_id".into(), json!(hid));
            e.metadata.insert("from".into(), json!(from));
            e.metadata.insert("to".into(), json!(to));
            if kind == "issue_resolved" {
                e.outcome = Some(Outcome::Success);
            }
            out.push(e);
        }
    }

    /// `issue_comment`, and `issue_comment_edited` when the comment was updated after.
    pub(crate) fn comment(&self, c: &Value, out: &mut Vec<Event>) {
        let (Some(cid), Some(at)) = (id_of(c), time(c, "/created")) else {
            return;
        };
        let body = c.get("body").map(adf::render).unwrap_or_default();
        let mut e = self.event(
            format!("comment:{cid}"),
            "issue_comment",
            at,
            format!("comment on {}: {}", self.key, self.summary),
        );
        e.actor = name(c.get("author"));
        note_account(&mut e, c.get("author"));
        e.body = body.clone();
        e.url = Some(format!(
            "{}?focusedCommentId={cid}",
            e.url.clone().unwrap_or_default()
        ));
        e.metadata.insert("comment_id".into(), json!(cid));
        let edited = time(c, "/updated").filter(|u| *u > at);
        let mut edit = edited.map(|u| {
            let mut ed = e.clone();
            ed.id = format!("comment:{cid}:edited@{}", u.timestamp_millis());
            ed.kind = "issue_comment_edited".into();
            ed.occurred_at = u;
            ed.title = format!("comment edited on {}: {}", self.key, self.summary);
            if c.get("updateAuthor").and_then(|a| a.get("displayName")).is_some() {
                ed.actor = name(c.get("updateAuthor"));
                note_account(&mut ed, c.get("updateAuthor"));
            }
            ed
        });
        out.push(e);
        out.extend(edit.take());
    }
}

/// The actor's account (`accountId`, and `emailAddress` where the site shows it) in
/// `metadata.actor_account`, for people across sources.
fn note_account(e: &mut Event, account: Option<&Value>) {
    let Some(id) = account.and_then(|a| a.get("accountId")).and_then(Value::as_str) else {
        return;
    };
    let email = account
        .and_then(|a| a.get("emailAddress"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    e.metadata.insert("actor_account".into(), json!({"account_id": id, "email": email}));
}

/// Jira ids come as strings ("10001"); numbers are taken too.
fn id_of(v: &Value) -> Option<String> {
    match v.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// An account's display name.
fn name(account: Option<&Value>) -> Option<String> {
    account
        .and_then(|a| a.get("displayName"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn jira_times_parse_exactly_into_utc() {
        let t = parse_time("2022-06-09T16:29:31.871-0700").unwrap();
        assert_eq!(
            t,
            Utc.with_ymd_and_hms(2022, 6, 9, 23, 29, 31).unwrap()
                + chrono::Duration::milliseconds(871)
        );
        assert_eq!(
            parse_time("2024-01-01T00:00:00.000+0530").unwrap(),
            Utc.with_ymd_and_hms(2023, 12, 31, 18, 30, 0).unwrap()
        );
        assert_eq!(
            parse_time("2024-01-01T10:00:00Z").unwrap(),
            Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap()
        );
        assert_eq!(parse_time("2024-01-01"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    fn issue() -> Value {
        json!({"id": "10001", "key": "ABC-1", "fields": {
            "summary": "Fix login", "created": "2024-01-01T10:00:00.000+0000",
            "updated": "2024-01-02T10:00:00.000+0000", "project": {"key": "ABC"},
            "reporter": {"displayName": "Ann Lee"}, "status": {"name": "Done"},
            "description": {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "It fails."}]}]}
        }})
    }

    #[test]
    fn an_issue_its_history_and_comments_become_events_with_jiras_ids() {
        let json = issue();
        let i = Issue::new(&json, "https://x.atlassian.net/").unwrap();
        let created = i.created().unwrap();
        assert_eq!(created.id, "issue:10001:created");
        assert_eq!(created.body, "It fails.");
        assert_eq!(created.actor.as_deref(), Some("Ann Lee"));
        assert_eq!(
            created.url.as_deref(),
            Some("https://x.atlassian.net/browse/ABC-1")
        );
        assert_eq!(created.context["project"], "ABC");
        let mut out = Vec::new();
        i.history(
            &json!({"id": "500", "created": "2024-01-01T11:00:00.000+0100",
                "author": {"displayName": "Bob"}, "items": [
                {"field": "status", "fieldId": "status", "fromString": "To Do", "toString": "Done"},
                {"field": "resolution", "fieldId": "resolution", "fromString": null, "toString": "Fixed"},
                {"field": "assignee", "fieldId": "assignee", "fromString": null, "toString": "Cy"},
                {"field": "labels", "fromString": "", "toString": "x"}]}),
            &mut out,
        );
        let ids: Vec<&str> = out.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "history:500:transitioned",
                "history:500:resolved",
                "history:500:assigned"
            ]
        );
        assert_eq!(out[0].title, "ABC-1 To Do → Done: Fix login");
        assert_eq!(out[0].actor.as_deref(), Some("Bob"));
        assert_eq!(
            out[0].occurred_at,
            parse_time("2024-01-01T10:00:00Z").unwrap()
        );
        out.clear();
        i.comment(
            &json!({"id": "9", "created": "2024-01-01T12:00:00.000+0000",
                "updated": "2024-01-01T13:00:00.000+0000", "author": {"displayName": "Bob"},
                "updateAuthor": {"displayName": "Cy"}, "body": "plain"}),
            &mut out,
        );
        let ids: Vec<&str> = out.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["comment:9", "comment:9:edited@1704114000000"]);
        assert_eq!(out[1].actor.as_deref(), Some("Cy"));
        assert!(Issue::new(&json!({"key": "A-1"}), "s").is_none());
    }
}
