//! The `slack` source: per channel, the history newer than the stored cursor plus a lookback
//! window read again for replies, edits and reactions; stored oldest first.

use std::collections::HashMap;

use async_trait::async_trait;
use athena_core::kit::{AsyncSource, Context, Limits, ReadError};
use athena_core::{ConfigError, SourceConfig, SourceError, SourceInfo, SourceStats};
use athena_http::ApiClient;

use super::config::SlackConfig;
use crate::api;

/// Reads Slack channels: messages, thread replies, edits and reactions (run by the kit's
/// [`Async`](athena_core::kit::Async)).
pub struct SlackSource {
    pub(super) info: SourceInfo,
    pub(super) config: SlackConfig,
    pub(super) lookback: chrono::Duration,
    pub(super) client: ApiClient,
}

impl SlackSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: SlackConfig = config.parse()?;
        let lookback = api::duration(config, "lookback", &c.lookback, "7d, 12h or 30m")?;
        if c.token.expose().trim().is_empty() {
            return Err(config.error(Some("token"), "is empty (is the variable set?)"));
        }
        let authorization = Some(athena_core::Secret::new(format!(
            "Bearer {}",
            c.token.expose()
        )));
        let client = api::client(config, &c.api_url, authorization, &c.knobs(), |http| {
            // Slack has no remaining-budget headers: 429 and `ratelimited` carry `Retry-After`.
            http.rate_limit = None;
        })?;
        Ok(SlackSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "slack".into(),
                name: "slack".into(),
            },
            client,
            lookback,
            config: c,
        })
    }
}

#[async_trait]
impl AsyncSource for SlackSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// `auth.test`: the token is accepted.
    async fn health_check(&self) -> Result<(), SourceError> {
        let url = self.url("auth.test", &[]).map_err(|e| self.fatal(&e))?;
        self.get(&url).await.map(|_| ()).map_err(|e| self.fatal(&e))
    }

    fn limits(&self) -> Limits {
        Limits::items(self.config.batch_size)
    }

    async fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let cursor = ctx.take_cursor();
        let mut run = Run {
            source: self,
            users: HashMap::new(),
            resolve_users: self.config.resolve_users,
            channel_names: HashMap::new(),
        };
        run.run(cursor, &mut ctx.sink).await
    }

    fn stats(&self) -> SourceStats {
        api::stats(&self.client.stats())
    }
}

#[derive(Debug, Clone)]
pub(super) struct Channel {
    pub id: String,
    pub name: String,
}

/// What one sync learns as it goes.
pub(super) struct Run<'a> {
    pub source: &'a SlackSource,
    /// User id → display name (`None`: unknown), for this run.
    pub users: HashMap<String, Option<String>>,
    pub resolve_users: bool,
    pub channel_names: HashMap<String, String>,
}
