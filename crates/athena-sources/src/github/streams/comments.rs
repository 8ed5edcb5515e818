//! `issue_comments`: comments on issues and pull requests, and their edits.

use athena_core::Event;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::List;
use crate::github::config::Stream;
use crate::github::cursor::{ListCursor, Streams};
use crate::github::json::{login, time, Account, Ctx, Lax};
use crate::github::pass::Page;

/// An element of the comments list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Comment {
    id: Lax<u64>,
    body: Lax<String>,
    user: Lax<Account>,
    html_url: Lax<String>,
    /// `…/issues/42`: the thread the comment is on.
    issue_url: Lax<String>,
    created_at: Lax<String>,
    updated_at: Value,
    author_association: Value,
}

pub(crate) struct Comments;

impl List for Comments {
    const STREAM: Stream = Stream::IssueComments;
    type Item = Comment;
    type Cursor = ListCursor;

    fn slot(streams: &mut Streams) -> &mut Option<ListCursor> {
        &mut streams.issue_comments
    }

    fn path(&self, repo: &str) -> String {
        format!("{repo}/issues/comments?sort=updated&direction=desc&per_page=100")
    }

    fn order_time(item: &Comment) -> Option<DateTime<Utc>> {
        item.updated_at.as_str().and_then(time)
    }

    fn mark(item: &Comment) -> Option<DateTime<Utc>> {
        item.updated_at.as_str().and_then(time)
    }

    fn read(&mut self, item: &Comment, ctx: &Ctx<'_>, page: &mut Page) {
        for e in events(item) {
            page.event(ctx, e);
        }
    }
}

/// A comment, and when GitHub says it was updated after its creation, an edit: the text as
/// of that update (the REST API keeps only the latest text and does not say who edited).
fn events(item: &Comment) -> Vec<Event> {
    let (Some(id), Some(at)) = (*item.id, item.created_at.time()) else {
        return Vec::new();
    };
    let number = item
        .issue_url
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .and_then(|n| n.parse::<u64>().ok());
    let title = match number {
        Some(n) => format!("comment on #{n}"),
        None => "comment".to_string(),
    };
    let mut e = Event::new(format!("comment:{id}"), "issue_comment", at, title.clone());
    e.body = item.body.as_deref().unwrap_or("").to_string();
    e.actor = login(&item.user);
    e.url = item.html_url.0.clone();
    if let Some(n) = number {
        e.context.insert("number".into(), json!(n));
    }
    let mut m = Map::new();
    m.insert("comment_id".into(), json!(id));
    m.insert("updated_at".into(), item.updated_at.clone());
    m.insert("author_association".into(), item.author_association.clone());
    e.metadata = m;
    let updated = item.updated_at.as_str().and_then(|u| Some((u, time(u)?)));
    let Some((updated_text, updated)) = updated.filter(|(_, u)| *u > at) else {
        return vec![e];
    };
    let mut edit = Event::new(
        format!("comment:{id}:edited@{updated_text}"),
        "issue_comment_edited",
        updated,
        format!("{title} edited"),
    );
    edit.body = e.body.clone();
    edit.actor = e.actor.clone();
    edit.url = e.url.clone();
    edit.context = e.context.clone();
    edit.metadata = e.metadata.clone();
    edit.metadata
        .insert("created_at".into(), json!(item.created_at.0));
    vec![e, edit]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::json::item;

    #[test]
    fn an_edited_comment_also_yields_its_edit() {
        let mut c = json!({
            "id": 5, "body": "first", "user": {"login": "ann"},
            "issue_url": "https://api.github.com/repos/o/r/issues/9",
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        });
        let plain = events(&item(&c));
        assert_eq!(plain.len(), 1);
        assert_eq!(
            (plain[0].id.as_str(), plain[0].kind.as_str()),
            ("comment:5", "issue_comment")
        );
        c["body"] = json!("second");
        c["updated_at"] = json!("2024-01-03T10:00:00Z");
        let both = events(&item(&c));
        assert_eq!(both.len(), 2);
        let edit = &both[1];
        assert_eq!(edit.id, "comment:5:edited@2024-01-03T10:00:00Z");
        assert_eq!(edit.kind, "issue_comment_edited");
        assert_eq!(edit.body, "second");
        assert_eq!(edit.title, "comment on #9 edited");
        assert_eq!(edit.occurred_at.to_rfc3339(), "2024-01-03T10:00:00+00:00");
        assert_eq!(edit.context["number"], 9);
        assert_eq!(edit.metadata["created_at"], "2024-01-01T00:00:00Z");
        // The comment itself keeps its id, so a store that has it keeps its first text.
        assert_eq!(both[0].id, "comment:5");
    }
}
