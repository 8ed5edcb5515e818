//! `pull_requests`: pull requests opened, merged or closed unmerged, and their titles and
//! bodies edited.

use athena_core::{Event, Outcome};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::threads::{Texts, Thread, ThreadsCursor, PULL_BIT};
use super::List;
use crate::github::config::Stream;
use crate::github::cursor::Streams;
use crate::github::json::{time, Ctx, Lax};
use crate::github::pass::Page;

/// An element of the pull requests list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PullRequest {
    #[serde(flatten)]
    thread: Thread,
    merged_at: Value,
    draft: Value,
    base: Lax<Ref>,
    head: Lax<Ref>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Ref {
    #[serde(rename = "ref")]
    name: Lax<String>,
}

fn ref_name(r: &Lax<Ref>) -> Option<&str> {
    r.as_ref().and_then(|r| r.name.as_deref())
}

pub(crate) struct PullRequests<'t> {
    texts: &'t mut Texts,
}

impl<'t> PullRequests<'t> {
    pub(crate) fn new(texts: &'t mut Texts) -> Self {
        PullRequests { texts }
    }
}

impl List for PullRequests<'_> {
    const STREAM: Stream = Stream::PullRequests;
    type Item = PullRequest;
    type Cursor = ThreadsCursor;

    fn slot(streams: &mut Streams) -> &mut Option<ThreadsCursor> {
        &mut streams.pull_requests
    }

    fn path(&self, repo: &str) -> String {
        format!("{repo}/pulls?state=all&sort=updated&direction=desc&per_page=100")
    }

    fn order_time(item: &PullRequest) -> Option<DateTime<Utc>> {
        item.thread.updated()
    }

    fn mark(item: &PullRequest) -> Option<DateTime<Utc>> {
        item.thread.updated()
    }

    fn whole(&self, saved: &ThreadsCursor) -> bool {
        !saved.digests
    }

    fn read(&mut self, item: &PullRequest, ctx: &Ctx<'_>, page: &mut Page) {
        for e in events(item, ctx) {
            page.event(ctx, e);
        }
        self.texts
            .record(&item.thread, PULL_BIT, "pull_request_edited", ctx, page);
    }

    fn complete(&mut self, cursor: &mut ThreadsCursor) {
        cursor.digests = true;
    }
}

fn events(item: &PullRequest, ctx: &Ctx<'_>) -> Vec<Event> {
    let t = &item.thread;
    let mut out: Vec<Event> = t.opened(ctx, "pull_request_opened").into_iter().collect();
    let merged = item.merged_at.as_str().and_then(time);
    if let Some(at) = merged {
        out.extend(
            t.event(ctx, "pull_request_merged", "merged", at)
                .map(|mut e| {
                    e.outcome = Some(Outcome::Success);
                    e
                }),
        );
    } else if let (Some(at), true) = (t.closed(), t.is_closed()) {
        out.extend(
            t.event(ctx, "pull_request_closed", "closed", at)
                .map(|mut e| {
                    e.outcome = Some(Outcome::Failure);
                    e
                }),
        );
    }
    for e in &mut out {
        let m = &mut e.metadata;
        m.insert("base".into(), json!(ref_name(&item.base)));
        m.insert("head".into(), json!(ref_name(&item.head)));
        m.insert("draft".into(), item.draft.clone());
        m.insert("merged_at".into(), item.merged_at.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::json::item;

    #[test]
    fn a_merged_pull_request_yields_opened_and_merged() {
        let pr: PullRequest = item(&json!({
            "number": 7, "title": "Add x", "body": "details", "state": "closed",
            "user": {"login": "ann"}, "html_url": "https://github.com/o/r/pull/7",
            "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-02T10:00:00Z",
            "closed_at": "2024-01-02T10:00:00Z", "merged_at": "2024-01-02T10:00:00Z",
            "base": {"ref": "main"}, "head": {"ref": "x"}, "labels": [{"name": "bug"}]
        }));
        let ctx = Ctx {
            repository: "o/r",
            branch: Some("main"),
        };
        let mut texts = Texts::restore("o/r", Vec::new());
        let mut page = Page::default();
        PullRequests::new(&mut texts).read(&pr, &ctx, &mut page);
        let events = page.events;
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["pull_request_opened", "pull_request_merged"]);
        assert_eq!(events[0].id, "o/r#7:pull_request_opened");
        assert_eq!(events[1].id, "o/r#7:pull_request_merged");
        assert_eq!(events[1].outcome, Some(Outcome::Success));
        assert_eq!(events[0].actor.as_deref(), Some("ann"));
        assert_eq!(events[0].metadata["labels"], json!(["bug"]));
        assert_eq!(events[0].metadata["base"], "main");
        assert_eq!(events[0].context["repository"], "o/r");
        assert_eq!(page.changes[0].key, b"o/r#pull:7");
    }
}
