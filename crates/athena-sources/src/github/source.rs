//! The `github` source: reads each stream's list newest first down to the stored high-water
//! mark, storing each page as it is read, in batches whose cursor moves with them. Commits are
//! read by comparison from the stored head to the branch's tip instead (see `Job::compare`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;

use async_trait::async_trait;
use athena_core::{
    Batch, BatchStream, ConfigError, Cursor, Event, EventSource, SourceConfig, SourceError,
    SourceInfo, SourceState, SourceStats, StateChange,
};
use athena_http::{ApiClient, Fetched, HttpError, HttpErrorKind, HttpStats, Url};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{GitHubConfig, Stream};
use super::streams::{
    edited, parse_text_state_key, text_digest, text_state_key, time, Ctx, TextKey,
};
use crate::api;

/// Version 1:
///
/// ```json
/// {"version":1,"streams":{"issues":{"mark":"2024-05-01T10:00:00Z","etag":"W/\"…\""},
///  "commits":{"head":"<sha>","mark":"…","etag":"…"}}}
/// ```
///
/// Per stream: `mark`, the latest high-water time stored (items older than it were stored
/// before), the `etag` of the stream's first page when the whole list was last stored, so the
/// next sync can ask "changed since?" and get a 304, and while a pass is unfinished, `pass`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct GitHubCursor {
    version: u32,
    streams: BTreeMap<String, StreamCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StreamCursor {
    /// For commits: the branch the mark is about (another branch starts over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    branch: Option<String>,
    /// For commits: the newest commit of the last complete pass. Everything reachable from it
    /// is stored, so the next pass asks GitHub for the commits reachable from the branch but
    /// not from it (the compare API), whatever their dates: a branch merged late brings
    /// commits dated long before the mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    /// A pass that stopped before reaching the mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass: Option<Pass>,
    /// For workflow runs: the runs listed while still queued, waiting or running, with the
    /// attempt seen. One waiting longer than the overlap (an approval) is listed beyond where
    /// the next passes stop, so each sync asks for these by id until they complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    waiting: Vec<WaitingRun>,
    /// For issues and pull requests: a complete pass has recorded the digest of every item's
    /// text (see [`GitHubSource::texts`]). Until then passes read the whole list, so that an
    /// item not updated for years still has a digest when it is next edited.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    digests: bool,
}

/// A workflow run seen not completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct WaitingRun {
    id: u64,
    /// The attempt that was not completed: a re-run started before the next sync has a higher
    /// one, and the attempts in between are asked for one by one.
    attempt: u64,
}

impl WaitingRun {
    /// The run as listed, if it is not completed and recent enough to follow.
    fn of(item: &Value) -> Option<WaitingRun> {
        if item.get("status").and_then(Value::as_str) == Some("completed") || abandoned(item) {
            return None;
        }
        Some(WaitingRun {
            id: item.get("id")?.as_u64()?,
            attempt: item.get("run_attempt").and_then(Value::as_u64).unwrap_or(1),
        })
    }
}

/// Whether a run not completed has waited past the point where GitHub would still finish it:
/// [`WAITING_DAYS`] after its latest attempt started (or after its creation).
fn abandoned(run: &Value) -> bool {
    let started = ["/run_started_at", "/created_at"]
        .iter()
        .filter_map(|p| run.pointer(p).and_then(Value::as_str).and_then(time))
        .max();
    started.is_some_and(|t| Utc::now() - t > chrono::Duration::days(WAITING_DAYS))
}

/// The most waiting runs a cursor follows (the newest are kept).
const MAX_WAITING_RUNS: usize = 200;

/// Days after its latest start a run that has not completed is no longer followed (GitHub
/// lets a run wait 30 days for approval).
const WAITING_DAYS: i64 = 35;

/// A pass over a stream's list (newest first, each page stored as it is read) that has not
/// reached the mark yet. The next sync reads the list again from the top, without trusting the
/// ETag; what the pass stored comes back as duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pass {
    /// The newest mark stored by the pass so far, for the mark when it completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_mark: Option<String>,
}

const VERSION: u32 = 1;

/// Reads a GitHub repository's commits, pull requests, issues, comments, releases and workflow
/// runs through the REST API.
pub struct GitHubSource {
    info: SourceInfo,
    config: GitHubConfig,
    client: Arc<ApiClient>,
    stats: Arc<HttpStats>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The digest of each issue's and pull request's title and body as last stored (the
    /// source's state in the store), to tell an edit from any other update.
    texts: HashMap<TextKey, [u8; 16]>,
}

impl GitHubSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: GitHubConfig = config.parse()?;
        for (key, value) in [("owner", &c.owner), ("repo", &c.repo)] {
            if value.is_empty() || value.contains('/') {
                return Err(config.error(Some(key), "must be a non-empty name without '/'"));
            }
        }
        if c.streams.is_empty() {
            return Err(config.error(Some("streams"), "needs at least one stream"));
        }
        if c.token
            .as_ref()
            .is_some_and(|t| t.expose().trim().is_empty())
        {
            return Err(config.error(Some("token"), "is empty (is the variable set?)"));
        }
        let authorization = c
            .token
            .as_ref()
            .map(|t| athena_core::Secret::new(format!("Bearer {}", t.expose())));
        let client = api::client(config, &c.api_url, authorization, &c.knobs(), |http| {
            http.headers = vec![
                ("Accept".into(), "application/vnd.github+json".into()),
                ("X-GitHub-Api-Version".into(), "2022-11-28".into()),
            ];
        })?;
        Ok(GitHubSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "github".into(),
                name: format!("github {}/{}", c.owner, c.repo),
            },
            stats: client.stats(),
            client: Arc::new(client),
            config: c,
            task: None,
            texts: HashMap::new(),
        })
    }
}

/// A request error in the words a GitHub user needs.
fn explain(source_id: &str, config: &GitHubConfig, e: &HttpError) -> SourceError {
    let message = match e.kind {
        HttpErrorKind::Unauthorized => {
            format!("GitHub rejected the token for source {source_id} (check `token`; {e})")
        }
        HttpErrorKind::NotFound => format!(
            "repository {}/{} not found at {} (or the token cannot see it): {e}",
            config.owner,
            config.repo,
            Url::parse(&config.api_url)
                .map(|u| athena_http::redact_url(&u))
                .unwrap_or_default()
        ),
        HttpErrorKind::Forbidden => {
            format!("GitHub refused access (does the token have the scopes the README lists?): {e}")
        }
        _ => e.to_string(),
    };
    SourceError::failed(source_id, message)
}

impl GitHubSource {
    /// `owner/repo` in lower case (GitHub's names are case-insensitive), as ids name it.
    fn repository(&self) -> String {
        format!("{}/{}", self.config.owner, self.config.repo).to_ascii_lowercase()
    }
}

#[async_trait]
impl EventSource for GitHubSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Checks the configuration only: the first request of the sync checks the token and the
    /// repository, so a sync with nothing new costs one request per stream and no more.
    async fn validate(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// Asks for the repository: the token is accepted and can see it.
    async fn health_check(&mut self) -> Result<(), SourceError> {
        let path = format!("repos/{}/{}", self.config.owner, self.config.repo);
        let url = self
            .client
            .url(&path)
            .map_err(|e| explain(&self.info.id, &self.config, &e))?;
        self.client
            .get_json::<Value>(&url, None)
            .await
            .map(|_| ())
            .map_err(|e| explain(&self.info.id, &self.config, &e))
    }

    fn restore_state(&mut self, state: SourceState) {
        let repository = self.repository();
        self.texts = state
            .into_iter()
            .filter_map(|(k, v)| {
                let key = parse_text_state_key(&repository, &k)?;
                Some((key, <[u8; 16]>::try_from(v.as_slice()).ok()?))
            })
            .collect();
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let job = Job {
            source_id: self.info.id.clone(),
            config: self.config.clone(),
            client: self.client.clone(),
            texts: Mutex::new(std::mem::take(&mut self.texts)),
        };
        let (stream, task) = api::spawn_task(|tx| async move {
            let result = job.run(cursor, &tx).await;
            (result, tx)
        });
        self.task = Some(task);
        stream
    }

    async fn close(&mut self) -> Result<(), SourceError> {
        api::stop(self.task.take()).await;
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        api::stats(&self.stats)
    }
}

/// Why a stream stopped.
enum Failure {
    /// The consumer went away.
    Stopped,
    /// The whole source (a rejected token, a missing repository).
    Fatal(SourceError),
    /// This stream only: the others are read.
    Stream(String),
}

struct Job {
    source_id: String,
    config: GitHubConfig,
    client: Arc<ApiClient>,
    /// See [`GitHubSource::texts`]; updated as items are read (each is read once a sync; the
    /// store gets the change with or after the item's events).
    texts: Mutex<HashMap<TextKey, [u8; 16]>>,
}

impl Job {
    async fn run(&self, cursor: Option<Cursor>, tx: &api::Sender) -> Result<(), SourceError> {
        let mut state: GitHubCursor =
            Cursor::decode_saved(cursor, &self.source_id, u64::from(VERSION))?.unwrap_or(
                GitHubCursor {
                    version: VERSION,
                    streams: BTreeMap::new(),
                },
            );
        let mut streams = self.config.streams.clone();
        streams.sort();
        streams.dedup();
        // A stream that fails does not keep the others from being read; a rejected token or
        // a missing repository fails them all, so it stops at once.
        let mut failures = Vec::new();
        for stream in streams {
            match self.stream(stream, &mut state, tx).await {
                Ok(()) => {}
                Err(Failure::Stopped) => return Ok(()),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Stream(e)) => {
                    tracing::warn!(source = %self.source_id, stream = stream.name(), "{e}");
                    failures.push(format!("{}: {e}", stream.name()));
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(SourceError::failed(
                &self.source_id,
                format!(
                    "{} stream(s) failed, the others were stored: {}",
                    failures.len(),
                    failures.join("; ")
                ),
            ))
        }
    }

    fn failure(&self, e: &HttpError) -> Failure {
        match e.kind {
            HttpErrorKind::Unauthorized | HttpErrorKind::NotFound => {
                Failure::Fatal(explain(&self.source_id, &self.config, e))
            }
            _ => Failure::Stream(e.to_string()),
        }
    }

    /// Reads one stream, newest first, down to the stored mark, storing each page as it comes
    /// (see [`Pass`]); then saves the new mark and the first page's ETag.
    async fn stream(
        &self,
        stream: Stream,
        state: &mut GitHubCursor,
        tx: &api::Sender,
    ) -> Result<(), Failure> {
        let fail = |e: &HttpError| self.failure(e);
        let name = stream.name();
        let branch = match stream {
            Stream::Commits => self.config.branch.clone(),
            _ => None,
        };
        if state.streams.get(name).is_some_and(|s| s.branch != branch) {
            // Another branch than the mark is about: read it from its start, and say so in
            // every cursor written from now on.
            state.streams.insert(
                name.to_string(),
                StreamCursor {
                    branch: branch.clone(),
                    ..StreamCursor::default()
                },
            );
        }
        let saved = state.streams.get(name).cloned().unwrap_or_default();
        let mark = saved.mark.as_deref().and_then(time);
        // Items from the overlap before the mark are read and sent again (they are duplicates
        // if stored): runs completed late. Commits are read by comparison from the stored head
        // (below); without a head (a first sync, a cursor from before heads, a head GitHub no
        // longer knows) the whole list is read once, so that the head saved at the end is
        // true: every commit reachable from it stored.
        let seeding = matches!(stream, Stream::Issues | Stream::PullRequests) && !saved.digests;
        let stop_before = match stream {
            Stream::Commits => None,
            _ if seeding => None,
            _ => mark.map(|m| m - stream.overlap()),
        };
        // Ids name the repository in lower case: GitHub's names are case-insensitive.
        let repository = format!("{}/{}", self.config.owner, self.config.repo).to_ascii_lowercase();
        let ctx = Ctx {
            repository: &repository,
            branch: self.config.branch.as_deref(),
        };
        let path = stream.path(
            &self.config.owner,
            &self.config.repo,
            self.config.branch.as_deref(),
        );
        let mut url = self.client.url(&path).map_err(|e| fail(&e))?;
        let mut seen_urls = std::collections::HashSet::new();
        let mut first_etag: Option<String> = None;
        let mut first = true;
        // Text digests changed by the pages read, stored with (or after) their events: a crash
        // between the two then repeats an edit event (a duplicate), never loses one.
        let mut changes: Vec<StateChange> = Vec::new();
        // For workflow runs: each run this pass listed, its attempt, and whether it is still
        // to follow.
        let mut listed_runs: BTreeMap<u64, (u64, Option<WaitingRun>)> = BTreeMap::new();
        // For commits: the newest commit listed, the head of the next pass.
        let mut new_head: Option<String> = None;
        // The newest mark stored by this pass (and by the stopped pass it resumes).
        let mut max_mark = saved
            .pass
            .as_ref()
            .and_then(|p| p.max_mark.as_deref())
            .and_then(time);
        let last_page;
        loop {
            // Conditional only when the last pass was complete: its ETag then means "all
            // stored". A stopped pass is read again from the top: what it stored comes back as
            // duplicates, and what changed meanwhile (an item newly listed at an old place, a
            // run completed) is not skipped.
            let etag = if first && saved.pass.is_none() && !seeding {
                saved.etag.as_deref()
            } else {
                None
            };
            let page = match self.client.get_json::<Value>(&url, etag).await {
                Ok(Fetched::NotModified) => {
                    tracing::debug!(source = %self.source_id, stream = name, "not modified");
                    if saved.waiting.is_empty() {
                        return Ok(());
                    }
                    // A waiting run listed beyond the first page completes without changing it.
                    let (events, waiting) = self.waiting_runs(&saved.waiting, &ctx).await?;
                    let entry = state.streams.entry(name.to_string()).or_default();
                    if events.is_empty() && waiting == entry.waiting {
                        return Ok(());
                    }
                    entry.waiting = waiting;
                    return self.send(events, state, tx).await;
                }
                Ok(Fetched::Page(p)) => p,
                // An empty repository has no commits to list (409).
                Err(e) if stream == Stream::Commits && e.status == Some(409) => return Ok(()),
                Err(e) => return Err(fail(&e)),
            };
            let Some(items) = stream.items(&page.value) else {
                return Err(Failure::Stream(format!(
                    "GET {}: the response is not a list of {name}",
                    athena_http::redact_url(&page.url)
                )));
            };
            if first {
                first_etag = page.etag.clone();
                first = false;
                new_head = (stream == Stream::Commits)
                    .then(|| items.first().and_then(|c| c.pointer("/sha")))
                    .flatten()
                    .and_then(Value::as_str)
                    .map(str::to_string);
                // GitHub lists a branch's commits from its tip: the first is the head.
                if let (Some(old), Some(new)) = (&saved.head, &new_head) {
                    let walked = self
                        .compare(old, new, &branch, &mut max_mark, &ctx, state, tx)
                        .await?;
                    if let Some(last) = walked {
                        last_page = last;
                        break;
                    }
                    // The old head is gone (a force-push, then garbage collection): the whole
                    // list is read instead (commits never stop at a mark).
                }
            }
            let mut reached_mark = false;
            let mut events = Vec::new();
            for item in items {
                if let (Some(stop), Some(order)) = (stop_before, stream.order_time(item)) {
                    if order < stop {
                        reached_mark = true;
                        break;
                    }
                }
                if stream == Stream::WorkflowRuns {
                    if let Some(id) = item.get("id").and_then(Value::as_u64) {
                        let attempt = item.get("run_attempt").and_then(Value::as_u64).unwrap_or(1);
                        listed_runs.insert(id, (attempt, WaitingRun::of(item)));
                    }
                }
                let Some(item_mark) = stream.mark(item) else {
                    continue; // a draft release, a run still running
                };
                if stop_before.is_some_and(|m| item_mark < m) {
                    continue; // stored by an earlier pass
                }
                events.extend(stream.events(item, &ctx));
                if let Some((key, digest)) = text_digest(stream, item) {
                    let mut texts = self.texts.lock().expect("texts lock");
                    let before = texts.insert(key, digest);
                    if before.is_some_and(|b| b != digest) {
                        events.extend(edited(stream, item, &ctx));
                    }
                    if before != Some(digest) {
                        changes.push(StateChange {
                            key: text_state_key(&repository, key),
                            value: Some(digest.to_vec()),
                        });
                    }
                }
                max_mark = Some(max_mark.map_or(item_mark, |m| m.max(item_mark)));
            }
            seen_urls.insert(url.to_string());
            let next = match page.next {
                Some(next) if !reached_mark => Some(unvisited(&seen_urls, next)?),
                _ => None,
            };
            let Some(next) = next else {
                // The last page's items go with the pass's completion, below.
                last_page = events;
                break;
            };
            // Each page is stored as it is read, under a cursor that says a pass is under way.
            let rest = self
                .send_in_pass(name, &branch, max_mark, events, 0, &mut changes, state, tx)
                .await?;
            debug_assert!(rest.is_empty());
            url = next;
        }
        // Runs waiting at an earlier sync and not listed by this pass are asked for by id.
        let mut last_page = last_page;
        let mut waiting: Vec<WaitingRun> = Vec::new();
        if stream == Stream::WorkflowRuns {
            // A listed run is asked for too if an attempt it was waiting on is behind it (a
            // re-run started since): the list shows only the latest attempt.
            let ask: Vec<WaitingRun> = saved
                .waiting
                .iter()
                .copied()
                .filter(|w| match listed_runs.get(&w.id) {
                    None => true,
                    Some((listed, _)) => *listed > w.attempt,
                })
                .collect();
            let (events, still) = self.waiting_runs(&ask, &ctx).await?;
            last_page.extend(events);
            waiting = still;
            waiting.extend(listed_runs.values().filter_map(|(_, follow)| *follow));
            waiting.sort_unstable();
            waiting.dedup_by_key(|w| w.id);
            if waiting.len() > MAX_WAITING_RUNS {
                tracing::warn!(source = %self.source_id, "{} runs are waiting; following the newest {MAX_WAITING_RUNS}", waiting.len());
                waiting.drain(..waiting.len() - MAX_WAITING_RUNS);
            }
        }
        // The last page completes the pass: the new mark, and the first page's ETag.
        let batch_size = self.config.batch_size;
        let pending = self
            .send_in_pass(
                name,
                &branch,
                max_mark,
                last_page,
                batch_size,
                &mut Vec::new(),
                state,
                tx,
            )
            .await?;
        let entry = state.streams.entry(name.to_string()).or_default();
        let before = entry.clone();
        entry.branch = branch.clone();
        entry.pass = None;
        entry.etag = first_etag;
        entry.waiting = waiting;
        entry.digests = entry.digests || seeding;
        if new_head.is_some() {
            entry.head = new_head;
        }
        if let Some(m) = max_mark {
            if mark.is_none_or(|old| m > old) {
                entry.mark = Some(text_of(m));
            }
        }
        if !pending.is_empty() || *entry != before || !changes.is_empty() {
            self.send_with(pending, changes, state, tx).await?;
        }
        Ok(())
    }

    /// Reads the commits reachable from `new` (the branch's tip) but not from `old`, a page at
    /// a time, storing every page but the last under a cursor that says a pass is under way;
    /// returns the last page's events, for the pass's completion. `None` when GitHub no longer
    /// knows `old` (or cannot compare them): the caller then reads the whole list.
    #[allow(clippy::too_many_arguments)]
    async fn compare(
        &self,
        old: &str,
        new: &str,
        branch: &Option<String>,
        max_mark: &mut Option<DateTime<Utc>>,
        ctx: &Ctx<'_>,
        state: &mut GitHubCursor,
        tx: &api::Sender,
    ) -> Result<Option<Vec<Event>>, Failure> {
        let name = Stream::Commits.name();
        let fail = |e: &HttpError| self.failure(e);
        if old == new {
            return Ok(Some(Vec::new()));
        }
        // `per_page` makes GitHub page the comparison; without it the list stops at 250.
        let path = format!(
            "repos/{}/{}/compare/{}...{}?per_page=100",
            self.config.owner,
            self.config.repo,
            encode_ref(old),
            encode_ref(new)
        );
        let mut url = self.client.url(&path).map_err(|e| fail(&e))?;
        let mut seen_urls = std::collections::HashSet::new();
        let (mut total, mut received) = (None, 0u64);
        loop {
            let page = match self.client.get_json::<Value>(&url, None).await {
                Ok(Fetched::Page(p)) => p,
                Ok(Fetched::NotModified) => {
                    return Err(Failure::Stream(format!(
                        "GET {}: 304 to an unconditional request",
                        athena_http::redact_url(&url)
                    )))
                }
                // An unknown commit: 404; no common history: 422. A comparison GitHub cannot
                // produce (5xx after the retries, on a huge push) is read from the list too.
                Err(e)
                    if seen_urls.is_empty()
                        && (matches!(e.status, Some(404 | 422))
                            || matches!(e.kind, HttpErrorKind::Server)) =>
                {
                    tracing::info!(source = %self.source_id, "comparing from commit {old} failed ({e}); reading the whole list");
                    return Ok(None);
                }
                Err(e) => return Err(fail(&e)),
            };
            let Some(commits) = page.value.get("commits").and_then(Value::as_array) else {
                return Err(Failure::Stream(format!(
                    "GET {}: the response is not a comparison of commits",
                    athena_http::redact_url(&page.url)
                )));
            };
            if total.is_none() {
                total = page.value.get("total_commits").and_then(Value::as_u64);
            }
            received += commits.len() as u64;
            let mut events = Vec::new();
            for item in commits {
                events.extend(Stream::Commits.events(item, ctx));
                if let Some(at) = Stream::Commits.mark(item) {
                    *max_mark = Some(max_mark.map_or(at, |m| m.max(at)));
                }
            }
            seen_urls.insert(url.to_string());
            let Some(next) = page.next else {
                // The head moves only past a comparison read whole.
                if total.is_some_and(|t| received < t) {
                    return Err(Failure::Stream(format!(
                        "GET {}: the comparison listed {received} of its {} commits",
                        athena_http::redact_url(&page.url),
                        total.unwrap_or_default()
                    )));
                }
                return Ok(Some(events));
            };
            let next = unvisited(&seen_urls, next)?;
            self.send_in_pass(
                name,
                branch,
                *max_mark,
                events,
                0,
                &mut Vec::new(),
                state,
                tx,
            )
            .await?;
            url = next;
        }
    }

    /// Asks for each run in `runs` by id: returns the events of the attempts completed since
    /// (an attempt a re-run has replaced is asked for by its number), and the runs still
    /// waiting. A run deleted meanwhile (404), or waiting past [`WAITING_DAYS`], is let go. A
    /// run that cannot be read now stays waiting, and a spent rate limit leaves the rest for
    /// the next sync; only a rejected token fails the stream.
    async fn waiting_runs(
        &self,
        runs: &[WaitingRun],
        ctx: &Ctx<'_>,
    ) -> Result<(Vec<Event>, Vec<WaitingRun>), Failure> {
        let (mut events, mut still) = (Vec::new(), Vec::new());
        let base = format!(
            "repos/{}/{}/actions/runs",
            self.config.owner, self.config.repo
        );
        for (i, w) in runs.iter().enumerate() {
            let run = match self.get_value(&format!("{base}/{}", w.id)).await {
                Ok(Some(run)) => run,
                Ok(None) => continue, // deleted
                Err(e) if e.kind == HttpErrorKind::Unauthorized => return Err(self.failure(&e)),
                Err(e) if e.kind == HttpErrorKind::RateLimited => {
                    tracing::warn!(source = %self.source_id, "{e}; {} waiting runs are asked for next time", runs.len() - i);
                    still.extend_from_slice(&runs[i..]);
                    break;
                }
                Err(e) => {
                    tracing::warn!(source = %self.source_id, run = w.id, "{e}");
                    still.push(*w);
                    continue;
                }
            };
            let latest = run.get("run_attempt").and_then(Value::as_u64).unwrap_or(1);
            // Attempts before the latest are completed (a re-run starts after its attempt ends).
            let mut asked_all = true;
            for attempt in w.attempt..latest {
                match self
                    .get_value(&format!("{base}/{}/attempts/{attempt}", w.id))
                    .await
                {
                    Ok(Some(a)) => events.extend(Stream::WorkflowRuns.events(&a, ctx)),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(source = %self.source_id, run = w.id, attempt, "{e}");
                        asked_all = false;
                        break;
                    }
                }
            }
            if !asked_all {
                still.push(*w);
            } else if run.get("status").and_then(Value::as_str) == Some("completed") {
                events.extend(Stream::WorkflowRuns.events(&run, ctx));
            } else if abandoned(&run) {
                tracing::warn!(source = %self.source_id, run = w.id, "run still not completed after {WAITING_DAYS} days; no longer followed");
            } else {
                still.push(WaitingRun {
                    id: w.id,
                    attempt: latest,
                });
            }
        }
        Ok((events, still))
    }

    /// One object by its path; `None` for a 404.
    async fn get_value(&self, path: &str) -> Result<Option<Value>, HttpError> {
        let url = self.client.url(path)?;
        match self.client.get_json::<Value>(&url, None).await {
            Ok(Fetched::Page(p)) => Ok(Some(p.value)),
            Ok(Fetched::NotModified) => Ok(None),
            Err(e) if e.kind == HttpErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores `events` in batches under a cursor that says a pass over the stream is under way
    /// (see [`Pass`]), until at most `keep` are left; returns those.
    #[allow(clippy::too_many_arguments)]
    async fn send_in_pass(
        &self,
        name: &str,
        branch: &Option<String>,
        max_mark: Option<DateTime<Utc>>,
        mut events: Vec<Event>,
        keep: usize,
        changes: &mut Vec<StateChange>,
        state: &mut GitHubCursor,
        tx: &api::Sender,
    ) -> Result<Vec<Event>, Failure> {
        while events.len() > keep {
            let rest = events.split_off(events.len().min(self.config.batch_size));
            let entry = state.streams.entry(name.to_string()).or_default();
            entry.branch = branch.clone();
            entry.etag = None;
            entry.pass = Some(Pass {
                max_mark: max_mark.map(text_of),
            });
            // State changes go with the page's last batch.
            let with = if rest.is_empty() {
                std::mem::take(changes)
            } else {
                Vec::new()
            };
            self.send_with(std::mem::replace(&mut events, rest), with, state, tx)
                .await?;
        }
        Ok(events)
    }

    async fn send(
        &self,
        events: Vec<Event>,
        state: &GitHubCursor,
        tx: &api::Sender,
    ) -> Result<(), Failure> {
        self.send_with(events, Vec::new(), state, tx).await
    }

    async fn send_with(
        &self,
        events: Vec<Event>,
        changes: Vec<StateChange>,
        state: &GitHubCursor,
        tx: &api::Sender,
    ) -> Result<(), Failure> {
        let mut batch = Batch::new(events, Cursor::encode(state));
        batch.state = changes;
        tx.send(Ok(batch)).await.map_err(|_| Failure::Stopped)
    }
}

/// `next`, unless a page of this pass already had that address (a paging loop).
fn unvisited(seen: &std::collections::HashSet<String>, next: Url) -> Result<Url, Failure> {
    if seen.contains(next.as_str()) {
        return Err(Failure::Stream(format!(
            "GET {}: the next page links back to a page already read",
            athena_http::redact_url(&next)
        )));
    }
    Ok(next)
}

/// A commit or branch name in a compare URL's path: slashes stay (GitHub reads
/// `compare/main...feat/x`), anything else outside the unreserved set is percent-encoded.
fn encode_ref(r: &str) -> String {
    super::streams::percent_encode(r, b"/")
}

fn text_of(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
