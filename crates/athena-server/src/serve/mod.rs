//! `serve`: one process, one store held for its whole life, every configured source run on
//! its `schedule` (else its type's default), and `/healthz`, `/readyz` and `/metrics` over HTTP,
//! with the recall API ([`crate::api`]) over read-only connections beside them. With no
//! sources configured it is only that: a read-only API server over an existing store, which
//! takes no write lock (a `sync` may run beside it).
//!
//! - `server`: [`Server`], the async entry another program embeds: start, reload, stop with a
//!   token, errors given back; [`serve`] is its blocking wrapper for the binary, which owns
//!   the runtime and the signals (`signals`: stop and reload);
//! - `app`: every route and the tower layers over them (token, timeout, bound on requests in
//!   flight, CORS, tracing); `http`: `/healthz`, `/readyz`, `/metrics`;
//! - `supervisor`: one worker task per source; a reload swaps the set;
//! - `worker`: one source's loop: run, wait for its schedule or a change it watches, again;
//! - `watcher`: a live source's paths watched (inotify through `notify`).
//!
//! Every run goes through one [`RunningEngine`](athena_core::RunningEngine): its single writer
//! thread commits each batch with its cursor, so the exactly-once contract is the one `sync`
//! keeps, and a source never runs twice at once because it has one worker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use athena_core::{CancelToken, Metrics, Registry, Secret};

use crate::error::ServeError;

mod app;
mod cluster;
mod feeds;
mod http;
mod server;
mod signals;
mod supervisor;
mod watcher;
mod worker;

pub use app::HttpLimits;
pub use server::Server;

/// A source is not ready once this many of its runs in a row have failed.
const UNREADY_AFTER_FAILURES: u32 = 3;

/// How long after a change a live source runs (see [`worker::Timing::debounce`]).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// How often a watched live source runs without a change (see [`worker::Timing::reconcile`]).
const RECONCILE: Duration = Duration::from_secs(30);

/// What [`Server::start`] and [`serve`] are asked to do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The config file: its sources, `[store]` and `[serve]`. When it does not exist and `db`
    /// is given, the server runs with no sources (read-only).
    pub config: PathBuf,
    /// The store, over the config's `[store] path` (default `athena.db`).
    pub db: Option<PathBuf>,
    /// The address to listen on, over the config's `[serve] listen` (default 127.0.0.1:9464;
    /// port 0: one the system chooses, see [`Server::local_addr`]).
    pub listen: Option<String>,
    /// How often a live source whose paths cannot be watched runs.
    pub poll_interval: Duration,
    /// Bounds on HTTP requests.
    pub http: HttpLimits,
}

impl ServeOptions {
    /// The sources, `[store]` and `[serve]` of `config`, every other option at its default.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        ServeOptions {
            config: config.into(),
            db: None,
            listen: None,
            poll_interval: Duration::from_secs(1),
            http: HttpLimits::default(),
        }
    }

    /// The store at `db`, over the config's `[store] path`; with no config file, a read-only
    /// server over it.
    pub fn db(mut self, db: impl Into<PathBuf>) -> Self {
        self.db = Some(db.into());
        self
    }

    /// Listen on `addr`, over the config's `[serve] listen`.
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = Some(addr.into());
        self
    }
}

/// What `/readyz` reports of one source.
#[derive(Debug, Clone, Default)]
struct Health {
    id: String,
    priority: i32,
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
    /// This worker's name, when workers share the store: `/readyz` says it.
    worker: Arc<Mutex<Option<String>>>,
    /// Every configured source's priority, for the recall API's source rows.
    priorities: crate::recall::KnownPriorities,
}

impl Shared {
    /// Fresh metrics and no sources yet, with the store open.
    fn new(token: Option<Arc<Secret>>) -> Self {
        Shared {
            metrics: Metrics::with_version(env!("CARGO_PKG_VERSION")),
            health: Arc::new(Mutex::new(Vec::new())),
            store_open: Arc::new(AtomicBool::new(true)),
            token,
            worker: Arc::default(),
            priorities: Arc::default(),
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

/// The shortest `[serve] api_token` accepted for an address other than loopback. Anyone who
/// can reach the port can guess tokens as fast as the server answers; 16 random characters
/// (64 bits as hex) are out of reach of that, a word or a short password someone typed is not.
/// On loopback any non-empty token goes: the machine's users are not the internet.
const MIN_PUBLIC_TOKEN_CHARS: usize = 16;

/// The listen address: an address that is not loopback is refused unless a token of at least
/// [`MIN_PUBLIC_TOKEN_CHARS`] guards it.
pub(super) fn listen_addr(text: &str, token: Option<&Secret>) -> Result<SocketAddr> {
    let addr: SocketAddr = text.parse().map_err(|e| {
        ServeError::Usage(format!(
            "listen address {text}: not an address and port like 127.0.0.1:9464 ({e})"
        ))
    })?;
    if addr.ip().is_loopback() {
        return Ok(addr);
    }
    match token {
        None => Err(ServeError::Usage(format!(
            "listen address {addr}: an address other than loopback (127.0.0.1 or [::1]) needs `[serve] api_token` in the config, so that only callers with the token are answered (make one with `openssl rand -hex 32`)"
        ))
        .into()),
        Some(token) if token.expose().chars().count() < MIN_PUBLIC_TOKEN_CHARS => {
            Err(ServeError::Usage(format!(
                "listen address {addr}: `[serve] api_token` is shorter than {MIN_PUBLIC_TOKEN_CHARS} characters, too easy to guess for an address other than loopback; make a long random one with `openssl rand -hex 32`"
            ))
            .into())
        }
        Some(_) => Ok(addr),
    }
}

/// Runs the server until SIGTERM or SIGINT, on a runtime of its own, blocking the calling
/// thread: [`Server::start`] with `registry`'s source types, and the process's signals.
///
/// It owns the process's signals: SIGHUP reloads the config, SIGTERM or SIGINT stop it, and a
/// second signal (or a stop that outlasts the grace for the running syncs) exits the process.
/// A program that embeds the server calls [`Server::start`] on its own runtime instead.
pub fn serve(options: ServeOptions, registry: Arc<Registry>) -> Result<(), ServeError> {
    let rt = runtime()?;
    let served = rt.block_on(async move {
        let stop = CancelToken::new();
        let server = Server::start(options, registry, stop.clone()).await?;
        signals::handle_signals(stop, server.reload_notify()).map_err(ServeError::from_anyhow)?;
        server.wait().await
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    served
}

/// The async runtime [`serve`] runs on: two workers, the cores a small host has.
fn runtime() -> Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .context("starting the async runtime")
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
