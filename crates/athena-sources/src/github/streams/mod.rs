//! The streams, one module each: the list GitHub is asked for, its items as typed serde
//! structs, the events one item yields, and what the stream keeps in its cursor. The paging
//! they share is [`super::pass`]; a stream says how it differs through [`List`]'s hooks.

pub(crate) mod comments;
pub(crate) mod commits;
pub(crate) mod issues;
pub(crate) mod pull_requests;
pub(crate) mod releases;
pub(crate) mod threads;
pub(crate) mod workflow_runs;

use async_trait::async_trait;
use athena_http::HttpError;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::Stream;
use super::cursor::{StreamCursor, Streams};
use super::fetch::{Api, Failure};
use super::json::Ctx;
use super::pass::{self, Out, Page, Reading};
use threads::Texts;

/// One stream's list: what sets it apart from the others. A pass reads it newest first down
/// to the stored mark ([`super::pass::read`]); the provided methods are the points where a
/// stream does more, each a no-op by default.
#[async_trait]
pub(crate) trait List: Send {
    /// The stream: its name in the config and the cursor.
    const STREAM: Stream;
    /// One element of the list, as GitHub serves it.
    type Item: DeserializeOwned + Default + Send + Sync;
    /// What the stream keeps in the cursor.
    type Cursor: StreamCursor;

    /// Where the stream's cursor is in the whole one.
    fn slot(streams: &mut Streams) -> &mut Option<Self::Cursor>;

    /// The first page's path and query. Every list is read newest first and the same URL is
    /// asked every sync, so its ETag can say "nothing new" with a 304.
    /// `repo`: `repos/{owner}/{repo}`, encoded.
    fn path(&self, repo: &str) -> String;

    /// The time the list is sorted by, newest first: paging stops at an item listed before
    /// [`List::stop_before`].
    fn order_time(item: &Self::Item) -> Option<DateTime<Utc>>;

    /// The item's high-water mark, if it is to be stored now: the cursor keeps the latest
    /// one stored. Items older than where the pass stops were stored before and are skipped.
    fn mark(item: &Self::Item) -> Option<DateTime<Utc>>;

    /// The events (and state changes) an item yields.
    fn read(&mut self, item: &Self::Item, ctx: &Ctx<'_>, page: &mut Page);

    /// The items of a page, or `None` if the page is not shaped as this list.
    fn items(page: &Value) -> Option<&Vec<Value>> {
        page.as_array()
    }

    /// Where paging stops, given the stored mark (`None`: the whole list is read). Lists whose
    /// order is not their mark's read on for an overlap.
    fn stop_before(&self, mark: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(mark)
    }

    /// Whether this pass reads the whole list, trusting neither the mark nor the ETag.
    fn whole(&self, _saved: &Self::Cursor) -> bool {
        false
    }

    /// Before the pass, with the cursor as saved.
    fn begin(&self, _slot: &mut Option<Self::Cursor>) {}

    /// What the stream writes into its cursor whenever the cursor is written.
    fn stamp(&self, _cursor: &mut Self::Cursor) {}

    /// An error that means the list is empty (nothing to read, nothing to store).
    fn empty(&self, _e: &HttpError) -> bool {
        false
    }

    /// Every item listed above where the pass stops, stored now or not.
    fn listed(&mut self, _item: &Self::Item) {}

    /// The first page: the pass may be read another way from here, whose last page is
    /// returned for the pass's completion.
    async fn first_page(
        &mut self,
        _items: &[Self::Item],
        _saved: &Self::Cursor,
        _reading: &mut Reading<'_, '_>,
    ) -> Result<Option<Page>, Failure> {
        Ok(None)
    }

    /// The list's first page did not change since the last complete pass.
    async fn not_modified(
        &mut self,
        _saved: &Self::Cursor,
        _reading: &mut Reading<'_, '_>,
    ) -> Result<(), Failure> {
        Ok(())
    }

    /// After the last page, before the pass completes: more events for it.
    async fn finish(
        &mut self,
        _saved: &Self::Cursor,
        _api: &Api<'_>,
        _last: &mut Page,
    ) -> Result<(), Failure> {
        Ok(())
    }

    /// The pass completed: what else the cursor says now.
    fn complete(&mut self, _cursor: &mut Self::Cursor) {}
}

/// Reads one stream into `out`.
pub(crate) async fn read(
    stream: Stream,
    api: &Api<'_>,
    texts: &mut Texts,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    match stream {
        Stream::Commits => pass::read(&mut commits::Commits::new(api.ctx.branch), api, out).await,
        Stream::PullRequests => {
            pass::read(&mut pull_requests::PullRequests::new(texts), api, out).await
        }
        Stream::Issues => pass::read(&mut issues::Issues::new(texts), api, out).await,
        Stream::IssueComments => pass::read(&mut comments::Comments, api, out).await,
        Stream::Releases => pass::read(&mut releases::Releases, api, out).await,
        Stream::WorkflowRuns => {
            pass::read(&mut workflow_runs::WorkflowRuns::default(), api, out).await
        }
    }
}
