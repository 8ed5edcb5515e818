//! [`LinearSource`]: the `linear` source as the kit runs it. A sync is one pass over the issues
//! updated since the stored mark (less the overlap), page by page; each page's events (the
//! issue created, its state changes and assignments, its comments, nested connections paged
//! to their end) are emitted together and followed by a checkpoint naming the page's
//! `endCursor`, so a sync killed at any moment resumes after the last stored page, and what an
//! overlap reads again comes back under the same ids (duplicates the store drops).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, Event, SourceConfig, SourceError, SourceInfo, SourceStats};
use athena_http::{ApiClient, Pages, Paging, Url};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::config::LinearConfig;
use super::cursor::{LinearCursor, Pass};
use super::fetch::{hints, malformed, Api, QueryError};
use super::graphql::{self, CommentsOnly, HistoryOnly, IssueData, IssuesData};
use crate::api::{self, ApiSource, Failure, Hints, Keep, Parts};

/// Complexity points one issue of a page may cost (see `graphql`).
const ISSUE_COMPLEXITY: u64 = 520;

/// Reads a Linear workspace's issues (created, state changes, assignments, comments) through
/// the GraphQL API (run by the kit's [`Async`](athena_core::kit::Async)).
pub struct LinearSource {
    info: SourceInfo,
    config: LinearConfig,
    endpoint: Url,
    client: ApiClient,
    /// Waits for a nearly spent budget (the client counts its own).
    waits: AtomicU64,
}

impl LinearSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: LinearConfig = config.parse()?;
        if c.token.expose().trim().is_empty() {
            return Err(config.error(Some("token"), "is empty (is the variable set?)"));
        }
        if c.teams.iter().any(|t| t.trim().is_empty()) {
            return Err(config.error(Some("teams"), "holds an empty team key"));
        }
        let client = api::client(
            config,
            &c.api_url,
            Some(c.authorization()),
            &c.knobs(),
            |http| {
                // Linear's budget headers are its own (`X-RateLimit-Requests-*`, reset in
                // milliseconds); `fetch` reads them.
                http.rate_limit = None;
            },
        )?;
        let endpoint = client.base_url().clone();
        let name = if c.teams.is_empty() {
            "linear".to_string()
        } else {
            format!("linear {}", c.teams.join(","))
        };
        Ok(LinearSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "linear".into(),
                name,
            },
            waits: AtomicU64::new(0),
            client,
            endpoint,
            config: c,
        })
    }

    fn api(&self) -> Api<'_> {
        Api {
            source_id: &self.info.id,
            client: &self.client,
            endpoint: &self.endpoint,
            max_wait: Duration::from_secs(self.config.http.max_wait_secs),
            complexity: ISSUE_COMPLEXITY * self.config.page_size as u64,
            waits: &self.waits,
        }
    }

    fn decode<T: DeserializeOwned>(&self, operation: &str, data: Value) -> Result<T, SourceError> {
        serde_json::from_value(data).map_err(|e| malformed(&self.info.id, operation, &e))
    }

    /// The rest of a nested connection of issue `id` after `after`, each node to `each`.
    async fn rest<C: DeserializeOwned>(
        &self,
        operation: &str,
        query: &str,
        id: &str,
        mut after: String,
        page_info: &'static str,
        mut each: impl FnMut(C),
    ) -> Result<(), SourceError> {
        let api = self.api();
        let mut pages = Pages::new(Paging::GraphQl { page_info }, self.endpoint.clone());
        loop {
            let data = api
                .query(operation, query, json!({"id": id, "after": after}))
                .await
                .map_err(SourceError::from)?;
            let next = pages
                .next_cursor(&self.endpoint, &data)
                .map_err(|e| super::fetch::explain(&self.info.id, operation, &e))?;
            let issue: IssueData<C> = self.decode(operation, data)?;
            let Some(issue) = issue.issue else {
                // Deleted since the page was read: its events so far are all there are.
                return Ok(());
            };
            each(issue);
            match next {
                Some(n) => after = n,
                None => return Ok(()),
            }
        }
    }

    /// One page of issues and every event of its issues, nested connections read to their end.
    async fn page(
        &self,
        pass: &Pass,
        pages: &mut Pages,
    ) -> Result<(Vec<Event>, Option<String>, Option<DateTime<Utc>>), QueryError> {
        let variables = json!({
            "filter": graphql::filter(pass.since.as_deref(), &self.config.teams),
            "first": self.config.page_size,
            "after": pass.after,
        });
        let data = self
            .api()
            .query("Issues", &graphql::issues_query(), variables)
            .await?;
        let next = pages
            .next_cursor(&self.endpoint, &data)
            .map_err(|e| super::fetch::explain(&self.info.id, "Issues", &e))?;
        let data: IssuesData = self.decode("Issues", data)?;
        let mut events = Vec::new();
        let mut newest = None::<DateTime<Utc>>;
        for issue in data.issues.nodes {
            newest = newest.max(Some(issue.updated_at));
            events.push(graphql::created(&issue));
            for entry in &issue.history.nodes {
                events.extend(graphql::history(&issue, entry));
            }
            for note in &issue.comments.nodes {
                events.push(graphql::comment(&issue, note));
            }
            let info = &issue.history.page_info;
            if let (true, Some(after)) = (info.has_next_page, info.end_cursor.clone()) {
                let query = graphql::history_query();
                self.rest(
                    "IssueHistory",
                    &query,
                    &issue.id,
                    after,
                    "/issue/history/pageInfo",
                    |h: HistoryOnly| {
                        for entry in &h.history.nodes {
                            events.extend(graphql::history(&issue, entry));
                        }
                    },
                )
                .await?;
            }
            let info = &issue.comments.page_info;
            if let (true, Some(after)) = (info.has_next_page, info.end_cursor.clone()) {
                let query = graphql::comments_query();
                self.rest(
                    "IssueComments",
                    &query,
                    &issue.id,
                    after,
                    "/issue/comments/pageInfo",
                    |c: CommentsOnly| {
                        for note in &c.comments.nodes {
                            events.push(graphql::comment(&issue, note));
                        }
                    },
                )
                .await?;
            }
        }
        for e in &mut events {
            e.source_id = self.info.id.clone();
            e.source_type = "linear".into();
        }
        Ok((events, next, newest))
    }

    /// One pass from the cursor's (or a new one from its mark less the overlap), a
    /// checkpoint after every page; the pass under way stays in the cursor until it ends.
    async fn pass(&self, cursor: &mut LinearCursor, sink: &mut Sink) -> Result<(), Failure> {
        let overlap = chrono::Duration::seconds(self.config.overlap_secs as i64);
        let since = cursor
            .mark
            .as_deref()
            .and_then(parse)
            .map(|m| text(m - overlap));
        let mut pass = cursor.pass.take().unwrap_or(Pass {
            since,
            after: None,
            max: None,
        });
        let mut pages = Pages::new(
            Paging::GraphQl {
                page_info: "/issues/pageInfo",
            },
            self.endpoint.clone(),
        );
        let mut done = 0u64;
        // The stored page cursor is tried once: Linear may refuse one it no longer knows.
        let mut resumed = pass.after.is_some();
        loop {
            let page = self.page(&pass, &mut pages).await;
            cursor.pass = Some(pass.clone());
            let (events, next, newest) = match page {
                Ok(page) => page,
                Err(e) if resumed && e.refused => {
                    tracing::warn!(
                        source = %self.info.id,
                        "Linear refused the stored page cursor; reading the pass again from its start: {}",
                        e.error
                    );
                    resumed = false;
                    pass.after = None;
                    continue;
                }
                Err(QueryError { error, .. }) => return Err(Failure::Source(error)),
            };
            resumed = false;
            done += events.len() as u64;
            for e in events {
                sink.event(e);
            }
            if let Some(newest) = newest {
                let max = pass.max.as_deref().and_then(parse);
                pass.max = Some(text(max.map_or(newest, |m| m.max(newest))));
            }
            sink.progress(done, None);
            let Some(next) = next else { break };
            pass.after = Some(next);
            cursor.pass = Some(pass.clone());
            sink.checkpoint(|| cursor.encode()).await?;
        }
        let old = cursor.mark.as_deref().and_then(parse);
        let new = pass.max.as_deref().and_then(parse);
        cursor.mark = old.max(new).map(text).or(cursor.mark.take());
        cursor.pass = None;
        Ok(())
    }
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[async_trait]
impl ApiSource for LinearSource {
    type Run = LinearCursor;

    fn parts(&self) -> Parts<'_> {
        Parts {
            info: &self.info,
            client: &self.client,
            batch_size: self.config.batch_size,
        }
    }

    fn hints(&self) -> Hints {
        hints(&self.info.id, "Issues")
    }

    /// Asks who the token belongs to.
    async fn check(&self) -> Result<(), Failure> {
        let viewer = "query Viewer { viewer { id name } }";
        self.api()
            .query("Viewer", viewer, json!({}))
            .await
            .map_err(|e| Failure::Source(e.error))?;
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<LinearCursor, SourceError> {
        LinearCursor::decode(ctx.take_cursor(), &self.info.id)
    }

    async fn sync(&self, cursor: &mut LinearCursor, sink: &mut Sink) -> Result<(), Failure> {
        self.pass(cursor, sink).await
    }

    fn cursor(cursor: &LinearCursor) -> Cursor {
        cursor.encode()
    }

    /// After a failure, what earlier pages emitted goes, under the pass that says so;
    /// nothing else moves.
    const ON_FAILURE: Keep = Keep::IfPending;

    fn stats(&self) -> SourceStats {
        let mut stats = api::stats(&self.client.stats());
        stats.rate_limit_waits += self.waits.load(Ordering::Relaxed);
        stats
    }
}

api::driven!(LinearSource);
