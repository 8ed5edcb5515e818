//! [`GitHubSource`]: the `github` source as the kit runs it. Each configured stream is read in
//! turn into the sink (see `pass` and `streams`); a stream that fails does not keep the
//! others from being read, but a rejected token, a missing repository or an API that cannot be
//! reached stops them all.

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, ErrorKind, SourceConfig, SourceError, SourceInfo};
use athena_http::{ApiClient, BodyVerdict};

use super::config::GitHubConfig;
use super::cursor::GitHubCursor;
use super::fetch::{hints, Api};
use super::json::Ctx;
use super::pass::Out;
use super::streams::{self, threads::Texts};
use crate::api::{self, ApiSource, Failure, Hints, Keep, Parts, PartsFailed};

/// Reads a GitHub repository's commits, pull requests, issues, comments, releases and workflow
/// runs through the REST API (run by the kit's [`Async`](athena_core::kit::Async)).
pub struct GitHubSource {
    info: SourceInfo,
    config: GitHubConfig,
    client: ApiClient,
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
            client,
            config: c,
        })
    }

    /// `owner/repo` in lower case (GitHub's names are case-insensitive), as ids name it.
    fn repository(&self) -> String {
        format!("{}/{}", self.config.owner, self.config.repo).to_ascii_lowercase()
    }
}

/// What one sync keeps as it goes.
pub(crate) struct GitHubRun {
    cursor: GitHubCursor,
    /// The texts of issues and pull requests stored before (state rows), to tell edits.
    texts: Texts,
}

#[async_trait]
impl ApiSource for GitHubSource {
    type Run = GitHubRun;

    /// Every stream stores its own progress; a failed one what it read whole.
    const ON_SUCCESS: Keep = Keep::IfPending;
    const ON_FAILURE: Keep = Keep::IfPending;

    fn parts(&self) -> Parts<'_> {
        Parts {
            info: &self.info,
            client: &self.client,
            batch_size: self.config.batch_size,
        }
    }

    fn hints(&self) -> Hints {
        hints(&self.info.id, &self.config)
    }

    /// Asks for the repository: the token is accepted and can see it.
    async fn check(&self) -> Result<(), Failure> {
        let path = format!("repos/{}/{}", self.config.owner, self.config.repo);
        let url = self.client.url(&path)?;
        self.client.get_value(&url, &BodyVerdict::accept).await?;
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<GitHubRun, SourceError> {
        Ok(GitHubRun {
            cursor: GitHubCursor::decode(ctx.take_cursor(), &self.info.id)?,
            texts: Texts::restore(&self.repository(), ctx.take_state()),
        })
    }

    /// Each configured stream in turn: a stream that fails does not keep the others from
    /// being read (its failure is told at the end); a rejected token or a missing repository
    /// stops them all, and an API that cannot be reached leaves the rest untried.
    async fn sync(&self, run: &mut GitHubRun, sink: &mut Sink) -> Result<(), Failure> {
        let repository = self.repository();
        let api = Api {
            source_id: &self.info.id,
            config: &self.config,
            client: &self.client,
            ctx: Ctx {
                repository: &repository,
                branch: self.config.branch.as_deref(),
            },
        };
        let mut out = Out {
            sink,
            cursor: &mut run.cursor,
        };
        let mut streams = self.config.streams.clone();
        streams.sort();
        streams.dedup();
        let mut failed = PartsFailed {
            noun: "stream",
            total: streams.len(),
            ..PartsFailed::default()
        };
        let mut kinds = Vec::new();
        let mut left = streams.into_iter();
        while let Some(stream) = left.next() {
            let e = match streams::read(stream, &api, &mut run.texts, &mut out).await {
                Ok(()) => continue,
                // This stream only, typed by its HTTP failure (a spent rate limit, a 5xx, a
                // malformed answer, a paging loop).
                Err(Failure::Http(e)) => e,
                Err(stopped_or_fatal) => return Err(stopped_or_fatal),
            };
            // What the stream stored before it failed goes now, with the cursor that says
            // how far it came.
            out.commit(false).await?;
            // Told once, in the source's error; the log has it at debug level only.
            tracing::debug!(source = %self.info.id, stream = stream.name(), "{e}");
            kinds.push(e.source_error(&self.info.id, String::new()).kind());
            failed.failed.push(format!("{}: {e}", stream.name()));
            if self.client.is_unreachable() {
                // The others would fail the same way without a request sent.
                failed.not_tried = left.by_ref().map(|s| s.name().to_string()).collect();
            }
        }
        if !failed.any() {
            return Ok(());
        }
        failed.events = out.sink.events_emitted();
        let kind = ErrorKind::most_urgent(kinds);
        Err(SourceError::of_kind(kind, &self.info.id, failed.message()).into())
    }

    fn cursor(run: &GitHubRun) -> Cursor {
        run.cursor.encode()
    }
}

api::driven!(GitHubSource);
