//! `issues`: issues opened and closed, and their titles and bodies edited. GitHub lists pull
//! requests here too; the `pull_requests` stream stores those.

use athena_core::Event;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::threads::{Texts, Thread, ThreadsCursor};
use super::List;
use crate::github::config::Stream;
use crate::github::cursor::Streams;
use crate::github::json::Ctx;
use crate::github::pass::Page;

/// An element of the issues list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Issue {
    #[serde(flatten)]
    thread: Thread,
    state_reason: Value,
    /// Present (whatever its value) on the pull requests the list carries.
    #[serde(deserialize_with = "present")]
    pull_request: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

pub(crate) struct Issues<'t> {
    texts: &'t mut Texts,
}

impl<'t> Issues<'t> {
    pub(crate) fn new(texts: &'t mut Texts) -> Self {
        Issues { texts }
    }
}

impl List for Issues<'_> {
    const STREAM: Stream = Stream::Issues;
    type Item = Issue;
    type Cursor = ThreadsCursor;

    fn slot(streams: &mut Streams) -> &mut Option<ThreadsCursor> {
        &mut streams.issues
    }

    fn path(&self, repo: &str) -> String {
        format!("{repo}/issues?state=all&sort=updated&direction=desc&per_page=100")
    }

    fn order_time(item: &Issue) -> Option<DateTime<Utc>> {
        item.thread.updated()
    }

    fn mark(item: &Issue) -> Option<DateTime<Utc>> {
        item.thread.updated()
    }

    fn whole(&self, saved: &ThreadsCursor) -> bool {
        !saved.digests
    }

    fn read(&mut self, item: &Issue, ctx: &Ctx<'_>, page: &mut Page) {
        if item.pull_request {
            return;
        }
        for e in events(item, ctx) {
            page.event(ctx, e);
        }
        self.texts
            .record(&item.thread, 0, "issue_edited", ctx, page);
    }

    fn complete(&mut self, cursor: &mut ThreadsCursor) {
        cursor.digests = true;
    }
}

fn events(item: &Issue, ctx: &Ctx<'_>) -> Vec<Event> {
    let t = &item.thread;
    let mut out: Vec<Event> = t.opened(ctx, "issue_opened").into_iter().collect();
    if let (Some(at), true) = (t.closed(), t.is_closed()) {
        out.extend(t.event(ctx, "issue_closed", "closed", at).map(|mut e| {
            e.metadata
                .insert("state_reason".into(), item.state_reason.clone());
            e
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::github::json::item;

    #[test]
    fn pull_requests_in_the_issues_list_are_skipped() {
        let ctx = Ctx {
            repository: "o/r",
            branch: None,
        };
        let mut texts = Texts::restore("o/r", Vec::new());
        let mut issues = Issues::new(&mut texts);
        let mut page = Page::default();
        for pr in [json!({}), json!(null)] {
            let it: Issue = item(
                &json!({"number": 1, "created_at": "2024-01-01T00:00:00Z", "pull_request": pr}),
            );
            issues.read(&it, &ctx, &mut page);
        }
        assert!(page.events.is_empty() && page.changes.is_empty());
        let it: Issue = item(&json!({"number": 1, "created_at": "2024-01-01T00:00:00Z",
            "state": "closed", "closed_at": "2024-01-02T00:00:00Z", "state_reason": "completed"}));
        issues.read(&it, &ctx, &mut page);
        let ids: Vec<&str> = page.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "o/r#1:issue_opened",
                "o/r#1:issue_closed@2024-01-02T00:00:00Z"
            ]
        );
        assert_eq!(page.events[1].metadata["state_reason"], "completed");
        assert_eq!(page.events[0].context["repository"], "o/r");
    }
}
