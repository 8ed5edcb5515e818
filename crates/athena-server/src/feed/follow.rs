//! A relay that follows the outbox for as long as `serve` runs: it publishes what sources
//! store as they store it, and outlasts NATS being away (the outbox grows meanwhile; nothing
//! waits for NATS but the relay itself).

use std::time::{Duration, Instant};

use athena_core::{CancelToken, Metrics};

use super::relay::Relay;
use super::settings::NatsSettings;
use super::store::FeedStore;

/// How often the outbox is looked at when nothing is waiting in it.
const POLL: Duration = Duration::from_millis(50);

/// The longest wait between two attempts to reach NATS.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How often the outbox's size and age are measured for the metrics.
const MEASURE: Duration = Duration::from_secs(1);

/// How often what every feed published is trimmed from the outbox.
const TRIM: Duration = Duration::from_secs(60);

/// What a following relay reports to, and looks after.
pub struct Follow {
    /// Counts what it published, and the outbox's size and age.
    pub metrics: Metrics,
    /// With every feed's id: this relay trims the outbox of what they all published.
    pub trim: Option<Vec<String>>,
}

/// Publishes the outbox of the sources `mine` accepts until `stop`, connecting again (1 s,
/// doubling up to 30 s) after NATS went away or refused.
pub async fn follow<S: FeedStore + Clone>(
    settings: NatsSettings,
    store: S,
    mine: impl Fn(&str) -> bool + Send + Sync,
    follow: Follow,
    stop: CancelToken,
) {
    let mut measured = Instant::now() - MEASURE;
    let mut trimmed = Instant::now();
    let mut backoff = Duration::from_secs(1);
    while !stop.is_cancelled() {
        let round = async {
            let client = super::connect(&settings).await?;
            let mut relay = Relay::new(settings.clone(), client, store.clone()).await?;
            tracing::info!(feed = %settings.id, stream = %settings.stream, "publishing the outbox");
            loop {
                let done = relay.drain_some(&mine, &stop).await?;
                follow.metrics.feed_published(&settings.id, done.events);
                if measured.elapsed() >= MEASURE {
                    measured = Instant::now();
                    let backlog = store.backlog(&settings.id).await?;
                    follow
                        .metrics
                        .feed_backlog(&settings.id, backlog.events, backlog.oldest);
                }
                if let (Some(all), true) = (&follow.trim, trimmed.elapsed() >= TRIM) {
                    trimmed = Instant::now();
                    store.trim(all.clone()).await?;
                }
                if done.events > 0 || done.found > 0 {
                    tracing::debug!(feed = %settings.id, events = done.events, found = done.found, "published");
                    continue;
                }
                tokio::select! {
                    () = stop.cancelled() => return Ok::<_, anyhow::Error>(()),
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        };
        match round.await {
            Ok(()) => return,
            Err(e) => {
                let e = crate::redact::redact(&format!("{e:#}"));
                tracing::warn!(feed = %settings.id, "{e}; trying again in {}s", backoff.as_secs());
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
