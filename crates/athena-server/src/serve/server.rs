//! The server as a library: [`Server::start`] checks the config, opens the store, binds the
//! port and serves on the caller's runtime until the caller's stop token is cancelled, and
//! [`Server::wait`] gives back how it ended. It handles no signal and never exits the
//! process: that is the blocking [`super::serve`]'s, for the binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use athena_core::recall::Recall;
use athena_core::{CancelToken, Config, Engine, Registry, SourceConfig, Store};
use athena_store::Location;
use axum::http::HeaderValue;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::app::{app, HttpLimits};
use super::{cluster, listen_addr, supervisor, worker, ServeOptions, Shared, DEBOUNCE, RECONCILE};
use crate::error::ServeError;

/// How long a stopping server lets the answers in flight go out.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// The default listen address.
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// A running server, started by [`Server::start`].
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    reload: Arc<Notify>,
    task: JoinHandle<Result<()>>,
}

/// Everything checked and opened before the first request is taken.
struct Prepared {
    listener: std::net::TcpListener,
    shared: Shared,
    recall: Arc<dyn Recall>,
    /// The source types, for recall's answers (and the sources' runs).
    registry: Arc<Registry>,
    cors_origins: Vec<HeaderValue>,
    http: HttpLimits,
    location: Location,
    /// `None`: no sources, a read-only API server.
    sources: Option<Sources>,
}

/// What runs the configured sources.
struct Sources {
    store: Box<dyn Store>,
    /// With a store several workers share (PostgreSQL): this worker's leases.
    cluster: Option<cluster::Cluster>,
    engine: Engine,
    registry: Arc<Registry>,
    configs: Vec<SourceConfig>,
    config_file: supervisor::ConfigFile,
    poll: Duration,
    /// The feeds, with a reader of the store's outbox for their relays.
    feeds: Option<(Vec<crate::feed::NatsSettings>, Box<dyn Store>)>,
    /// Finds each event's references (`[links]`, as at start: a reload keeps it).
    links: Option<Arc<athena_core::links::Linker>>,
}

impl Server {
    /// Checks `options` and the config, opens the store and binds the port (a refusal of any
    /// of them is an error here, before anything is served), then serves in a task of the
    /// current Tokio runtime: every configured source on its schedule, built by `registry`,
    /// and the HTTP routes. With no sources, a read-only API server over an existing store.
    /// Cancelling `stop` stops it: the running syncs commit what they handed over, the
    /// answers in flight get a moment to go out.
    pub async fn start(
        options: ServeOptions,
        registry: Arc<Registry>,
        stop: CancelToken,
    ) -> Result<Server, ServeError> {
        // Reading the config, building the sources and opening the store touch the disk.
        let prepared = tokio::task::spawn_blocking(move || prepare(options, registry))
            .await
            .map_err(|e| ServeError::Other(anyhow::anyhow!("starting the server failed: {e}")))?
            .map_err(ServeError::from_anyhow)?;
        let listener = (prepared.listener.try_clone())
            .and_then(tokio::net::TcpListener::from_std)
            .context("listening on the runtime")
            .map_err(ServeError::Other)?;
        let addr = (listener.local_addr())
            .context("reading the bound address")
            .map_err(ServeError::Other)?;
        let reload = Arc::new(Notify::new());
        let task = tokio::spawn(run(prepared, listener, stop, reload.clone()));
        Ok(Server { addr, reload, task })
    }

    /// The address it listens on (the port the system chose, for a listen port of 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads the config again and swaps the running sources (what SIGHUP does to `serve`);
    /// a config with errors is refused with the error logged, and the running set goes on.
    pub fn reload(&self) {
        self.reload.notify_one();
    }

    pub(super) fn reload_notify(&self) -> Arc<Notify> {
        self.reload.clone()
    }

    /// Waits until it has stopped, and how it ended.
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.task.await {
            Ok(ended) => ended.map_err(ServeError::from_anyhow),
            Err(e) => Err(ServeError::Other(anyhow::anyhow!(
                "the server task failed: {e}"
            ))),
        }
    }
}

fn prepare(options: ServeOptions, registry: Arc<Registry>) -> Result<Prepared> {
    if options.poll_interval.is_zero() {
        return Err(ServeError::Usage("the poll interval must be at least 1 ms".into()).into());
    }
    let config = load_config(&options)?;
    let token = config.serve.api_token.clone().map(Arc::new);
    if let Some(token) = &token {
        let mut secrets = athena_core::Redactor::new();
        secrets.add_secret(token);
        crate::redact::remember(&secrets);
    }
    let listen = (options.listen.clone())
        .or(config.serve.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr = listen_addr(&listen, token.as_deref())?;
    let cors_origins = crate::api::cors_origins(&config.serve.cors_origins)
        .map_err(|e| ServeError::Usage(format!("{}: {e}", options.config.display())))?;
    let location = match (&options.db, &config.store_url, &config.store_path) {
        (Some(db), _, _) => Location::of_path(db),
        (None, Some(url), _) => Location::Postgres(url.clone()),
        (None, None, Some(path)) => Location::File(path.clone()),
        (None, None, None) => Location::File(PathBuf::from("athena.db")),
    };
    let (recall, sources) = if config.sources.is_empty() {
        (open_recall(&location)?, None)
    } else {
        let (recall, sources) = prepare_sources(&options, config, &location, registry.clone())?;
        (recall, Some(sources))
    };
    let shared = Shared::new(token);
    if let Some(cluster) = sources.as_ref().and_then(|s| s.cluster.as_ref()) {
        *shared.worker.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(cluster.worker().to_string());
    }
    if let Some(sources) = &sources {
        // A source's lag shows from the first scrape, not only once it stores something new.
        let ids = sources.configs.iter().map(|c| c.id.as_str());
        if let Err(e) = shared.metrics.seed_newest_from(&*sources.store, ids) {
            tracing::warn!("reading the newest stored events for the lag metric: {e}");
        }
    }
    Ok(Prepared {
        listener: bind(addr)?,
        shared,
        recall,
        registry,
        cors_origins,
        http: options.http,
        location,
        sources,
    })
}

/// The configured sources, built once up front so that a config error is refused before the
/// store or the port is touched (each run builds its source afresh: its cursor lives in the
/// store); then the store, and recall's connections beside it.
fn prepare_sources(
    options: &ServeOptions,
    config: Config,
    location: &Location,
    registry: Arc<Registry>,
) -> Result<(Arc<dyn Recall>, Sources)> {
    let absolute_db = (location.file()).map(|f| std::path::absolute(f).unwrap_or(f.to_path_buf()));
    let configs: Vec<SourceConfig> = (config.sources.iter().cloned())
        .map(|mut c| {
            if let Some(db) = &absolute_db {
                c.set_store_path(db);
            }
            c
        })
        .collect();
    let built = registry.build_all(&configs)?;
    crate::redact::remember(&built.secrets);
    drop(built);
    let feeds = crate::feed::settings_of(&config)?;
    // A sync already running holds a file's lock: wait for it a little, as `sync` does. The
    // readers beside the write store, which created a file on a first start and checked it.
    let ((store, recall), leases) = location
        .open_worker(
            Duration::from_secs(2),
            crate::recall::Limits::default().connections,
            &cluster::worker_name(),
            config.cluster.lease_ttl,
        )
        .with_context(|| format!("opening store {location}"))?;
    let mut store = store;
    // The configured people win over what the events join (as at start: a reload keeps them).
    store
        .set_people(&config.people)
        .with_context(|| format!("store {location}: [[people]]"))?;
    let feeds = if feeds.is_empty() {
        None
    } else {
        // Every batch stored from now on goes to the outbox, and the relays read it.
        (store.outbox())
            .ok_or_else(|| anyhow::anyhow!("store {location} cannot keep an outbox for feeds"))?
            .keep_outbox()?;
        let reader = location
            .open_reader()
            .with_context(|| format!("opening store {location} for the feeds"))?;
        Some((feeds, reader))
    };
    let cluster = leases.map(|l| {
        tracing::info!(
            worker = l.worker(),
            "a shared store: running the sources this worker holds a lease on"
        );
        cluster::Cluster::new(l, config.cluster.lease_ttl)
    });
    let links = config.links.linker(&registry);
    // The people of the events an upgrade linked without them, read once.
    if let Some(linker) = &links {
        let read = (store.read_unread_people(linker)).with_context(|| {
            format!("store {location}: reading the people of its earlier events")
        })?;
        if read > 0 {
            tracing::info!(
                events = read,
                "read the people of the events stored before people were kept"
            );
        }
    }
    let sources = Sources {
        store,
        cluster,
        engine: Engine::new(registry.clone(), config.engine),
        registry,
        configs,
        config_file: supervisor::ConfigFile {
            path: options.config.clone(),
            absolute_db,
        },
        poll: options.poll_interval,
        feeds,
        links,
    };
    Ok((recall, sources))
}

/// Serves until `stop`: the HTTP routes, and the sources if any.
async fn run(
    prepared: Prepared,
    listener: tokio::net::TcpListener,
    stop: CancelToken,
    reload: Arc<Notify>,
) -> Result<()> {
    let Prepared {
        shared,
        recall,
        registry,
        cors_origins,
        http,
        location,
        sources,
        ..
    } = prepared;
    let addr = listener.local_addr().context("reading the bound address")?;
    let app = app(shared.clone(), recall, registry, cors_origins, http, &stop);
    let mut server = tokio::spawn({
        let stop = stop.clone();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        }
    });
    match sources {
        Some(sources) => {
            tracing::info!("serving /healthz, /readyz, /metrics, /v1, /mcp and / on http://{addr}");
            run_sources(sources, &shared, stop, reload).await;
        }
        None => {
            tracing::info!(
                "no sources configured: serving the store {location} read-only on http://{addr}"
            );
            tokio::spawn(ignore_reloads(reload, stop.clone()));
            tokio::select! {
                served = &mut server => return served.context("serving HTTP")?.context("serving HTTP"),
                _ = stop.cancelled() => {}
            }
        }
    }
    // The queries running were cancelled with the stop and answer at once. Their answers get
    // a moment to go out; a client that keeps its connection busy beyond it is not waited for.
    match tokio::time::timeout(STOP_GRACE, server).await {
        Ok(Ok(Err(e))) => tracing::warn!("the HTTP server stopped with an error: {e}"),
        Ok(Err(e)) => tracing::warn!("the HTTP server task failed: {e}"),
        _ => {}
    }
    tracing::info!("stopped");
    Ok(())
}

/// Runs every source on its schedule until `stop`, then closes the store after the last
/// commit.
async fn run_sources(sources: Sources, shared: &Shared, stop: CancelToken, reload: Arc<Notify>) {
    let workers = Arc::new(worker::Workers {
        engine: sources.engine.start(sources.store, shared.metrics.clone()),
        registry: sources.registry,
        shared: shared.clone(),
        timing: worker::Timing {
            debounce: DEBOUNCE,
            reconcile: RECONCILE,
            poll: sources.poll,
        },
        store_files: worker::StoreFiles::of(sources.config_file.absolute_db.as_deref()),
        links: sources.links,
    });
    let relays = match sources.feeds {
        Some((feeds, reader)) => {
            let held = sources.cluster.as_ref().map(cluster::Cluster::held);
            super::feeds::start(feeds, reader, workers.clone(), held, &stop)
        }
        None => Vec::new(),
    };
    supervisor::Supervisor::start(
        workers.clone(),
        sources.configs,
        sources.config_file,
        stop,
        sources.cluster,
    )
    .run(reload)
    .await;
    // Stopped with the rest: what they published is recorded before the writer closes.
    for relay in relays {
        let _ = relay.await;
    }
    // Every worker has ended, so this is the last handle: the store closes (and its lock is
    // released) after the last commit.
    match Arc::into_inner(workers) {
        Some(workers) => drop(workers.engine.close().await),
        None => tracing::warn!("the store was not closed cleanly: a worker still holds it"),
    }
    shared.store_open.store(false, Ordering::SeqCst);
}

/// A read-only server has no sources to swap: a reload says so.
async fn ignore_reloads(reload: Arc<Notify>, stop: CancelToken) {
    loop {
        tokio::select! {
            () = reload.notified() => tracing::info!(
                "no sources run in read-only mode; restart the server to add some"
            ),
            () = stop.cancelled() => return,
        }
    }
}

/// The config the server runs: the file, or, when it does not exist and a store is named,
/// none (a read-only API server). A file without sources is accepted here: it serves the API.
fn load_config(options: &ServeOptions) -> Result<Config> {
    if options.db.is_some() && !options.config.exists() {
        return Ok(Config::parse("", None)?);
    }
    Ok(Config::load_existing(&options.config)?)
}

fn open_recall(location: &Location) -> Result<Arc<dyn Recall>> {
    // The only connections this process opens: a file may be checked first.
    location
        .open_recall(crate::recall::Limits::default().connections)
        .with_context(|| format!("opening store {location} for reading"))
}

/// The listening socket, bound before serving starts so a taken port is an error at once.
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("setting the listener non-blocking")?;
    Ok(listener)
}
