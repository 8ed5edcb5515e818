//! `releases`: releases published (drafts wait until they are).

use athena_core::Event;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::List;
use crate::github::config::Stream;
use crate::github::cursor::{ListCursor, Streams};
use crate::github::json::{login, Account, Ctx, Lax};
use crate::github::pass::Page;

/// An element of the releases list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Release {
    id: Lax<u64>,
    draft: Lax<bool>,
    tag_name: Lax<String>,
    name: Lax<String>,
    body: Lax<String>,
    author: Lax<Account>,
    html_url: Lax<String>,
    created_at: Lax<String>,
    published_at: Lax<String>,
    prerelease: Value,
}

pub(crate) struct Releases;

impl List for Releases {
    const STREAM: Stream = Stream::Releases;
    type Item = Release;
    type Cursor = ListCursor;

    fn slot(streams: &mut Streams) -> &mut Option<ListCursor> {
        &mut streams.releases
    }

    fn path(&self, repo: &str) -> String {
        format!("{repo}/releases?per_page=100")
    }

    fn order_time(item: &Release) -> Option<DateTime<Utc>> {
        item.created_at.time()
    }

    fn mark(item: &Release) -> Option<DateTime<Utc>> {
        item.published_at.time()
    }

    /// A repository's releases are few: read them all, so a draft published long after it
    /// was created is not missed.
    fn stop_before(&self, mark: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(mark - chrono::Duration::days(365 * 100))
    }

    fn read(&mut self, item: &Release, ctx: &Ctx<'_>, page: &mut Page) {
        if let Some(e) = event(item) {
            page.event(ctx, e);
        }
    }
}

fn event(item: &Release) -> Option<Event> {
    if *item.draft == Some(true) {
        return None;
    }
    let id = (*item.id)?;
    let at = item.published_at.time()?;
    let tag = item.tag_name.as_deref().unwrap_or("");
    let name = item
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(tag);
    let mut e = Event::new(
        format!("release:{id}"),
        "release_published",
        at,
        format!("released {name}"),
    );
    e.body = item.body.as_deref().unwrap_or("").to_string();
    e.actor = login(&item.author);
    e.url = item.html_url.0.clone();
    let mut m = Map::new();
    m.insert("release_id".into(), json!(id));
    m.insert("tag_name".into(), json!(tag));
    m.insert("prerelease".into(), item.prerelease.clone());
    e.metadata = m;
    Some(e)
}
