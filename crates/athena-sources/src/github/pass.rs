//! One pass over a stream's list: newest first down to the stored mark, each page stored as
//! it is read under a cursor that says the pass is under way, then the new mark and the first
//! page's ETag. A sync with nothing new costs one request per stream, answered 304.
//!
//! Exactly once: a page's events go to the sink only once the page is read whole, and every
//! checkpoint between them carries a cursor true for everything emitted before it (a pass
//! under way is read again from the top, so its events come back as duplicates, never lost).

use athena_core::kit::{Sink, Stopped};
use athena_core::{Event, StateChange};
use athena_http::{Fetched, HttpError, HttpErrorKind, PageRead, Pages, Paging};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::cursor::{GitHubCursor, Pass, StreamCursor};
use super::fetch::{Api, Failure};
use super::json::{self, text_of, time, Ctx};
use super::streams::List;

/// Where a stream's findings go, and the cursor they go with.
pub(crate) struct Out<'a> {
    pub sink: &'a mut Sink,
    pub cursor: &'a mut GitHubCursor,
}

impl Out<'_> {
    /// Emits a page: its events with a checkpoint between each two, under the cursor as it is
    /// now; the last event and the state changes wait for the caller's checkpoint or commit.
    pub(crate) async fn emit(&mut self, page: Page) -> Result<(), Stopped> {
        let mut events = page.events.into_iter();
        if let Some(first) = events.next() {
            self.sink.event(first);
        }
        for event in events {
            let cursor = &*self.cursor;
            self.sink.checkpoint(|| cursor.encode()).await?;
            self.sink.event(event);
        }
        // Text digests go with (or after) their events: a crash between the two repeats an
        // edit (a duplicate), never loses one.
        for change in page.changes {
            self.sink.state(change);
        }
        Ok(())
    }

    /// A point where the cursor as it is now is true.
    pub(crate) async fn checkpoint(&mut self) -> Result<(), Stopped> {
        let cursor = &*self.cursor;
        self.sink.checkpoint(|| cursor.encode()).await
    }

    /// The cursor of `L`'s stream (created empty if the stream has none yet).
    pub(crate) fn entry<L: List>(&mut self) -> &mut L::Cursor {
        L::slot(&mut self.cursor.streams).get_or_insert_with(Default::default)
    }

    /// Sends what waits, with the cursor as it is now; if nothing waits, only if `changed`.
    pub(crate) async fn commit(&mut self, changed: bool) -> Result<(), Stopped> {
        if changed || self.sink.has_pending() {
            self.sink.commit(self.cursor.encode()).await?;
        }
        Ok(())
    }
}

/// What a page of a list yields.
#[derive(Default)]
pub(crate) struct Page {
    pub events: Vec<Event>,
    pub changes: Vec<StateChange>,
}

impl Page {
    /// An event of the repository.
    pub(crate) fn event(&mut self, ctx: &Ctx<'_>, mut event: Event) {
        event
            .context
            .insert("repository".into(), json!(ctx.repository));
        self.events.push(event);
    }
}

/// A pass under way: the API, where its pages go, and the newest mark read so far.
pub(crate) struct Reading<'r, 'o> {
    pub api: &'r Api<'r>,
    pub out: &'r mut Out<'o>,
    /// The newest mark read by this pass (and by the stopped pass it resumes).
    pub max_mark: Option<DateTime<Utc>>,
}

impl Reading<'_, '_> {
    /// A mark read.
    pub(crate) fn saw(&mut self, mark: DateTime<Utc>) {
        self.max_mark = Some(self.max_mark.map_or(mark, |m| m.max(mark)));
    }

    /// Stores a page of the pass that is not its last.
    pub(crate) async fn store<L: List>(&mut self, list: &L, page: Page) -> Result<(), Failure> {
        self.emit_in_pass(list, page).await?;
        self.out.checkpoint().await?;
        Ok(())
    }

    /// Emits a page under a cursor that says the pass is under way (if it has events).
    async fn emit_in_pass<L: List>(&mut self, list: &L, page: Page) -> Result<(), Stopped> {
        if !page.events.is_empty() {
            let entry = self.out.entry::<L>();
            list.stamp(entry);
            let l = entry.list_mut();
            l.etag = None;
            l.pass = Some(Pass {
                max_mark: self.max_mark.map(text_of),
            });
        }
        self.out.emit(page).await
    }
}

/// Reads one stream's list, newest first, down to the stored mark, storing each page as it
/// comes (see [`Pass`]); then saves the new mark and the first page's ETag.
pub(crate) async fn read<L: List>(
    list: &mut L,
    api: &Api<'_>,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    let name = L::STREAM.name();
    list.begin(L::slot(&mut out.cursor.streams));
    let saved = L::slot(&mut out.cursor.streams).clone().unwrap_or_default();
    let whole = list.whole(&saved);
    let mark = saved.list().mark.as_deref().and_then(time);
    let stop_before = mark.filter(|_| !whole).and_then(|m| list.stop_before(m));
    let mut url = api.url(&list.path(&api.repo_path()))?;
    let mut reading = Reading {
        api,
        out,
        max_mark: saved
            .list()
            .pass
            .as_ref()
            .and_then(|p| p.max_mark.as_deref())
            .and_then(time),
    };
    let mut pages = Pages::new(Paging::Link, url.clone());
    let mut first_etag = None;
    let last = loop {
        // Conditional only when the last pass was complete: its ETag then means "all
        // stored". A stopped pass is read again from the top: what it stored comes back as
        // duplicates, and what changed meanwhile (an item newly listed at an old place, a run
        // completed) is not skipped.
        let first = pages.count() == 1;
        let etag = match &saved.list().pass {
            None if first && !whole => saved.list().etag.as_deref(),
            _ => None,
        };
        let page = match api.client.get_json::<Value>(&url, etag).await {
            Ok(Fetched::NotModified) => {
                tracing::debug!(source = %api.source_id, stream = name, "not modified");
                return list.not_modified(&saved, &mut reading).await;
            }
            Ok(Fetched::Page(p)) => p,
            Err(e) if list.empty(&e) => return Ok(()),
            Err(e) => return Err(api.failure(&e)),
        };
        let Some(items) = L::items(&page.value) else {
            return Err(Failure::Http(HttpError::new(
                HttpErrorKind::Decode,
                "GET",
                athena_http::redact_url(&page.url),
                None,
                format!("the response is not a list of {name}"),
            )));
        };
        let items: Vec<L::Item> = items.iter().map(json::item).collect();
        if first {
            first_etag = page.etag.clone();
            if let Some(last) = list.first_page(&items, &saved, &mut reading).await? {
                break last;
            }
        }
        let (found, reached_mark) = read_items(list, &items, stop_before, &mut reading);
        let next = if reached_mark {
            None
        } else {
            let read = PageRead {
                url: &url,
                link: page.next.as_ref(),
                body: &page.value,
                items: items.len(),
            };
            pages.next(read).map_err(Failure::Http)?
        };
        let Some(next) = next else {
            break found;
        };
        reading.store(list, found).await?;
        url = next;
    };
    complete(list, &saved, reading, last, first_etag, mark).await
}

/// Reads a page's items down to `stop_before`; says whether it was reached.
fn read_items<L: List>(
    list: &mut L,
    items: &[L::Item],
    stop_before: Option<DateTime<Utc>>,
    reading: &mut Reading<'_, '_>,
) -> (Page, bool) {
    let mut page = Page::default();
    for item in items {
        if let (Some(stop), Some(order)) = (stop_before, L::order_time(item)) {
            if order < stop {
                return (page, true);
            }
        }
        list.listed(item);
        let Some(mark) = L::mark(item) else {
            continue; // a draft release, a run still running
        };
        if stop_before.is_some_and(|s| mark < s) {
            continue; // stored by an earlier pass
        }
        list.read(item, &reading.api.ctx, &mut page);
        reading.saw(mark);
    }
    (page, false)
}

/// The last page completes the pass: the new mark, and the first page's ETag.
async fn complete<L: List>(
    list: &mut L,
    saved: &L::Cursor,
    mut reading: Reading<'_, '_>,
    mut last: Page,
    first_etag: Option<String>,
    mark: Option<DateTime<Utc>>,
) -> Result<(), Failure> {
    list.finish(saved, reading.api, &mut last).await?;
    reading.emit_in_pass(list, last).await?;
    let max_mark = reading.max_mark;
    let entry = reading.out.entry::<L>();
    let before = entry.clone();
    list.stamp(entry);
    let l = entry.list_mut();
    l.pass = None;
    l.etag = first_etag;
    if let Some(m) = max_mark {
        if mark.is_none_or(|old| m > old) {
            l.mark = Some(text_of(m));
        }
    }
    list.complete(entry);
    let changed = *entry != before;
    reading.out.commit(changed).await?;
    Ok(())
}
