//! The `slack` source: per channel, the history newer than the stored cursor plus a lookback
//! window read again for replies, edits and reactions; stored oldest first.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, SourceConfig, SourceError, SourceInfo};
use athena_http::{ApiClient, HttpError};

use super::config::SlackConfig;
use super::cursor::{SlackCursor, VERSION};
use crate::api::{self, ApiSource, Failure, Hints, Keep, Parts};

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
impl ApiSource for SlackSource {
    type Run = SlackCursor;

    /// Every channel stores its own progress.
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
        Hints::default()
    }

    /// Slack's own error code named when it refuses the token.
    fn explain(&self, e: &HttpError) -> SourceError {
        self.fatal(e)
    }

    /// `auth.test`: the token is accepted.
    async fn check(&self) -> Result<(), Failure> {
        let url = self.url("auth.test", &[])?;
        self.get(&url).await?;
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<SlackCursor, SourceError> {
        let saved = Cursor::decode_saved(ctx.take_cursor(), &self.info.id, u64::from(VERSION))?;
        Ok(saved.unwrap_or(SlackCursor {
            version: VERSION,
            channels: BTreeMap::new(),
        }))
    }

    async fn sync(&self, state: &mut SlackCursor, sink: &mut Sink) -> Result<(), Failure> {
        let mut run = Run {
            source: self,
            users: HashMap::new(),
            emails: HashMap::new(),
            resolve_users: self.config.resolve_users,
            channel_names: HashMap::new(),
        };
        run.run(state, sink).await
    }

    fn cursor(state: &SlackCursor) -> Cursor {
        Cursor::encode(state)
    }
}

api::driven!(SlackSource);

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
    /// User id → the email of their profile, when the token may read it (`users:read.email`).
    pub emails: HashMap<String, String>,
    pub resolve_users: bool,
    pub channel_names: HashMap<String, String>,
}
