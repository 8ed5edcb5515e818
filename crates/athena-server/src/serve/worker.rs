//! One source's life under `serve`: run, wait (for its schedule, a change it watches, or its
//! backoff), run again, until stopped.
//!
//! Each run is a whole sync of the source through the shared [`RunningEngine`]: it reads from
//! the stored cursor and commits each batch with the cursor that follows it, so a SIGKILL at any
//! moment, or a change the watch missed, loses and duplicates nothing. A live source is run
//! again [`Timing::debounce`] after a relevant change, and every [`Timing::reconcile`] anyway
//! (every [`Timing::poll`] when its paths cannot be watched).

use std::sync::Arc;
use std::time::Duration;

use athena_core::{
    CancelToken, Registry, RunningEngine, Schedule, SourceConfig, SourceReport, SourceStatusKind,
    SyncOptions,
};
use chrono::{DateTime, Utc};

pub(super) use super::watcher::StoreFiles;
use super::watcher::Watcher;
use super::Shared;

/// How a live source is woken.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// After a relevant change, how long to wait for the changes that come with it (a burst
    /// of appends, a rename and a create) so that one run reads them all.
    pub debounce: Duration,
    /// How often a watched live source runs even without a change: it reconciles what the
    /// watch could not see (a change over NFS, a missed event).
    pub reconcile: Duration,
    /// How often a live source runs when its paths cannot be watched (or it has none).
    pub poll: Duration,
}

/// What every worker shares.
pub(super) struct Workers {
    pub engine: RunningEngine,
    pub registry: Arc<Registry>,
    pub shared: Shared,
    pub timing: Timing,
    /// The store's files: a change there never wakes a live source.
    pub store_files: StoreFiles,
    /// Finds each event's references; `None`: links are off.
    pub links: Option<Arc<athena_core::links::Linker>>,
}

/// A polled live source waits at least this many times as long as its last run took.
const POLL_SPACING: u32 = 10;

/// How one run ended.
enum Ran {
    Ok,
    Failed,
    /// Stopped by a signal, a reload or a removal.
    Stopped,
}

/// Runs the source of `config` on `schedule` until `stop` is cancelled.
pub(super) async fn work(
    workers: Arc<Workers>,
    config: SourceConfig,
    schedule: Schedule,
    stop: CancelToken,
) {
    let mut random = Random::new();
    let live = schedule.is_live();
    let watcher = if live {
        // Off the runtime: building may touch the disk, and a recursive watch walks a tree.
        let (w, c) = (workers.clone(), config.clone());
        (tokio::task::spawn_blocking(move || watcher_for(&w, &c)).await)
            .unwrap_or_else(|_| Watcher::none())
    } else {
        Watcher::none()
    };
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        // Changes seen before this run starts are read by it.
        watcher.clear();
        let started = std::time::Instant::now();
        match run_once(&workers, &config, &stop).await {
            Ran::Ok => failures = 0,
            Ran::Failed => failures = failures.saturating_add(1),
            Ran::Stopped => break,
        }
        let now = Utc::now();
        let wait = if live && failures == 0 {
            if watcher.is_complete() {
                workers.timing.reconcile
            } else {
                // A poll that takes long (a big tree rescanned) is spaced out by its own
                // length, so polling never takes more than a tenth of the time.
                workers.timing.poll.max(started.elapsed() * POLL_SPACING)
            }
        } else {
            let next = next_run(&schedule, now, failures, &mut random);
            (next - now).to_std().unwrap_or_default()
        };
        let woken_by_change = tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => false,
            // A failing source waits out its backoff whatever changes.
            () = watcher.changed(), if live && failures == 0 => true,
        };
        if woken_by_change {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(workers.timing.debounce) => {}
            }
        }
    }
}

/// The watch of a live source, from one build of it (its paths do not change while it runs).
fn watcher_for(workers: &Workers, config: &SourceConfig) -> Watcher {
    let built = match workers.registry.build_all(std::slice::from_ref(config)) {
        Ok(built) => built,
        // Its runs report the error; it is polled meanwhile.
        Err(_) => return Watcher::none(),
    };
    match built.sources.first().and_then(|s| s.watch()) {
        Some(watch) => Watcher::start(&config.id, watch, workers.store_files.clone()),
        None => Watcher::none(),
    }
}

/// One run of the source: built afresh, read from its stored cursor to its end, committed.
async fn run_once(workers: &Workers, config: &SourceConfig, stop: &CancelToken) -> Ran {
    let shared = &workers.shared;
    let built = match workers.registry.build_all(std::slice::from_ref(config)) {
        Ok(built) => built,
        Err(e) => {
            // Built at start-up or reload, so only the environment can have changed.
            let error = crate::redact::redact(&e.to_string());
            let failures = shared.record_failure(&config.id, &error);
            tracing::warn!(source = %config.id, consecutive_failures = failures, "building the source failed: {error}");
            return Ran::Failed;
        }
    };
    let options = SyncOptions {
        cancel: stop.clone(),
        secrets: built.secrets,
        metrics: shared.metrics.clone(),
        priorities: built.priorities,
        links: workers.links.clone(),
        ..SyncOptions::default()
    };
    let report = workers.engine.run(built.sources, options).await;
    if let Err(e) = workers.engine.finish().await {
        tracing::warn!(source = %config.id, "finishing the store's upkeep after the run: {e}");
    }
    let Some(source) = report.sources.into_iter().next() else {
        return Ran::Stopped;
    };
    match source.status {
        SourceStatusKind::Ok => {
            shared.record_success(&config.id);
            log_success(&source);
            Ran::Ok
        }
        SourceStatusKind::Failed => {
            let error = source.error.as_deref().unwrap_or("unknown error");
            let failures = shared.record_failure(&config.id, error);
            tracing::warn!(
                source = %config.id,
                consecutive_failures = failures,
                "run failed: {error}"
            );
            Ran::Failed
        }
        _ => {
            tracing::info!(source = %config.id, "run stopped; what was read is committed");
            Ran::Stopped
        }
    }
}

/// One line per run that stored something (events, or bad input set aside); routine runs that
/// found nothing new are logged at debug level only, or a quiet source run every minute
/// would fill the log.
fn log_success(source: &SourceReport) {
    let quiet = source.events_written == 0 && source.invalid == 0;
    if quiet && !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let took_ms = source.stats.duration.as_millis() as u64;
    if quiet {
        tracing::debug!(source = %source.info.id, took_ms, "run ok: nothing new");
    } else {
        tracing::info!(
            source = %source.info.id,
            written = source.events_written,
            duplicates = source.duplicates,
            invalid = source.invalid,
            took_ms,
            "run ok"
        );
    }
}

fn next_run(
    schedule: &Schedule,
    ended: DateTime<Utc>,
    failures: u32,
    random: &mut Random,
) -> DateTime<Utc> {
    schedule
        .next_run(ended, failures, random.unit())
        // A live source after a success, or past the end of time: try again in a day (live
        // sources do not ask; an interval that overflows is the other case).
        .unwrap_or_else(|| ended + chrono::TimeDelta::days(1))
}

/// Jitter only spreads sources out; it needs no quality, so a xorshift seeded from the
/// standard library's per-process random hash keys does.
struct Random(u64);

impl Random {
    fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        Random(h.finish() | 1)
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_numbers_stay_in_the_unit_interval() {
        let mut r = Random::new();
        for _ in 0..1000 {
            let x = r.unit();
            assert!((0.0..1.0).contains(&x), "{x}");
        }
    }

    #[test]
    fn a_failing_live_source_backs_off_from_a_second_doubling() {
        let now = Utc::now();
        let mut r = Random::new();
        let first = next_run(&Schedule::Live, now, 1, &mut r) - now;
        let third = next_run(&Schedule::Live, now, 3, &mut r) - now;
        assert!(first >= chrono::TimeDelta::seconds(1), "{first}");
        assert!(third >= chrono::TimeDelta::seconds(8), "{third}");
    }
}
