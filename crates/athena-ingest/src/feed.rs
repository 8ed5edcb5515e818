//! `feed init`, `feed tail`, and publishing what a `sync` stored to the config's feeds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use athena_core::{CancelToken, Config, Store};
use athena_server::feed::{self, FeedStore, Made, NatsSettings, OwnedStore, Relay};

use crate::cli::FeedCommand;
use crate::runtime::runtime;
use crate::UsageError;

/// Runs a `feed` command.
pub(crate) fn run(command: FeedCommand) -> Result<ExitCode> {
    match command {
        FeedCommand::Init { config, feed } => init(&config, feed.as_deref()),
        FeedCommand::Tail {
            config,
            feed,
            source,
            kind,
            durable,
            count,
        } => {
            let settings = one(&config, feed.as_deref())?;
            let rt = runtime()?;
            let filter = format!(
                "{}.{}.{}",
                settings.subject_prefix,
                source
                    .as_deref()
                    .map_or("*".into(), |s| subject_token(&settings, s, 1)),
                kind.as_deref()
                    .map_or("*".into(), |k| subject_token(&settings, k, 2)),
            );
            rt.block_on(tail(&settings, &filter, &durable, count))
        }
    }
}

/// The feeds of the config at `path`, or the one named.
fn chosen(path: &Path, only: Option<&str>) -> Result<Vec<NatsSettings>> {
    let config = Config::load(path)?;
    let all = feed::settings_of(&config)?;
    if all.is_empty() {
        return Err(UsageError(format!("{}: no [[feeds]] table", path.display())).into());
    }
    match only {
        None => Ok(all),
        Some(id) => {
            let ids: Vec<String> = all.iter().map(|f| f.id.clone()).collect();
            let found: Vec<NatsSettings> = all.into_iter().filter(|f| f.id == id).collect();
            if found.is_empty() {
                return Err(UsageError(format!(
                    "--feed {id}: no such feed (feeds: {})",
                    ids.join(", ")
                ))
                .into());
            }
            Ok(found)
        }
    }
}

fn one(path: &Path, only: Option<&str>) -> Result<NatsSettings> {
    let mut feeds = chosen(path, only)?;
    if feeds.len() > 1 {
        let ids: Vec<&str> = feeds.iter().map(|f| f.id.as_str()).collect();
        return Err(UsageError(format!(
            "name the feed with --feed (feeds: {})",
            ids.join(", ")
        ))
        .into());
    }
    Ok(feeds.remove(0))
}

/// The subject token `text` becomes (as the relay writes it).
fn subject_token(settings: &NatsSettings, text: &str, at: usize) -> String {
    let subject = settings.subject(text, text);
    subject.split('.').nth(at).unwrap_or("_").to_string()
}

fn init(path: &Path, only: Option<&str>) -> Result<ExitCode> {
    let feeds = chosen(path, only)?;
    let rt = runtime()?;
    rt.block_on(async {
        for settings in &feeds {
            let made = feed::init_stream(settings).await?;
            let what = match made {
                Made::Created => "created",
                Made::Checked => "checked: as the config says",
            };
            println!(
                "feed {}: stream {} ({}) {what}",
                settings.id,
                settings.stream,
                settings.stream_subjects()
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // The server's own setting, which no stream shows: say it once.
    eprintln!(
        "note: acknowledged messages survive a power loss only if nats-server syncs before it \
         acknowledges: run it with `jetstream {{ sync_interval: always }}` (and replicas = 3 \
         on a cluster); see docs/feeds.md"
    );
    Ok(ExitCode::SUCCESS)
}

async fn tail(
    settings: &NatsSettings,
    filter: &str,
    durable: &str,
    count: Option<u64>,
) -> Result<ExitCode> {
    let stop = CancelToken::new();
    let on_ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let mut out = std::io::stdout();
    feed::tail(settings, filter, durable, count, &stop, &mut out).await?;
    Ok(ExitCode::SUCCESS)
}

/// After a sync: publishes what the store's outbox holds to every feed, and says what it
/// did; a feed that cannot be reached is said so, and its events wait in the outbox for
/// the next `sync` or `serve`.
pub(crate) async fn publish_stored(
    feeds: &[NatsSettings],
    store: Box<dyn Store>,
    synced: &[String],
    cancel: &CancelToken,
) {
    let store = OwnedStore::new(store);
    let mut all_published = true;
    for settings in feeds {
        let published = async {
            let client = feed::connect(settings).await?;
            let mut relay = Relay::new(settings.clone(), client, store.clone()).await?;
            // The sources this sync ran: on a store `serve` workers share, the others are
            // theirs to publish.
            relay
                .drain_some(&|source: &str| synced.iter().any(|s| s == source), cancel)
                .await
        };
        match published.await {
            Ok(done) if done.found > 0 => eprintln!(
                "feed {}: published {} events ({} more were in the stream already)",
                settings.id, done.events, done.found
            ),
            Ok(done) => eprintln!("feed {}: published {} events", settings.id, done.events),
            Err(e) => {
                all_published = false;
                eprintln!(
                    "warning: feed {}: {}; what was stored waits in the outbox for the next sync or serve",
                    settings.id,
                    crate::redact::redact(&format!("{e:#}"))
                )
            }
        }
    }
    // What every feed has published leaves the outbox.
    if all_published {
        let ids = feeds.iter().map(|f| f.id.clone()).collect();
        if let Err(e) = store.trim(ids).await {
            tracing::warn!("trimming the outbox: {e:#}");
        }
    }
}

/// Tells the store opened for a sync to keep an outbox, when the config has feeds.
pub(crate) fn keep_outbox(store: &mut dyn Store) -> Result<()> {
    store
        .outbox()
        .ok_or_else(|| anyhow!("this store cannot keep an outbox for feeds"))?
        .keep_outbox()
        .context("keeping an outbox for the feeds")
}
