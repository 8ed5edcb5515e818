//! [`GitHubSource`]: the `github` source as the kit runs it. Each configured stream is read in
//! turn into the sink (see `pass` and `streams`); a stream that fails does not keep the
//! others from being read, but a rejected token or a missing repository stops them all.

use async_trait::async_trait;
use athena_core::kit::{AsyncSource, Context, Limits, ReadError};
use athena_core::{ConfigError, ErrorKind, SourceConfig, SourceError, SourceInfo, SourceStats};
use athena_http::ApiClient;
use serde_json::Value;

use super::config::GitHubConfig;
use super::cursor::GitHubCursor;
use super::fetch::{explain, Api, Failure};
use super::json::Ctx;
use super::pass::Out;
use super::streams::{self, threads::Texts};
use crate::api;

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

#[async_trait]
impl AsyncSource for GitHubSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Asks for the repository: the token is accepted and can see it.
    async fn health_check(&self) -> Result<(), SourceError> {
        let path = format!("repos/{}/{}", self.config.owner, self.config.repo);
        let fail = |e| explain(&self.info.id, &self.config, &e);
        let url = self.client.url(&path).map_err(fail)?;
        self.client
            .get_json::<Value>(&url, None)
            .await
            .map(|_| ())
            .map_err(fail)
    }

    fn limits(&self) -> Limits {
        Limits::items(self.config.batch_size)
    }

    async fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let mut cursor = GitHubCursor::decode(ctx.take_cursor(), &self.info.id)?;
        let repository = self.repository();
        let mut texts = Texts::restore(&repository, ctx.take_state());
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
            sink: &mut ctx.sink,
            cursor: &mut cursor,
        };
        let mut streams = self.config.streams.clone();
        streams.sort();
        streams.dedup();
        let mut failures = Vec::new();
        for stream in streams {
            // What a failed stream stored before it failed goes now, with the cursor that
            // says how far it came.
            let (kind, e) = match streams::read(stream, &api, &mut texts, &mut out).await {
                Ok(()) => continue,
                Err(Failure::Stopped) => return Err(ReadError::Stopped),
                Err(Failure::Source(e)) => {
                    out.commit(false).await?;
                    return Err(e.into());
                }
                // This stream only, typed by its HTTP failure (a spent rate limit, a 5xx, a
                // malformed answer, a paging loop).
                Err(Failure::Http(e)) => (e.source_error(&self.info.id, String::new()).kind(), e),
            };
            out.commit(false).await?;
            tracing::warn!(source = %self.info.id, stream = stream.name(), "{e}");
            failures.push((kind, format!("{}: {e}", stream.name())));
        }
        if failures.is_empty() {
            return Ok(());
        }
        let kind = ErrorKind::most_urgent(failures.iter().map(|(k, _)| *k));
        let messages: Vec<&str> = failures.iter().map(|(_, m)| m.as_str()).collect();
        let message = format!(
            "{} stream(s) failed, the others were stored: {}",
            failures.len(),
            messages.join("; ")
        );
        Err(SourceError::of_kind(kind, &self.info.id, message).into())
    }

    fn stats(&self) -> SourceStats {
        api::stats(&self.client.stats())
    }
}
