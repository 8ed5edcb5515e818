//! The `github` source: reads each stream's list newest first down to the stored high-water
//! mark, then stores what is new oldest first, in batches whose cursor moves with them.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use athena_core::{
    Batch, BatchStream, ConfigError, Cursor, Event, EventSource, SourceConfig, SourceError,
    SourceInfo, SourceStats,
};
use athena_http::{ApiClient, ClientConfig, Fetched, HttpError, HttpErrorKind, HttpStats, Url};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use super::config::{GitHubConfig, Stream};
use super::streams::{time, Ctx};

/// Version 1:
///
/// ```json
/// {"version":1,"streams":{"issues":{"mark":"2024-05-01T10:00:00Z","etag":"W/\"…\""}}}
/// ```
///
/// Per stream: `mark`, the latest high-water time stored (items older than it were stored
/// before), and the `etag` of the stream's first page when the whole list was last stored, so
/// the next sync can ask "changed since?" and get a 304.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
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
        let api = Url::parse(&c.api_url)
            .map_err(|e| config.error(Some("api_url"), format!("not a URL: {e}")))?;
        if !matches!(api.scheme(), "http" | "https") {
            return Err(config.error(Some("api_url"), "must be an http or https URL"));
        }
        if !(1..=100_000).contains(&c.batch_size) {
            return Err(config.error(Some("batch_size"), "must be between 1 and 100000"));
        }
        if !(1..=3600).contains(&c.timeout_secs) {
            return Err(config.error(Some("timeout_secs"), "must be between 1 and 3600"));
        }
        if c.token
            .as_ref()
            .is_some_and(|t| t.expose().trim().is_empty())
        {
            return Err(config.error(Some("token"), "is empty (is the variable set?)"));
        }
        let mut http = ClientConfig::new(config.id.clone(), api);
        http.authorization = c
            .token
            .as_ref()
            .map(|t| athena_core::Secret::new(format!("Bearer {}", t.expose())));
        http.headers = vec![
            ("Accept".into(), "application/vnd.github+json".into()),
            ("X-GitHub-Api-Version".into(), "2022-11-28".into()),
        ];
        http.timeout = Duration::from_secs(c.timeout_secs);
        http.retry.max_retries = c.max_retries;
        http.retry.initial_delay = Duration::from_millis(c.retry_delay_ms);
        http.max_wait = Duration::from_secs(c.max_wait_secs);
        http.requests_per_second =
            match c.requests_per_second {
                None => None,
                Some(n) => Some(NonZeroU32::new(n).ok_or_else(|| {
                    config.error(Some("requests_per_second"), "must be at least 1")
                })?),
            };
        let client =
            ApiClient::new(http).map_err(|e| config.error(Some("token"), e.message.clone()))?;
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

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let (tx, rx) = mpsc::channel::<Result<Batch, SourceError>>(2);
        let job = Job {
            source_id: self.info.id.clone(),
            config: self.config.clone(),
            client: self.client.clone(),
        };
        self.task = Some(tokio::spawn(async move {
            if let Err(e) = job.run(cursor, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        }));
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }

    async fn close(&mut self) -> Result<(), SourceError> {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            requests: self.stats.requests(),
            retries: self.stats.retries(),
            bytes: self.stats.bytes(),
            not_modified: self.stats.not_modified(),
            rate_limit_waits: self.stats.rate_limit_waits(),
            ..SourceStats::default()
        }
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
}

impl Job {
    async fn run(
        &self,
        cursor: Option<Cursor>,
        tx: &mpsc::Sender<Result<Batch, SourceError>>,
    ) -> Result<(), SourceError> {
        let mut state: GitHubCursor = match cursor {
            Some(c) if c.version() == Some(u64::from(VERSION)) => {
                c.decode().map_err(|e| SourceError::Cursor {
                    source_id: self.source_id.clone(),
                    message: e.to_string(),
                })?
            }
            Some(c) => {
                return Err(SourceError::Cursor {
                    source_id: self.source_id.clone(),
                    message: format!("unknown cursor version {:?}", c.version()),
                })
            }
            None => GitHubCursor {
                version: VERSION,
                streams: BTreeMap::new(),
            },
        };
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

    /// Reads one stream: pages newest first down to the stored mark, then sends the new items'
    /// events oldest first.
    async fn stream(
        &self,
        stream: Stream,
        state: &mut GitHubCursor,
        tx: &mpsc::Sender<Result<Batch, SourceError>>,
    ) -> Result<(), Failure> {
        let fail = |e: &HttpError| self.failure(e);
        let name = stream.name();
        let mut saved = state.streams.get(name).cloned().unwrap_or_default();
        let branch = match stream {
            Stream::Commits => self.config.branch.clone(),
            _ => None,
        };
        if saved.branch != branch {
            // Another branch than the mark is about: read it from its start.
            saved = StreamCursor::default();
        }
        let mark = saved.mark.as_deref().and_then(time);
        // Items from the overlap before the mark are read and sent again (they are duplicates
        // if stored): commits merged late, runs completed late.
        let stop_before = mark.map(|m| m - stream.overlap());
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
        // (mark, events) of the new items, newest first as listed.
        let mut new: Vec<(DateTime<Utc>, String, Vec<Event>)> = Vec::new();
        loop {
            let etag = if first { saved.etag.as_deref() } else { None };
            let page = match self.client.get_json::<Value>(&url, etag).await {
                Ok(Fetched::NotModified) => {
                    tracing::debug!(source = %self.source_id, stream = name, "not modified");
                    return Ok(());
                }
                Ok(Fetched::Page(p)) => p,
                Err(e) => return Err(fail(&e)),
            };
            if first {
                first_etag = page.etag.clone();
                first = false;
            }
            let Some(items) = stream.items(&page.value) else {
                return Err(Failure::Stream(format!(
                    "GET {}: the response is not a list of {name}",
                    athena_http::redact_url(&page.url)
                )));
            };
            let mut reached_mark = false;
            for item in items {
                if let (Some(stop), Some(t)) = (stop_before, stream.order_time(item)) {
                    if t < stop {
                        reached_mark = true;
                        break;
                    }
                }
                let Some(item_mark) = stream.mark(item) else {
                    continue; // a draft release, an item without its time
                };
                if stop_before.is_some_and(|m| item_mark < m) {
                    continue; // stored by an earlier sync
                }
                let mark_text = item_mark.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                new.push((item_mark, mark_text, stream.events(item, &ctx)));
            }
            seen_urls.insert(url.to_string());
            match page.next {
                Some(next) if !reached_mark => {
                    if seen_urls.contains(next.as_str()) {
                        return Err(Failure::Stream(format!(
                            "GET {}: the next page links back to a page already read",
                            athena_http::redact_url(&next)
                        )));
                    }
                    url = next;
                }
                _ => break,
            }
        }
        // Oldest first, so each batch's mark only moves forward. Ties keep the list's order
        // reversed, which is oldest first too.
        new.reverse();
        new.sort_by_key(|(t, _, _)| *t);
        let total = new.len();
        let mut events = Vec::new();
        for (i, (item_time, mark_text, item_events)) in new.into_iter().enumerate() {
            events.extend(item_events);
            let done = i + 1 == total;
            if events.len() >= self.config.batch_size || done {
                let entry = state.streams.entry(name.to_string()).or_default();
                entry.branch = branch.clone();
                // Items from the overlap may be older than the stored mark: it never goes back.
                if mark.is_none_or(|m| item_time >= m) {
                    entry.mark = Some(mark_text);
                }
                // The first page's ETag is kept only with the last batch: a sync stopped
                // half-way must not be told "nothing changed" next time.
                entry.etag = if done { first_etag.clone() } else { None };
                let batch = Batch::new(std::mem::take(&mut events), Cursor::encode(state));
                tx.send(Ok(batch)).await.map_err(|_| Failure::Stopped)?;
            }
        }
        if total == 0 && first_etag != saved.etag {
            // Nothing new, but the list changed (an older item edited): remember its ETag.
            let entry = state.streams.entry(name.to_string()).or_default();
            entry.branch = branch.clone();
            entry.etag = first_etag;
            let batch = Batch::new(Vec::new(), Cursor::encode(state));
            tx.send(Ok(batch)).await.map_err(|_| Failure::Stopped)?;
        }
        Ok(())
    }
}
