//! `serve`: one process, one store held for its whole life, every configured source run on
//! its `schedule` (else its type's default), and `/healthz`, `/readyz` and `/metrics` over HTTP.
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
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use athena_core::{CancelToken, Engine, Metrics, Secret, SourceConfig, Store};
use athena_store::SqliteStore;

use crate::UsageError;

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

/// What `serve` was asked to do.
pub(crate) struct ServeArgs {
    pub config: PathBuf,
    pub db: Option<PathBuf>,
    /// `--listen`, if given.
    pub listen: Option<String>,
    /// How often a live source whose paths cannot be watched runs.
    pub poll_interval: Duration,
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
    // each run builds its source afresh (its cursor lives in the store).
    let built = registry.build_all(&configs)?;
    crate::redact::remember(&built.secrets);
    drop(built);

    let store = open_store(&db_path)?;
    // MCP's recall reads over connections of its own: readers never wait for the writer.
    let recall = athena_store::SqliteRecall::open(&db_path, crate::commands::RECALL_CONNECTIONS)
        .with_context(|| format!("opening store {} for recall", db_path.display()))?;
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("setting the listener non-blocking")?;

    let shared = Shared {
        metrics: Metrics::with_version(env!("CARGO_PKG_VERSION")),
        health: Arc::new(Mutex::new(Vec::new())),
        store_open: Arc::new(AtomicBool::new(true)),
        token,
    };
    // A source's lag shows from the first scrape, not only once it stores something new.
    let ids = configs.iter().map(|c| c.id.as_str());
    if let Err(e) = shared.metrics.seed_newest_from(&*store, ids) {
        tracing::warn!("reading the newest stored events for the lag metric: {e}");
    }
    let rt = crate::commands::runtime()?;
    let engine = Engine::new(registry.clone(), config.engine);
    let code = rt.block_on(async move {
        let cancel = CancelToken::new();
        let reload = Arc::new(tokio::sync::Notify::new());
        signals::handle_signals(cancel.clone(), reload.clone())?;
        let listener =
            tokio::net::TcpListener::from_std(listener).context("listening on the runtime")?;
        tracing::info!("serving /healthz, /readyz and /metrics on http://{addr}");
        let app = http::router(shared.clone()).merge(mcp_routes(recall, &shared, &cancel));
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
            store_files: store_files(&absolute_db),
        });
        let config_file = supervisor::ConfigFile {
            path: args.config.clone(),
            absolute_db,
        };
        supervisor::Supervisor::start(workers.clone(), configs, config_file)
            .run(cancel, reload)
            .await;
        // Every worker has ended, so this is the last handle: the store closes (and its lock
        // is released) after the last commit.
        if let Some(workers) = Arc::into_inner(workers) {
            drop(workers.engine.close().await);
        }
        shared.store_open.store(false, Ordering::SeqCst);
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

/// MCP (streamable HTTP) at `/mcp`, behind the bearer token when one is set.
fn mcp_routes(
    recall: athena_store::SqliteRecall,
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
    let guard = axum::middleware::from_fn_with_state(shared.token.clone(), http::require_token);
    axum::Router::new().nest(
        "/mcp",
        crate::mcp::router(Arc::new(recall), hosts, stop.clone()).route_layer(guard),
    )
}

/// The store's file and those SQLite and the lock keep beside it.
fn store_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal", ".lock"]
        .iter()
        .map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        })
        .collect()
}

fn open_store(db_path: &Path) -> Result<Box<dyn Store>> {
    // A sync already running holds the lock: wait for it a little, as `sync` does.
    let store = SqliteStore::open_for_sync(db_path, Duration::from_secs(2))
        .with_context(|| format!("opening store {}", db_path.display()))?;
    Ok(Box::new(store))
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
    fn the_store_files_are_the_database_and_what_sqlite_and_the_lock_keep_beside_it() {
        let files = store_files(Path::new("/d/athena.db"));
        assert!(files.contains(&PathBuf::from("/d/athena.db-wal")));
        assert!(files.contains(&PathBuf::from("/d/athena.db.lock")));
        assert_eq!(files.len(), 5);
    }
}
