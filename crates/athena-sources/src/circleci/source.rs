//! [`CircleciSource`]: the `circleci` source as the kit runs it (see `run` for a sync).

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, SourceConfig, SourceError, SourceInfo};
use athena_http::ApiClient;

use super::client::{hints, Api};
use super::config::CircleciConfig;
use super::cursor::CircleciCursor;
use super::model::Project;
use super::run::Run;
use crate::api::{self, ApiSource, Failure, Hints, Keep, Parts};

/// Reads a CircleCI project's pipelines, finished workflows and failed jobs through API v2
/// (run by the kit's [`Async`](athena_core::kit::Async)).
pub struct CircleciSource {
    info: SourceInfo,
    config: CircleciConfig,
    project: Project,
    overlap: chrono::Duration,
    client: ApiClient,
}

impl CircleciSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: CircleciConfig = config.parse()?;
        let parts: Vec<&str> = c.project_slug.split('/').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(config.error(
                Some("project_slug"),
                "must be VCS/ORG/REPO, like gh/acme/app, bb/acme/app or circleci/ORG_ID/PROJECT_ID",
            ));
        }
        if c.token.expose().trim().is_empty() {
            return Err(config.error(Some("token"), "is empty (is the variable set?)"));
        }
        if c.branch.as_deref().is_some_and(|b| b.trim().is_empty()) {
            return Err(config.error(Some("branch"), "is empty (leave it out for every branch)"));
        }
        let overlap = api::duration(config, "overlap", &c.overlap, "6h, 2d or 30m")?;
        let token = Some(athena_core::Secret::new(c.token.expose().to_string()));
        let client = api::client(config, &c.api_url, token, &c.knobs(), |http| {
            http.authorization_header = "Circle-Token";
            // CircleCI says its limits with 429 and `Retry-After`, not remaining-budget headers.
            http.rate_limit = None;
        })?;
        Ok(CircleciSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "circleci".into(),
                name: format!("circleci {}", c.project_slug),
            },
            project: Project::new(&c.project_slug, &c.api_url),
            client,
            overlap,
            config: c,
        })
    }

    fn api(&self) -> Api<'_> {
        Api {
            source_id: &self.info.id,
            client: &self.client,
            project_slug: &self.config.project_slug,
        }
    }
}

#[async_trait]
impl ApiSource for CircleciSource {
    type Run = CircleciCursor;

    fn parts(&self) -> Parts<'_> {
        Parts {
            info: &self.info,
            client: &self.client,
            batch_size: self.config.batch_size,
        }
    }

    fn hints(&self) -> Hints {
        hints(&self.info.id, &self.config.project_slug)
    }

    /// `GET /project/{slug}`: the token is accepted and can see the project.
    async fn check(&self) -> Result<(), Failure> {
        let api = self.api();
        let url = api.url(&api.project_path(), &[])?;
        api.get(&url).await?;
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<CircleciCursor, SourceError> {
        let branch = self.config.branch.as_deref();
        CircleciCursor::decode(ctx.take_cursor(), &self.info.id, branch)
    }

    async fn sync(&self, cursor: &mut CircleciCursor, sink: &mut Sink) -> Result<(), Failure> {
        let mut run = Run {
            api: self.api(),
            project: &self.project,
            branch: self.config.branch.as_deref(),
            overlap: self.overlap,
            cursor: cursor.clone(),
            followed: Default::default(),
        };
        let result = run.run(sink).await;
        *cursor = run.cursor;
        result
    }

    fn cursor(cursor: &CircleciCursor) -> Cursor {
        cursor.encode()
    }

    /// What was read before a failure goes, with the cursor true for it.
    const ON_FAILURE: Keep = Keep::IfPending;
}

api::driven!(CircleciSource);
