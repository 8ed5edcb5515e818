//! `commits`: the commits of one branch. The first sync lists the branch whole; later ones
//! ask GitHub to compare the stored head with the branch's tip, so a branch merged late,
//! bringing commits dated long before the mark, is read whole too.

use async_trait::async_trait;
use athena_core::Event;
use athena_http::{Fetched, HttpError, HttpErrorKind, PageRead, Pages, Paging, Url};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::List;
use crate::github::config::Stream;
use crate::github::cursor::{ListCursor, StreamCursor, Streams};
use crate::github::fetch::{Api, Failure};
use crate::github::json::{encode, item, login, percent_encode, Account, Ctx, Lax};
use crate::github::pass::{Page, Reading};

/// An element of the commits list (and of a comparison's).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Commit {
    sha: Lax<String>,
    html_url: Lax<String>,
    commit: Lax<Detail>,
    author: Lax<Account>,
    committer: Lax<Account>,
    parents: Lax<Vec<Lax<Parent>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Detail {
    message: Lax<String>,
    author: Lax<Signature>,
    committer: Lax<Signature>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Signature {
    name: Lax<String>,
    email: Lax<String>,
    date: Lax<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Parent {
    sha: Lax<String>,
}

impl Commit {
    fn signature(&self, who: fn(&Detail) -> &Lax<Signature>) -> Option<&Signature> {
        self.commit.as_ref().and_then(|d| who(d).as_ref())
    }

    fn committed(&self) -> Option<DateTime<Utc>> {
        self.signature(|d| &d.committer)?.date.time()
    }
}

/// A page of a comparison: the commits reachable from the head but not from the base.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Comparison {
    commits: Lax<Vec<Value>>,
    total_commits: Lax<u64>,
}

/// The cursor of `commits`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommitsCursor {
    /// The branch the cursor is about (another branch starts over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The newest commit of the last complete pass. Everything reachable from it is stored,
    /// so the next pass asks GitHub for the commits reachable from the branch but not from it
    /// (the compare API), whatever their dates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    #[serde(flatten)]
    pub list: ListCursor,
}

impl StreamCursor for CommitsCursor {
    fn list(&self) -> &ListCursor {
        &self.list
    }
    fn list_mut(&mut self) -> &mut ListCursor {
        &mut self.list
    }
}

#[derive(Default)]
pub(crate) struct Commits {
    /// The configured branch.
    branch: Option<String>,
    /// The newest commit listed: the head of the next pass.
    new_head: Option<String>,
}

impl Commits {
    pub(crate) fn new(branch: Option<&str>) -> Self {
        Commits {
            branch: branch.map(str::to_string),
            new_head: None,
        }
    }
}

#[async_trait]
impl List for Commits {
    const STREAM: Stream = Stream::Commits;
    type Item = Commit;
    type Cursor = CommitsCursor;

    fn slot(streams: &mut Streams) -> &mut Option<CommitsCursor> {
        &mut streams.commits
    }

    fn path(&self, repo: &str) -> String {
        match &self.branch {
            Some(b) => format!("{repo}/commits?sha={}&per_page=100", encode(b)),
            None => format!("{repo}/commits?per_page=100"),
        }
    }

    fn order_time(item: &Commit) -> Option<DateTime<Utc>> {
        item.committed()
    }

    fn mark(item: &Commit) -> Option<DateTime<Utc>> {
        item.committed()
    }

    /// Commits do not page down to a mark: they are compared from the stored head.
    fn stop_before(&self, _mark: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }

    fn read(&mut self, item: &Commit, ctx: &Ctx<'_>, page: &mut Page) {
        if let Some(e) = event(item, ctx) {
            page.event(ctx, e);
        }
    }

    /// A cursor about another branch is dropped: that branch is read from its start, and
    /// every cursor written from now on says so.
    fn begin(&self, slot: &mut Option<CommitsCursor>) {
        if slot.as_ref().is_some_and(|s| s.branch != self.branch) {
            *slot = Some(CommitsCursor {
                branch: self.branch.clone(),
                ..CommitsCursor::default()
            });
        }
    }

    fn stamp(&self, cursor: &mut CommitsCursor) {
        cursor.branch.clone_from(&self.branch);
    }

    /// An empty repository has no commits to list (409).
    fn empty(&self, e: &HttpError) -> bool {
        e.status == Some(409)
    }

    /// GitHub lists a branch's commits from its tip: the first is the head. With a stored
    /// head, the commits since are read by comparison; if GitHub no longer knows the stored
    /// head (a force-push, then garbage collection), the whole list is read instead.
    async fn first_page(
        &mut self,
        items: &[Commit],
        saved: &CommitsCursor,
        reading: &mut Reading<'_, '_>,
    ) -> Result<Option<Page>, Failure> {
        self.new_head = items.first().and_then(|c| c.sha.0.clone());
        match (&saved.head, &self.new_head) {
            (Some(old), Some(new)) => self.compare(old, new, reading).await,
            _ => Ok(None),
        }
    }

    fn complete(&mut self, cursor: &mut CommitsCursor) {
        if self.new_head.is_some() {
            cursor.head.clone_from(&self.new_head);
        }
    }
}

impl Commits {
    /// Reads the commits reachable from `new` (the branch's tip) but not from `old`, a page at
    /// a time, storing every page but the last under a cursor that says a pass is under way;
    /// returns the last page, for the pass's completion. `None` when GitHub no longer knows
    /// `old` (or cannot compare them): the caller then reads the whole list.
    async fn compare(
        &self,
        old: &str,
        new: &str,
        reading: &mut Reading<'_, '_>,
    ) -> Result<Option<Page>, Failure> {
        if old == new {
            return Ok(Some(Page::default()));
        }
        let api = reading.api;
        // `per_page` makes GitHub page the comparison; without it the list stops at 250.
        let path = format!(
            "repos/{}/{}/compare/{}...{}?per_page=100",
            api.config.owner,
            api.config.repo,
            encode_ref(old),
            encode_ref(new)
        );
        let mut url = api.url(&path)?;
        let mut pages = Pages::new(Paging::Link, url.clone());
        let (mut total, mut received) = (None, 0u64);
        loop {
            let first = pages.count() == 1;
            let Some(page) = fetch_comparison(reading.api, &url, first, old).await? else {
                return Ok(None);
            };
            let comparison: Comparison = item(&page.value);
            let Some(commits) = &comparison.commits.0 else {
                return Err(Failure::Http(HttpError::new(
                    HttpErrorKind::Decode,
                    "GET",
                    athena_http::redact_url(&page.url),
                    None,
                    "the response is not a comparison of commits",
                )));
            };
            total = total.or(*comparison.total_commits);
            received += commits.len() as u64;
            let mut found = Page::default();
            for commit in commits.iter().map(item::<Commit>) {
                if let Some(e) = event(&commit, &api.ctx) {
                    found.event(&api.ctx, e);
                }
                if let Some(at) = Self::mark(&commit) {
                    reading.saw(at);
                }
            }
            let read = PageRead {
                url: &url,
                link: page.next.as_ref(),
                body: &page.value,
                items: commits.len(),
            };
            let next = pages.next(read).map_err(Failure::Http)?;
            let Some(next) = next else {
                // The head moves only past a comparison read whole.
                if let Some(total) = total.filter(|&t| received < t) {
                    return Err(Failure::Http(HttpError::new(
                        HttpErrorKind::Decode,
                        "GET",
                        athena_http::redact_url(&page.url),
                        None,
                        format!("the comparison listed {received} of its {total} commits"),
                    )));
                }
                return Ok(Some(found));
            };
            reading.store(self, found).await?;
            url = next;
        }
    }
}

/// A page of a comparison: `None` if GitHub cannot compare from `old` (the first page only).
async fn fetch_comparison(
    api: &Api<'_>,
    url: &Url,
    first: bool,
    old: &str,
) -> Result<Option<Box<athena_http::Page<Value>>>, Failure> {
    match api.client.get_json::<Value>(url, None).await {
        Ok(Fetched::Page(p)) => Ok(Some(p)),
        Ok(Fetched::NotModified) => Err(Failure::Http(HttpError::new(
            HttpErrorKind::Decode,
            "GET",
            athena_http::redact_url(url),
            None,
            "304 to an unconditional request",
        ))),
        // An unknown commit: 404; no common history: 422. A comparison GitHub cannot produce
        // (5xx after the retries, on a huge push) is read from the list too.
        Err(e) if first && incomparable(&e) => {
            tracing::info!(source = %api.source_id, "comparing from commit {old} failed ({e}); reading the whole list");
            Ok(None)
        }
        Err(e) => Err(api.failure(&e)),
    }
}

/// Whether a comparison failed in a way the whole list can make up for.
fn incomparable(e: &HttpError) -> bool {
    matches!(e.status, Some(404 | 422)) || matches!(e.kind, HttpErrorKind::Server)
}

/// A commit or branch name in a compare URL's path: slashes stay (GitHub reads
/// `compare/main...feat/x`), anything else outside the unreserved set is percent-encoded.
fn encode_ref(r: &str) -> String {
    percent_encode(r, b"/")
}

fn event(item: &Commit, ctx: &Ctx<'_>) -> Option<Event> {
    let sha = item.sha.as_deref()?;
    let at = item.committed()?;
    let detail = item.commit.as_ref();
    let message = detail.and_then(|d| d.message.as_deref()).unwrap_or("");
    let (subject, body) = message.split_once('\n').unwrap_or((message, ""));
    let mut e = Event::new(sha, "commit", at, subject.trim());
    e.body = body.trim().to_string();
    let author = item.signature(|d| &d.author);
    e.actor = login(&item.author).or_else(|| author.and_then(|s| s.name.0.clone()));
    e.url = item.html_url.0.clone();
    if let Some(b) = ctx.branch {
        e.context.insert("branch".into(), json!(b));
    }
    let mut m = Map::new();
    m.insert("sha".into(), json!(sha));
    for (who, signature, account) in [
        ("author", author, &item.author),
        (
            "committer",
            item.signature(|d| &d.committer),
            &item.committer,
        ),
    ] {
        let field = |f: fn(&Signature) -> &Lax<String>| signature.and_then(|s| f(s).as_deref());
        m.insert(
            who.into(),
            json!({
                "name": field(|s| &s.name),
                "email": field(|s| &s.email),
                "date": field(|s| &s.date),
                "login": account.as_ref().and_then(|a| a.login.as_deref()),
            }),
        );
    }
    let parents: Vec<&str> = item
        .parents
        .each()
        .filter_map(|p| p.sha.as_deref())
        .collect();
    m.insert("merge".into(), json!(parents.len() > 1));
    m.insert("parents".into(), json!(parents));
    e.metadata = m;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_encoded_in_the_query_and_refs_keep_their_slashes() {
        assert_eq!(
            Commits::new(Some("feat/a&b")).path("repos/o/r"),
            "repos/o/r/commits?sha=feat%2Fa%26b&per_page=100"
        );
        assert_eq!(encode_ref("feat/a b"), "feat/a%20b");
    }

    #[test]
    fn a_commit_names_its_parents_and_falls_back_to_the_authors_name() {
        let c: Commit = item(&json!({
            "sha": "abc", "commit": {"message": "subject\n\nbody", "author": {"name": "Ann"},
            "committer": {"date": "2024-01-01T00:00:00Z"}}, "author": null,
            "parents": [{"sha": "p1"}, {"sha": "p2"}]
        }));
        let ctx = Ctx {
            repository: "o/r",
            branch: Some("main"),
        };
        let e = event(&c, &ctx).unwrap();
        assert_eq!((e.title.as_str(), e.body.as_str()), ("subject", "body"));
        assert_eq!(e.actor.as_deref(), Some("Ann"));
        assert_eq!(e.metadata["merge"], true);
        assert_eq!(e.metadata["author"]["login"], Value::Null);
        assert_eq!(e.context["branch"], "main");
    }
}
