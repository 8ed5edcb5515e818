//! `serve` (v0): one process, one store held for its whole life, every configured source run on
//! its `schedule` (else its type's default), and `/healthz`, `/readyz` and `/metrics` on loopback.
//!
//! Due sources run together in one [`Engine::run`] (the engine serializes their writes), so a
//! source never runs twice at once, and the exactly-once contract is the one `sync` keeps. Not
//! yet: live following (a `live` source is polled every `--poll-interval-ms`). SIGHUP reloads
//! the config between rounds ([`Reloader`]); `[serve] api_token` guards every endpoint but
//! `/healthz` and allows an address other than loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use athena_core::{
    CancelToken, Engine, Metrics, Schedule, Secret, SourceConfig, SourceStatusKind, Store,
    SyncOptions,
};
use athena_store::SqliteStore;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use crate::UsageError;

/// A source is not ready once this many of its runs in a row have failed.
const UNREADY_AFTER_FAILURES: u32 = 3;

/// How long a stop waits for the running sync to commit before the process exits anyway (the
/// store stays consistent: every batch is committed with its cursor or not at all).
const STOP_DEADLINE: Duration = Duration::from_secs(9);

/// What `serve` was asked to do.
pub(crate) struct ServeArgs {
    pub config: PathBuf,
    pub db: Option<PathBuf>,
    /// `--listen`, if given.
    pub listen: Option<String>,
    /// How often a `live` source is polled until live following exists.
    pub poll_interval: Duration,
}

/// One source as the scheduler sees it.
struct Scheduled {
    config: SourceConfig,
    schedule: Schedule,
    next: DateTime<Utc>,
}

/// What `/readyz` reports of one source.
#[derive(Debug, Clone, Default)]
struct Health {
    id: String,
    consecutive_failures: u32,
    last_error: Option<String>,
}

/// What the HTTP handlers read.
#[derive(Clone)]
struct Shared {
    metrics: Metrics,
    health: Arc<Mutex<Vec<Health>>>,
    store_open: Arc<AtomicBool>,
    /// `[serve] api_token`: every request but `/healthz` must carry it.
    token: Option<Arc<Secret>>,
}

/// The default of `--listen` and `[serve] listen`.
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// The listen address: an address that is not loopback is refused unless a token guards it.
fn listen_addr(text: &str, guarded: bool) -> Result<SocketAddr> {
    let addr: SocketAddr = text.parse().map_err(|e| {
        UsageError(format!(
            "--listen {text}: not an address and port like 127.0.0.1:9464 ({e})"
        ))
    })?;
    if !addr.ip().is_loopback() && !guarded {
        return Err(UsageError(format!(
            "--listen {addr}: an address other than loopback (127.0.0.1 or [::1]) needs `[serve] api_token` in the config, so that only callers with the token are answered"
        ))
        .into());
    }
    Ok(addr)
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
fn authorized(token: Option<&Secret>, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (given.as_bytes(), token.expose().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Response {
    let mut response = json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"error": "this endpoint needs Authorization: Bearer <[serve] api_token>"}),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The schedule v0 runs a source on: its `schedule` key, else its type's default, with `live`
/// polled every `poll_interval` since live following does not exist yet.
fn schedule_for(
    configured: Option<&Schedule>,
    source_type: &str,
    poll_interval: Duration,
) -> Schedule {
    let schedule = configured
        .cloned()
        .unwrap_or_else(|| Schedule::default_for(source_type));
    match schedule {
        Schedule::Live => Schedule::Every(poll_interval),
        other => other,
    }
}

pub(crate) fn serve(args: ServeArgs) -> Result<ExitCode> {
    if args.poll_interval.is_zero() {
        return Err(UsageError("--poll-interval-ms must be at least 1".into()).into());
    }
    let config = crate::commands::load_sources_config(&args.config)?;
    let token = config.serve.api_token.clone().map(Arc::new);
    if let Some(token) = &token {
        let mut secrets = athena_core::Redactor::new();
        secrets.add_secret(token);
        crate::redact::remember(&secrets);
    }
    let listen = (args.listen.clone())
        .or(config.serve.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr = listen_addr(&listen, token.is_some())?;
    let db_path = args
        .db
        .or(config.store_path.clone())
        .unwrap_or_else(|| PathBuf::from("athena.db"));
    let absolute_db = std::path::absolute(&db_path).unwrap_or_else(|_| db_path.clone());
    let configs: Vec<SourceConfig> = config
        .sources
        .iter()
        .cloned()
        .map(|mut c| {
            c.set_store_path(&absolute_db);
            c
        })
        .collect();
    let registry = Arc::new(athena_sources::registry());
    // Built once up front so a config error is exit 2 before the store or the port is touched;
    // each run builds its sources afresh (their cursors live in the store).
    let built = registry.build_all(&configs)?;
    crate::redact::remember(&built.secrets);
    drop(built);

    let store = open_store(&db_path)?;
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("setting the listener non-blocking")?;

    let now = Utc::now();
    let scheduled: Vec<Scheduled> = configs
        .into_iter()
        .map(|config| Scheduled {
            schedule: schedule_for(
                config.schedule.as_ref(),
                &config.source_type,
                args.poll_interval,
            ),
            config,
            next: now,
        })
        .collect();
    let shared = Shared {
        metrics: Metrics::with_version(env!("CARGO_PKG_VERSION")),
        health: Arc::new(Mutex::new(
            scheduled
                .iter()
                .map(|s| Health {
                    id: s.config.id.clone(),
                    ..Health::default()
                })
                .collect(),
        )),
        store_open: Arc::new(AtomicBool::new(true)),
        token,
    };
    // A source's lag shows from the first scrape, not only once it stores something new.
    let ids = scheduled.iter().map(|s| s.config.id.as_str());
    if let Err(e) = shared.metrics.seed_newest_from(&*store, ids) {
        tracing::warn!("reading the newest stored events for the lag metric: {e}");
    }

    let rt = crate::commands::runtime()?;
    let engine = Engine::new(registry.clone(), config.engine);
    let code = rt.block_on(async move {
        let cancel = CancelToken::new();
        let reload = Arc::new(tokio::sync::Notify::new());
        handle_signals(cancel.clone(), reload.clone())?;
        let listener =
            tokio::net::TcpListener::from_std(listener).context("listening on the runtime")?;
        tracing::info!("serving /healthz, /readyz and /metrics on http://{addr}");
        let app = router(shared.clone());
        let stop = cancel.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        let reloader = Reloader {
            path: args.config.clone(),
            absolute_db: absolute_db.clone(),
            poll_interval: args.poll_interval,
            notify: reload,
        };
        let store = schedule_loop(
            &engine, &registry, store, scheduled, &shared, &cancel, &reloader,
        )
        .await;
        shared.store_open.store(false, Ordering::SeqCst);
        drop(store);
        match tokio::time::timeout(Duration::from_secs(1), server).await {
            Ok(Ok(Err(e))) => tracing::warn!("the HTTP server stopped with an error: {e}"),
            Ok(Err(e)) => tracing::warn!("the HTTP server task failed: {e}"),
            _ => {}
        }
        tracing::info!("stopped");
        anyhow::Ok(ExitCode::SUCCESS)
    })?;
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(code)
}

/// SIGHUP: the config file read again and applied between rounds. Added sources start, removed
/// ones stop, changed ones (type, keys or schedule) start over on their new config; a config
/// with errors is refused with the error logged, and the running set goes on.
struct Reloader {
    path: PathBuf,
    absolute_db: PathBuf,
    poll_interval: Duration,
    notify: Arc<tokio::sync::Notify>,
}

impl Reloader {
    /// Whether a SIGHUP came in (taking it).
    fn pending(&self) -> bool {
        use futures_util::FutureExt;
        // A stored permit (notify_one while no one waited) completes at once.
        self.notify.notified().now_or_never().is_some()
    }

    fn apply(
        &self,
        registry: &athena_core::Registry,
        scheduled: &mut Vec<Scheduled>,
        shared: &Shared,
    ) {
        let configs = match self.load(registry) {
            Ok(configs) => configs,
            Err(e) => {
                let e = crate::redact::redact(&format!("{e:#}"));
                tracing::error!(
                    "SIGHUP: the config was not reloaded, the running sources go on: {e}"
                );
                return;
            }
        };
        let now = Utc::now();
        let mut old: Vec<Scheduled> = std::mem::take(scheduled);
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for config in configs {
            let schedule = schedule_for(
                config.schedule.as_ref(),
                &config.source_type,
                self.poll_interval,
            );
            let same = |s: &Scheduled| {
                s.config.id == config.id
                    && s.config.source_type == config.source_type
                    && s.config.table() == config.table()
                    && s.schedule == schedule
            };
            if let Some(i) = old.iter().position(same) {
                scheduled.push(old.swap_remove(i));
                continue;
            }
            if old.iter().any(|s| s.config.id == config.id) {
                changed.push(config.id.clone());
            } else {
                added.push(config.id.clone());
            }
            scheduled.push(Scheduled {
                config,
                schedule,
                next: now,
            });
        }
        let removed: Vec<String> = old
            .iter()
            .map(|s| s.config.id.clone())
            .filter(|id| !scheduled.iter().any(|s| &s.config.id == id))
            .collect();
        {
            let mut health = shared.health.lock().unwrap_or_else(|p| p.into_inner());
            let kept: Vec<Health> = scheduled
                .iter()
                .map(|s| {
                    let fresh = added.contains(&s.config.id) || changed.contains(&s.config.id);
                    health
                        .iter()
                        .find(|h| h.id == s.config.id && !fresh)
                        .cloned()
                        .unwrap_or_else(|| Health {
                            id: s.config.id.clone(),
                            ..Health::default()
                        })
                })
                .collect();
            *health = kept;
        }
        tracing::info!(
            added = ?added,
            removed = ?removed,
            changed = ?changed,
            "SIGHUP: config reloaded"
        );
    }

    /// The config's sources, built once to check them (a config error refuses the reload).
    fn load(&self, registry: &athena_core::Registry) -> Result<Vec<SourceConfig>> {
        let config = crate::commands::load_sources_config(&self.path)?;
        let configs: Vec<SourceConfig> = config
            .sources
            .into_iter()
            .map(|mut c| {
                c.set_store_path(&self.absolute_db);
                c
            })
            .collect();
        let built = registry.build_all(&configs)?;
        crate::redact::remember(&built.secrets);
        Ok(configs)
    }
}

fn open_store(db_path: &Path) -> Result<Box<dyn Store>> {
    // A sync already running holds the lock: wait for it a little, as `sync` does.
    let store = SqliteStore::open_for_sync(db_path, Duration::from_secs(2))
        .with_context(|| format!("opening store {}", db_path.display()))?;
    Ok(Box::new(store))
}

/// Runs the due sources, waits for the next one to be due, and again, until `cancel`. Returns
/// the store, so it is closed (and its lock released) only after the last commit.
async fn schedule_loop(
    engine: &Engine,
    registry: &athena_core::Registry,
    mut store: Box<dyn Store>,
    mut scheduled: Vec<Scheduled>,
    shared: &Shared,
    cancel: &CancelToken,
    reloader: &Reloader,
) -> Box<dyn Store> {
    let mut random = Random::new();
    while !cancel.is_cancelled() {
        // A SIGHUP during a round is taken now, between rounds.
        if reloader.pending() {
            reloader.apply(registry, &mut scheduled, shared);
            continue;
        }
        let now = Utc::now();
        let due: Vec<usize> = (0..scheduled.len())
            .filter(|&i| scheduled[i].next <= now)
            .collect();
        if due.is_empty() {
            // No sources (all removed by a reload): answer HTTP until stopped or reloaded.
            let wake = scheduled.iter().map(|s| s.next).min();
            let wait = wake.map_or(Duration::from_secs(3600), |w| {
                (w - now).to_std().unwrap_or_default()
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = reloader.notify.notified() => reloader.apply(registry, &mut scheduled, shared),
                () = cancel.cancelled() => break,
            }
            continue;
        }
        let configs: Vec<&SourceConfig> = due.iter().map(|&i| &scheduled[i].config).collect();
        let built = match registry.build_all(configs.iter().copied()) {
            Ok(built) => built,
            Err(e) => {
                // The same configs built at start-up; only the environment can have changed.
                let error = crate::redact::redact(&e.to_string());
                let ended = Utc::now();
                for &i in &due {
                    record_failure(shared, &scheduled[i].config.id, &error);
                    let failures = failures_of(shared, &scheduled[i].config.id);
                    scheduled[i].next = next_run(&scheduled[i], ended, failures, &mut random);
                }
                tracing::warn!("building sources failed: {error}");
                continue;
            }
        };
        let options = SyncOptions {
            cancel: cancel.clone(),
            secrets: built.secrets,
            metrics: shared.metrics.clone(),
            ..SyncOptions::default()
        };
        let (report, back) = engine.run(store, built.sources, options).await;
        store = back;
        let ended = Utc::now();
        for source in &report.sources {
            let Some(s) = scheduled.iter_mut().find(|s| s.config.id == source.info.id) else {
                continue;
            };
            match source.status {
                SourceStatusKind::Ok => {
                    record_success(shared, &s.config.id);
                    s.next = next_run(s, ended, 0, &mut random);
                    tracing::info!(
                        source = %s.config.id,
                        written = source.events_written,
                        duplicates = source.duplicates,
                        invalid = source.invalid,
                        took_ms = source.stats.duration.as_millis() as u64,
                        next = %s.next.format("%H:%M:%S%.3f"),
                        "run ok"
                    );
                }
                SourceStatusKind::Failed => {
                    let error = source
                        .error
                        .clone()
                        .unwrap_or_else(|| "unknown error".into());
                    record_failure(shared, &s.config.id, &error);
                    let failures = failures_of(shared, &s.config.id);
                    s.next = next_run(s, ended, failures, &mut random);
                    tracing::warn!(
                        source = %s.config.id,
                        consecutive_failures = failures,
                        retry_at = %s.next.format("%H:%M:%S%.3f"),
                        "run failed: {error}"
                    );
                }
                // Stopped by a signal: the loop ends; nothing to schedule.
                _ => {
                    tracing::info!(source = %s.config.id, "run stopped by a signal; what was read is committed")
                }
            }
        }
    }
    store
}

fn next_run(
    s: &Scheduled,
    ended: DateTime<Utc>,
    failures: u32,
    random: &mut Random,
) -> DateTime<Utc> {
    s.schedule
        .next_run(ended, failures, random.unit())
        // Past the end of time (an interval that overflows): try again in a day.
        .unwrap_or_else(|| ended + chrono::TimeDelta::days(1))
}

fn record_success(shared: &Shared, id: &str) {
    with_health(shared, id, |h| {
        h.consecutive_failures = 0;
        h.last_error = None;
    });
}

fn record_failure(shared: &Shared, id: &str, error: &str) {
    with_health(shared, id, |h| {
        h.consecutive_failures = h.consecutive_failures.saturating_add(1);
        h.last_error = Some(error.to_string());
    });
}

fn failures_of(shared: &Shared, id: &str) -> u32 {
    let mut n = 0;
    with_health(shared, id, |h| n = h.consecutive_failures);
    n
}

fn with_health(shared: &Shared, id: &str, f: impl FnOnce(&mut Health)) {
    let mut health = shared.health.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = health.iter_mut().find(|h| h.id == id) {
        f(h);
    }
}

/// SIGTERM or SIGINT: cancel (the running sync commits what it handed over, no run starts);
/// after [`STOP_DEADLINE`] exit regardless; a second signal exits at once. SIGHUP asks the
/// schedule loop to reload the config between rounds.
fn handle_signals(cancel: CancelToken, reload: Arc<tokio::sync::Notify>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("handling SIGHUP")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config after the running round");
                    reload.notify_one();
                    continue;
                }
            }
            if cancel.is_cancelled() {
                eprintln!("second signal: exiting now");
                std::process::exit(130);
            }
            eprintln!(
                "stopping: committing what the running sync has read (signal again to exit now)"
            );
            cancel.cancel();
            tokio::spawn(async {
                tokio::time::sleep(STOP_DEADLINE).await;
                eprintln!(
                    "the running sync did not stop within {}s; exiting (every committed batch is whole)",
                    STOP_DEADLINE.as_secs()
                );
                std::process::exit(0);
            });
        }
    });
    Ok(())
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn readyz(
    axum::extract::State(shared): axum::extract::State<Shared>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !authorized(shared.token.as_deref(), &headers) {
        return unauthorized();
    }
    let store_open = shared.store_open.load(Ordering::SeqCst);
    let health = shared
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    // The sources being run, so a reload can be seen to have taken.
    let sources: Vec<&str> = health.iter().map(|h| h.id.as_str()).collect();
    let failing: Vec<serde_json::Value> = health
        .iter()
        .filter(|h| h.consecutive_failures >= UNREADY_AFTER_FAILURES)
        .map(|h| {
            serde_json::json!({
                "source": h.id,
                "consecutive_failures": h.consecutive_failures,
                "error": h.last_error,
            })
        })
        .collect();
    if store_open && failing.is_empty() {
        return json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "sources": sources}),
        );
    }
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({
            "status": "not_ready",
            "store_open": store_open,
            "sources": sources,
            "failing_sources": failing,
        }),
    )
}

async fn metrics(
    axum::extract::State(shared): axum::extract::State<Shared>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !authorized(shared.token.as_deref(), &headers) {
        return unauthorized();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
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
    fn only_loopback_addresses_are_accepted_without_a_token() {
        assert!(listen_addr("127.0.0.1:9464", false).is_ok());
        assert!(listen_addr("[::1]:9464", false).is_ok());
        let err = listen_addr("0.0.0.0:9464", false).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        assert!(err.to_string().contains("api_token"), "{err}");
        assert!(listen_addr("0.0.0.0:9464", true).is_ok());
        assert!(listen_addr("localhost", true).is_err());
    }

    #[test]
    fn a_token_is_asked_for_as_a_bearer_and_compared_whole() {
        let token = Secret::new("s3cret-token");
        let with = |value: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            h
        };
        assert!(authorized(None, &axum::http::HeaderMap::new()));
        assert!(!authorized(Some(&token), &axum::http::HeaderMap::new()));
        assert!(authorized(Some(&token), &with("Bearer s3cret-token")));
        assert!(!authorized(Some(&token), &with("Bearer s3cret-toke")));
        assert!(!authorized(Some(&token), &with("Bearer s3cret-tokenX")));
        assert!(!authorized(Some(&token), &with("s3cret-token")));
    }

    #[test]
    fn a_live_source_is_polled_until_live_following_exists() {
        let poll = Duration::from_millis(250);
        assert_eq!(schedule_for(None, "api_log", poll), Schedule::Every(poll));
        assert_eq!(schedule_for(None, "files", poll), Schedule::Every(poll));
        assert_eq!(
            schedule_for(None, "git", poll),
            Schedule::default_for("git")
        );
        let hourly: Schedule = "1h".parse().unwrap();
        assert_eq!(schedule_for(Some(&hourly), "git", poll), hourly);
        let live: Schedule = "live".parse().unwrap();
        assert_eq!(
            schedule_for(Some(&live), "github", poll),
            Schedule::Every(poll)
        );
    }

    #[test]
    fn random_numbers_stay_in_the_unit_interval() {
        let mut r = Random::new();
        for _ in 0..1000 {
            let x = r.unit();
            assert!((0.0..1.0).contains(&x), "{x}");
        }
    }
}
