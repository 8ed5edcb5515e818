//! `serve`: one process, one store held for its whole life, every configured source run on
//! its `schedule` (else its type's default), and `/healthz`, `/readyz` and `/metrics` over HTTP,
//! with the recall API ([`crate::api`]) over read-only connections beside them. With no
//! sources configured it is only that: a read-only API server over an existing store, which
//! takes no write lock (a `sync` may run beside it).
//!
//! - `supervisor`: one worker task per source; SIGHUP swaps the set.
//! - `worker`: one source's loop: run, wait for its schedule or a change it watches, again.
//! - `watcher`: a live source's paths watched (inotify through `notify`).
//! - `http`: the endpoints and the bearer token; `signals`: stop and reload.
//!
//! Every run goes through one [`RunningEngine`](athena_core::RunningEngine): its single writer
//! thread commits each batch with its cursor, so the exactly-once contract is the one `sync`
//! keeps, and a source never runs twice at once because it has one worker.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use athena_core::{CancelToken, Config, Engine, Metrics, Registry, Secret, SourceConfig, Store};
use athena_store::{SqliteRecall, SqliteStore};

use crate::ServeError;

mod http;
mod signals;
mod supervisor;
mod watcher;
mod worker;

/// A source is not ready once this many of its runs in a row have failed.
const UNREADY_AFTER_FAILURES: u32 = 3;

/// How long after a change a live source runs (see [`worker::Timing::debounce`]).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// How often a watched live source runs without a change (see [`worker::Timing::reconcile`]).
const RECONCILE: Duration = Duration::from_secs(30);

/// What [`serve`] is asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The config file: its sources, `[store]` and `[serve]`. When it does not exist and `db`
    /// is given, the server runs with no sources (read-only).
    pub config: PathBuf,
    /// The store, over the config's `[store] path` (default `athena.db`).
    pub db: Option<PathBuf>,
    /// The address to listen on, over the config's `[serve] listen` (default 127.0.0.1:9464).
    pub listen: Option<String>,
    /// How often a live source whose paths cannot be watched runs.
    pub poll_interval: Duration,
    /// The source types the config may name.
    pub registry: Arc<Registry>,
}

/// What `/readyz` reports of one source.
#[derive(Debug, Clone, Default)]
struct Health {
    id: String,
    consecutive_failures: u32,
    last_error: Option<String>,
}

/// What the HTTP handlers read and the workers write.
#[derive(Clone)]
struct Shared {
    metrics: Metrics,
    health: Arc<Mutex<Vec<Health>>>,
    store_open: Arc<AtomicBool>,
    /// `[serve] api_token`: every request but `/healthz` must carry it.
    token: Option<Arc<Secret>>,
}

impl Shared {
    /// Fresh metrics and no sources yet, with the store open.
    fn new(token: Option<Arc<Secret>>) -> Self {
        Shared {
            metrics: Metrics::with_version(env!("CARGO_PKG_VERSION")),
            health: Arc::new(Mutex::new(Vec::new())),
            store_open: Arc::new(AtomicBool::new(true)),
            token,
        }
    }

    fn record_success(&self, id: &str) {
        self.with_health(id, |h| {
            h.consecutive_failures = 0;
            h.last_error = None;
        });
    }

    /// Counts a failure; returns the failures in a row.
    fn record_failure(&self, id: &str, error: &str) -> u32 {
        let mut failures = 0;
        self.with_health(id, |h| {
            h.consecutive_failures = h.consecutive_failures.saturating_add(1);
            h.last_error = Some(error.to_string());
            failures = h.consecutive_failures;
        });
        failures
    }

    fn with_health(&self, id: &str, f: impl FnOnce(&mut Health)) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = health.iter_mut().find(|h| h.id == id) {
            f(h);
        }
    }
}

/// How long a stopping server lets the answers in flight go out.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// The default of `--listen` and `[serve] listen`.
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// The shortest `[serve] api_token` accepted for an address other than loopback. Anyone who
/// can reach the port can guess tokens as fast as the server answers; 16 random characters
/// (64 bits as hex) are out of reach of that, a word or a short password someone typed is not.
/// On loopback any non-empty token goes: the machine's users are not the internet.
const MIN_PUBLIC_TOKEN_CHARS: usize = 16;

/// The listen address: an address that is not loopback is refused unless a token of at least
/// [`MIN_PUBLIC_TOKEN_CHARS`] guards it.
fn listen_addr(text: &str, token: Option<&Secret>) -> Result<SocketAddr> {
    let addr: SocketAddr = text.parse().map_err(|e| {
        ServeError::Usage(format!(
            "--listen {text}: not an address and port like 127.0.0.1:9464 ({e})"
        ))
    })?;
    if addr.ip().is_loopback() {
        return Ok(addr);
    }
    match token {
        None => Err(ServeError::Usage(format!(
            "--listen {addr}: an address other than loopback (127.0.0.1 or [::1]) needs `[serve] api_token` in the config, so that only callers with the token are answered (make one with `openssl rand -hex 32`)"
        ))
        .into()),
        Some(token) if token.expose().chars().count() < MIN_PUBLIC_TOKEN_CHARS => {
            Err(ServeError::Usage(format!(
                "--listen {addr}: `[serve] api_token` is shorter than {MIN_PUBLIC_TOKEN_CHARS} characters, too easy to guess for an address other than loopback; make a long random one with `openssl rand -hex 32`"
            ))
            .into())
        }
        Some(_) => Ok(addr),
    }
}

/// Runs `serve` until SIGTERM or SIGINT: every configured source on its schedule, and the HTTP
/// endpoints (`/healthz`, `/readyz`, `/metrics`, `/v1`, `/mcp`, `/`) beside them. With no
/// sources, a read-only server over an existing store.
///
/// It blocks the calling thread on a runtime of its own and owns the process's signals: SIGHUP
/// reloads the config, SIGTERM or SIGINT stop it, and a second signal (or a stop that outlasts
/// the grace for the running syncs) exits the process.
pub fn serve(options: ServeOptions) -> Result<(), ServeError> {
    run(options).map_err(ServeError::from_anyhow)
}

fn run(args: ServeOptions) -> Result<()> {
    if args.poll_interval.is_zero() {
        return Err(ServeError::Usage("--poll-interval-ms must be at least 1".into()).into());
    }
    let config = load_config(&args)?;
    let token = config.serve.api_token.clone().map(Arc::new);
    if let Some(token) = &token {
        let mut secrets = athena_core::Redactor::new();
        secrets.add_secret(token);
        crate::redact::remember(&secrets);
    }
    let listen = (args.listen.clone())
        .or(config.serve.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr = listen_addr(&listen, token.as_deref())?;
    let cors_origins = crate::api::cors_origins(&config.serve.cors_origins)
        .map_err(|e| ServeError::Usage(format!("{}: {e}", args.config.display())))?;
    let db_path = args
        .db
        .or(config.store_path.clone())
        .unwrap_or_else(|| PathBuf::from("athena.db"));
    let absolute_db = std::path::absolute(&db_path).unwrap_or_else(|_| db_path.clone());
    if config.sources.is_empty() {
        return serve_read_only(&db_path, addr, token, cors_origins, args.registry.clone());
    }
    let configs: Vec<SourceConfig> = config
        .sources
        .iter()
        .cloned()
        .map(|mut c| {
            c.set_store_path(&absolute_db);
            c
        })
        .collect();
    let registry = args.registry.clone();
    // Built once up front so a config error is exit 2 before the store or the port is touched;
    // each run builds its source afresh (its cursor lives in the store).
    let built = registry.build_all(&configs)?;
    crate::redact::remember(&built.secrets);
    drop(built);

    let store = open_store(&db_path)?;
    // Beside the write store, which created the file on a first start and checked it.
    let recall = SqliteRecall::beside(&store, crate::recall::Limits::default().connections)
        .with_context(|| format!("opening store {} for reading", db_path.display()))?;
    let recall = Arc::new(recall);
    let store: Box<dyn Store> = Box::new(store);
    let listener = bind(addr)?;
    let shared = Shared::new(token);
    // A source's lag shows from the first scrape, not only once it stores something new.
    let ids = configs.iter().map(|c| c.id.as_str());
    if let Err(e) = shared.metrics.seed_newest_from(&*store, ids) {
        tracing::warn!("reading the newest stored events for the lag metric: {e}");
    }
    let rt = crate::runtime()?;
    let engine = Engine::new(registry.clone(), config.engine);
    rt.block_on(async move {
        let cancel = CancelToken::new();
        let reload = Arc::new(tokio::sync::Notify::new());
        signals::handle_signals(cancel.clone(), reload.clone())?;
        let listener =
            tokio::net::TcpListener::from_std(listener).context("listening on the runtime")?;
        tracing::info!("serving /healthz, /readyz, /metrics, /v1, /mcp and / on http://{addr}");
        let app = app(
            shared.clone(),
            recall,
            registry.clone(),
            cors_origins,
            &cancel,
        );
        let stop = cancel.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        let workers = Arc::new(worker::Workers {
            engine: engine.start(store, shared.metrics.clone()),
            registry,
            shared: shared.clone(),
            timing: worker::Timing {
                debounce: DEBOUNCE,
                reconcile: RECONCILE,
                poll: args.poll_interval,
            },
            store_files: worker::StoreFiles::of(&absolute_db),
        });
        let config_file = supervisor::ConfigFile {
            path: args.config.clone(),
            absolute_db,
        };
        supervisor::Supervisor::start(workers.clone(), configs, config_file, cancel)
            .run(reload)
            .await;
        // Every worker has ended, so this is the last handle: the store closes (and its lock
        // is released) after the last commit.
        match Arc::into_inner(workers) {
            Some(workers) => drop(workers.engine.close().await),
            None => tracing::warn!("the store was not closed cleanly: a worker still holds it"),
        }
        shared.store_open.store(false, Ordering::SeqCst);
        match tokio::time::timeout(STOP_GRACE, server).await {
            Ok(Ok(Err(e))) => tracing::warn!("the HTTP server stopped with an error: {e}"),
            Ok(Err(e)) => tracing::warn!("the HTTP server task failed: {e}"),
            _ => {}
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// Every HTTP route `serve` answers, with or without sources: the one place a set of routes
/// is merged in.
fn app(
    shared: Shared,
    recall: Arc<SqliteRecall>,
    registry: Arc<Registry>,
    cors_origins: Vec<axum::http::HeaderValue>,
    stop: &CancelToken,
) -> axum::Router {
    // One service for HTTP and MCP: they share its connections, queue and budgets, and the
    // stop cancels every query running.
    let limits = crate::recall::Limits::default();
    let service = crate::recall::RecallService::new(recall, limits, stop.clone());
    let state = crate::api::RecallState::new(service.clone(), shared.token.clone(), registry);
    http::router(shared.clone())
        .merge(crate::api::router(state, cors_origins))
        .merge(mcp_routes(service, &shared, stop))
        // Last, so that they cover every route above.
        .method_not_allowed_fallback(crate::api::method_not_allowed)
        .fallback(crate::api::not_found)
}

/// MCP (streamable HTTP) at `/mcp`, behind the bearer token when one is set.
fn mcp_routes(
    recall: crate::recall::RecallService,
    shared: &Shared,
    stop: &CancelToken,
) -> axum::Router {
    use crate::mcp::Hosts;
    // A token guards every request, so any Host name may reach it (not only loopback).
    let hosts = if shared.token.is_some() {
        Hosts::Any
    } else {
        Hosts::Loopback
    };
    let guard =
        axum::middleware::from_fn_with_state(shared.token.clone(), crate::auth::require_token);
    axum::Router::new().nest(
        "/mcp",
        crate::mcp::router(recall, hosts, stop.clone()).route_layer(guard),
    )
}

/// The config `serve` runs: the file, or, when it does not exist and `--db` names the store,
/// none (a read-only API server). A file without sources is accepted here: it serves the API.
fn load_config(args: &ServeOptions) -> Result<Config> {
    if args.db.is_some() && !args.config.exists() {
        return Ok(Config::parse("", None)?);
    }
    Ok(Config::load_existing(&args.config)?)
}

fn open_recall(db_path: &Path) -> Result<Arc<SqliteRecall>> {
    // The only connections this process opens: the file may be checked first.
    let recall = SqliteRecall::open(db_path, crate::recall::Limits::default().connections)
        .with_context(|| format!("opening store {} for reading", db_path.display()))?;
    Ok(Arc::new(recall))
}

/// No sources: the recall API (and `/healthz`, `/readyz`, `/metrics`) over read-only
/// connections, until SIGTERM or SIGINT. The store must exist; no lock is taken.
fn serve_read_only(
    db_path: &Path,
    addr: SocketAddr,
    token: Option<Arc<Secret>>,
    cors_origins: Vec<axum::http::HeaderValue>,
    registry: Arc<Registry>,
) -> Result<()> {
    let recall = open_recall(db_path)?;
    let listener = bind(addr)?;
    // The store opened: ready for as long as the process serves.
    let shared = Shared::new(token);
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let cancel = CancelToken::new();
        let reload = Arc::new(tokio::sync::Notify::new());
        signals::handle_signals(cancel.clone(), reload.clone())?;
        tokio::spawn(async move {
            loop {
                reload.notified().await;
                tracing::info!("no sources run in read-only mode; restart serve to add some");
            }
        });
        let listener =
            tokio::net::TcpListener::from_std(listener).context("listening on the runtime")?;
        tracing::info!(
            "no sources configured: serving the store {} read-only on http://{addr}",
            db_path.display()
        );
        let app = app(shared, recall, registry, cors_origins, &cancel);
        let stop = cancel.clone();
        let mut server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        tokio::select! {
            served = &mut server => return served.context("serving HTTP")?.context("serving HTTP"),
            _ = cancel.cancelled() => {}
        }
        // Nothing to commit: the queries running were cancelled with the stop and answer at
        // once. Their answers get a moment to go out; a client that keeps its connection
        // busy beyond it is not waited for.
        if let Ok(Ok(Err(e))) = tokio::time::timeout(STOP_GRACE, server).await {
            tracing::warn!("the HTTP server stopped with an error: {e}");
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// The listening socket, bound before the runtime starts so a taken port is an error at once.
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("setting the listener non-blocking")?;
    Ok(listener)
}

fn open_store(db_path: &Path) -> Result<SqliteStore> {
    // A sync already running holds the lock: wait for it a little, as `sync` does.
    SqliteStore::open_for_sync(db_path, Duration::from_secs(2))
        .with_context(|| format!("opening store {}", db_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_accepted_without_a_token() {
        let token = Secret::new("0123456789abcdef");
        assert!(listen_addr("127.0.0.1:9464", None).is_ok());
        assert!(listen_addr("[::1]:9464", None).is_ok());
        let err = listen_addr("0.0.0.0:9464", None).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<ServeError>(),
            Some(ServeError::Usage(_))
        ));
        assert!(err.to_string().contains("api_token"), "{err}");
        assert!(listen_addr("0.0.0.0:9464", Some(&token)).is_ok());
        assert!(listen_addr("localhost", Some(&token)).is_err());
    }

    #[test]
    fn a_short_token_no_longer_opens_a_public_address() {
        let short = Secret::new("ab");
        let err = listen_addr("0.0.0.0:9464", Some(&short)).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<ServeError>(),
            Some(ServeError::Usage(_))
        ));
        let text = err.to_string();
        assert!(text.contains("openssl rand -hex 32"), "{text}");
        assert!(!text.contains("\"ab\""), "{text}");
        let fifteen = Secret::new("0123456789abcde");
        assert!(listen_addr("[::]:9464", Some(&fifteen)).is_err());
        assert!(
            listen_addr("127.0.0.1:9464", Some(&short)).is_ok(),
            "loopback"
        );
    }
}
