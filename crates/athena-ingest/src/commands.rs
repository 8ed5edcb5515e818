//! One function per subcommand.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use athena_core::{
    time::parse_time_arg, CancelToken, Config, Engine, EventQuery, Registry, Store, SyncOptions,
};
use athena_store::Location;

use crate::cli::{Command, DbArgs, ReportFormat};
use crate::runtime::runtime;
use crate::{generate, interrupt, output, progress, search, source_types, UsageError};

/// How long a second sync waits for the first to finish before reporting a busy store.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// Runs `command` with the source types of `registry`.
pub(crate) fn run(command: Command, registry: Arc<Registry>) -> Result<ExitCode> {
    match command {
        Command::Init { config, force } => init(&registry, &config, force),
        Command::Sync {
            config,
            db,
            sources,
            full,
            format,
        } => sync(registry, &config, db, &sources, full, format),
        Command::Events {
            db,
            sources,
            kinds,
            outcomes,
            actor,
            person,
            since,
            until,
            search,
            limit,
            format,
        } => {
            let now = chrono::Utc::now();
            let time = |arg: Option<String>, flag: &str| -> Result<_> {
                arg.map(|t| parse_time_arg(&t, now))
                    .transpose()
                    .map_err(|e| UsageError(format!("--{flag}: {e}")).into())
            };
            let (since, until) = (time(since, "since")?, time(until, "until")?);
            athena_core::time::check_window(since, until, "--until")
                .map_err(|e| UsageError(format!("--since: {e}")))?;
            let query = EventQuery {
                sources,
                kinds,
                outcomes: outcomes.into_iter().map(Into::into).collect(),
                actor,
                person,
                since,
                until,
                search,
                limit: Some(limit),
                ..EventQuery::default()
            };
            let store = open_read_only(&db)?;
            let events = search::events(&*store, &query)?;
            let work_items = match format {
                crate::cli::EventsFormat::Athena => store.sessions(&events)?,
                _ => Vec::new(),
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            output::write_events(&mut out, &events, format, &registry, &work_items)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { db, format } => {
            let store = open_read_only(&db)?;
            let mut status = store.sources_status()?;
            // The config says each source's priority; the store does not keep it.
            if let Some(config) = (db.config.exists())
                .then(|| Config::load(&db.config))
                .transpose()?
            {
                for s in &mut status {
                    s.priority = (config.sources.iter())
                        .find(|c| c.id == s.source_id)
                        .map(|c| c.priority);
                }
            }
            let mut out = std::io::stdout().lock();
            output::write_status(&mut out, &status, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Kinds {
            db,
            sources,
            format,
        } => {
            let store = open_read_only(&db)?;
            let mut kinds = store.kinds()?;
            if !sources.is_empty() {
                let filter = EventQuery {
                    sources: sources.clone(),
                    ..EventQuery::default()
                };
                if let Some(note) = athena_core::known::unknown_names(&filter, &kinds) {
                    eprintln!("note: {note}");
                }
                kinds.retain(|k| sources.contains(&k.source_id));
            }
            output::write_kinds(&mut std::io::stdout().lock(), kinds, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sources {
            source_type,
            format,
        } => source_types::run(&registry, source_type.as_deref(), format),
        Command::DeadLetters {
            db,
            source,
            limit,
            format,
        } => {
            let store = open_read_only(&db)?;
            let letters = store.dead_letters(source.as_deref(), limit)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            output::write_dead_letters(&mut out, &letters, format)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { config } => validate(&registry, &config),
        Command::Serve {
            config,
            db,
            listen,
            poll_interval_ms,
        } => {
            if poll_interval_ms == 0 {
                return Err(UsageError("--poll-interval-ms must be at least 1".into()).into());
            }
            let mut options = athena_server::ServeOptions::new(config);
            options.db = db;
            options.listen = listen;
            options.poll_interval = Duration::from_millis(poll_interval_ms);
            athena_server::serve(options, registry).map_err(serve_error)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp { db } => mcp(registry, &db),
        Command::Auth { service } => crate::auth::run(service),
        Command::Completions { shell } => generate::completions(shell),
        Command::Man { command } => generate::man(command.as_deref()),
        Command::Feed { command } => crate::feed::run(command),
        Command::Related {
            db,
            source,
            id,
            limit,
            format,
        } => {
            let store = open_read_only(&db)?;
            crate::related::show(&*store, &source, &id, limit, format)
        }
        Command::People { db, q, format } => {
            let store = open_read_only(&db)?;
            let people = athena_server::answers::People::new(store.people()?, q.as_deref());
            crate::related::write_people(&people, format)
        }
        Command::Relink { db } => {
            let location = store_location(&db)?;
            let config = db
                .config
                .exists()
                .then(|| Config::load(&db.config))
                .transpose()?;
            let mut store = location
                .open_for_sync(BUSY_WAIT)
                .with_context(|| format!("opening store {location}"))?;
            let (settings, people) = match config {
                Some(c) => (c.links, c.people),
                None => (Default::default(), Vec::new()),
            };
            store.set_people(&people)?;
            crate::related::relink(&mut *store, &settings, &registry, &location.to_string())
        }
        Command::Export {
            db,
            singer,
            sources,
            since,
            state,
        } => {
            if state.is_some() && !singer {
                return Err(UsageError("--state needs --singer (a Singer state)".into()).into());
            }
            let since = since
                .map(|t| parse_time_arg(&t, chrono::Utc::now()))
                .transpose()
                .map_err(|e| UsageError(format!("--since: {e}")))?;
            let store = open_read_only(&db)?;
            let options = crate::export::Options {
                singer,
                sources,
                since,
                state,
            };
            crate::export::run(&*store, &options)
        }
        Command::Copy { from, to } => copy(&Location::parse(&from), &Location::parse(&to)),
        Command::Migrate { db } => {
            let location = store_location(&db)?;
            location
                .open_for_sync(BUSY_WAIT)
                .with_context(|| format!("opening store {location}"))?;
            println!("store {location}: its schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact { db } => {
            let location = store_location(&db)?;
            let mut store = location
                .open_for_sync(BUSY_WAIT)
                .with_context(|| format!("opening store {location}"))?;
            let done = store
                .compact()
                .with_context(|| format!("compacting store {location}"))?;
            let mb = |b: u64| b as f64 / 1e6;
            println!(
                "store {location}: packed {} events ({} new dictionaries); {:.1} MB -> {:.1} MB",
                done.events_packed,
                done.dictionaries_trained,
                mb(done.bytes_before),
                mb(done.bytes_after)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reset { db, source } => {
            let location = store_location(&db)?;
            let mut store = location
                .open_for_sync(BUSY_WAIT)
                .with_context(|| format!("opening store {location}"))?;
            if store.reset_cursor(&source)? {
                println!("reset {source}: its next sync reads everything again");
            } else {
                println!("{source} has no saved cursor; nothing to reset");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--db` (a file, or `postgres://…`), else the config's `[store] url` or `path` if the config
/// exists and says, else `./athena.db`. A config that exists but does not parse is an error,
/// not a silent fall back to the default.
fn store_location(args: &DbArgs) -> Result<Location> {
    if let Some(db) = &args.db {
        return Ok(Location::of_path(db));
    }
    if !args.config.exists() {
        return Ok(Location::File(PathBuf::from("athena.db")));
    }
    let config = Config::load(&args.config)?;
    Ok(location_of(&config, None))
}

/// Where a config's store is: `--db` when given, else its `[store] url` or `path`, else
/// `./athena.db`.
fn location_of(config: &Config, db: Option<&Path>) -> Location {
    match (db, &config.store_url, &config.store_path) {
        (Some(db), _, _) => Location::of_path(db),
        (None, Some(url), _) => Location::Postgres(url.clone()),
        (None, None, Some(path)) => Location::File(path.clone()),
        (None, None, None) => Location::File(PathBuf::from("athena.db")),
    }
}

/// The store of a command that only reads: a file opened read-only, so a wrong `--db`
/// (another application's database) is refused without a byte of it changed.
fn open_read_only(args: &DbArgs) -> Result<Box<dyn Store>> {
    let location = store_location(args)?;
    location
        .open_reader()
        .with_context(|| format!("opening store {location}"))
}

fn mcp(registry: Arc<Registry>, args: &DbArgs) -> Result<ExitCode> {
    let location = store_location(args)?;
    let limits = athena_server::Limits::default();
    let recall = location
        .open_recall(limits.connections)
        .with_context(|| format!("opening store {location}"))?;
    tracing::info!("serving MCP on stdio over {location}");
    let rt = runtime()?;
    let service = athena_server::RecallService::new(
        recall,
        registry,
        limits,
        athena_core::CancelToken::new(),
    );
    rt.block_on(athena_server::mcp::serve_stdio(service))
        .map_err(serve_error)?;
    // stdin's reader thread may still be blocked in a read: don't wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(ExitCode::SUCCESS)
}

/// The server's refusals are the user's to fix (exit 2), as the CLI's own are; the rest keep
/// their causes for `main` to classify.
fn serve_error(err: athena_server::ServeError) -> anyhow::Error {
    match err {
        athena_server::ServeError::Usage(message) => UsageError(message).into(),
        athena_server::ServeError::Config(e) => e.into(),
        athena_server::ServeError::Other(e) => e,
        other => anyhow::Error::new(other),
    }
}

fn init(registry: &Registry, path: &Path, force: bool) -> Result<ExitCode> {
    if path.exists() && !force {
        return Err(UsageError(format!(
            "{} already exists (use --force to overwrite)",
            path.display()
        ))
        .into());
    }
    // The starter's relative paths are read from the config's directory.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let (text, notes) = starter_config(registry, &dir);
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {}; edit it, then run `athena-ingest sync`",
        path.display()
    );
    for note in notes {
        println!("note: a starter source is commented out: {note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The starter config's settings; each source type's table follows (its
/// [`starter`](athena_core::SourceType::starter)).
const STARTER_HEAD: &str = r#"# athena-ingest configuration. Reference: docs/configuration.md, and each source type's keys
# in docs/sources/<type>.md.

[store]
# The event store, a SQLite file (relative to this file).
path = "athena.db"

[engine]
# Sources synced at the same time.
concurrency = 4

# One [[sources]] table per source. `id` names the source and its cursor; `type` picks the
# source type (`athena-ingest sources` lists them and their keys).
"#;

/// The starter config for a file in `dir`: the settings, then each registered type's table,
/// the active ones (not commented out) first; and why tables that would fail there are
/// commented out.
fn starter_config(registry: &Registry, dir: &Path) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let mut tables: Vec<_> = registry
        .list()
        .filter(|t| !t.starter.is_empty())
        .map(|t| {
            let (table, why) = t.starter_for(dir);
            notes.extend(why);
            table
        })
        .collect();
    // A stable sort: within each group, the registry's order (by name).
    tables.sort_by_key(|s| !s.lines().any(|l| l.starts_with("[[sources]]")));
    let mut text = STARTER_HEAD.to_string();
    for table in tables {
        text.push_str(&table);
        text.push('\n');
    }
    text.pop();
    (text, notes)
}

fn sync(
    registry: Arc<Registry>,
    config_path: &Path,
    db: Option<PathBuf>,
    only: &[String],
    full: bool,
    format: ReportFormat,
) -> Result<ExitCode> {
    let config = Config::load_with_sources(config_path)?;
    for id in only {
        if !config.sources.iter().any(|s| &s.id == id) {
            let known: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
            return Err(UsageError(format!(
                "--source {id}: no such source in {} (sources: {})",
                config_path.display(),
                known.join(", ")
            ))
            .into());
        }
    }
    let selected: Vec<_> = config
        .sources
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.id))
        .cloned()
        .collect();
    let location = location_of(&config, db.as_deref());
    // Every source is built before the store is touched: a config error changes nothing.
    // A store file is no event of a files or api_log source reading its directory.
    let absolute_db = (location.file()).map(|f| std::path::absolute(f).unwrap_or(f.to_path_buf()));
    let selected: Vec<_> = selected
        .into_iter()
        .map(|mut c| {
            if let Some(db) = &absolute_db {
                c.set_store_path(db);
            }
            c
        })
        .collect();
    let built = registry.build_all(&selected)?;
    // From here on, whatever a server echoes of a token is masked on stderr too.
    crate::redact::remember(&built.secrets);
    // Feeds are checked with the rest of the config, before anything is read.
    let feeds = athena_server::feed::settings_of(&config)?;
    let mut store = location
        .open_for_sync(BUSY_WAIT)
        .with_context(|| format!("opening store {location}"))?;
    if !feeds.is_empty() {
        crate::feed::keep_outbox(&mut *store)?;
    }
    // The configured people win over what this sync's events join.
    store.set_people(&config.people)?;
    let links = config.links.linker(&registry);
    if let Some(linker) = &links {
        read_unread_people(&mut *store, linker, &location.to_string())?;
    }

    let rt = runtime()?;
    let cancel = CancelToken::new();
    let bars = progress::Bars::new();
    let tracked = interrupt::Tracked::new(bars.clone(), built.sources.len());
    let options = SyncOptions {
        full,
        cancel: cancel.clone(),
        observer: tracked.clone(),
        secrets: built.secrets,
        // A one-shot sync prints its report; nobody scrapes these.
        metrics: athena_core::Metrics::new(),
        priorities: built.priorities,
        links,
    };
    let engine = Engine::new(registry, config.engine);
    let synced: Vec<String> = (built.sources.iter())
        .map(|s| s.info().id.clone())
        .collect();
    let report = rt.block_on(async {
        interrupt::handle_ctrl_c(cancel.clone(), tracked);
        let (report, store) = engine.run(store, built.sources, options).await;
        // What was stored goes to the feeds before the sync ends (not after a Ctrl-C: it
        // waits in the outbox).
        if !feeds.is_empty() && !cancel.is_cancelled() {
            crate::feed::publish_stored(&feeds, store, &synced, &cancel).await;
        }
        report
    });
    bars.finish();
    rt.shutdown_timeout(Duration::from_millis(100));
    let mut out = std::io::stdout().lock();
    output::write_sync_report(&mut out, &report, format)?;
    out.flush()?;
    output::write_sync_errors(&mut std::io::stderr().lock(), &report)?;
    let (code, note) = interrupt::verdict(&report, cancel.is_cancelled());
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(ExitCode::from(code))
}

fn validate(registry: &Registry, config_path: &Path) -> Result<ExitCode> {
    let config = Config::load_with_sources(config_path)?;
    let built = registry.build_all(&config.sources)?;
    crate::redact::remember(&built.secrets);
    let mut sources = built.sources;
    let rt = runtime()?;
    let results = rt.block_on(async {
        let mut results = Vec::new();
        for source in &mut sources {
            let r = source.health_check().await;
            results.push((source.info().clone(), r));
        }
        results
    });
    let mut failed = false;
    for (info, result) in results {
        match result {
            Ok(()) => println!("ok      {} ({})", info.id, info.name),
            Err(e) => {
                failed = true;
                let error = crate::redact::redact(&e.to_string());
                println!("failed  {} ({}): {error}", info.id, info.name);
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Events copied per transaction.
const COPY_BATCH: usize = 10_000;

/// `copy`: every event of `from`, in storing order, then the rest, into the empty `to`.
fn copy(from: &Location, to: &Location) -> Result<ExitCode> {
    let source = from
        .open_reader()
        .with_context(|| format!("opening store {from}"))?;
    let mut target = to
        .open_for_sync(BUSY_WAIT)
        .with_context(|| format!("opening store {to}"))?;
    let probe = EventQuery {
        limit: Some(1),
        ..EventQuery::default()
    };
    if !target.query_events(&probe)?.is_empty() {
        return Err(UsageError(format!(
            "--to {to}: the store already holds events; copy into an empty store"
        ))
        .into());
    }
    let (mut after, mut read, mut written) = (0, 0u64, 0u64);
    loop {
        let batch = source.export_events(after, COPY_BATCH)?;
        let Some((last, _)) = batch.last() else { break };
        after = *last;
        read += batch.len() as u64;
        let events: Vec<_> = batch.into_iter().map(|(_, e)| e).collect();
        written += target.import_events(&events)?;
    }
    let rest = source.export_rest()?;
    target.import_rest(&rest)?;
    // Links are derived, not copied: found again in the copy.
    target.relink(
        &athena_core::links::Linker::new(Default::default())
            .with_people_of(&athena_sources::registry()),
    )?;
    if written != read {
        anyhow::bail!("copied {written} events of {read}: the store {from} holds duplicates?");
    }
    // Copied events arrive as JSON text: a SQLite copy packs them as a sync would have.
    if to.file().is_some() {
        target
            .compact()
            .with_context(|| format!("packing the events copied into {to}"))?;
    }
    println!(
        "copied {written} events, {} cursors, {} runs, {} dead letters and {} state entries from {from} to {to}",
        rest.cursors.len(),
        rest.runs.len(),
        rest.dead_letters.len(),
        rest.state.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The people of the events an upgrade linked without them, read once with `linker` (see
/// [`Store::read_unread_people`](athena_core::Store::read_unread_people)).
pub(crate) fn read_unread_people(
    store: &mut dyn athena_core::Store,
    linker: &athena_core::links::Linker,
    shown: &str,
) -> Result<()> {
    let read = store
        .read_unread_people(linker)
        .with_context(|| format!("store {shown}: reading the people of its earlier events"))?;
    if read > 0 {
        tracing::info!(
            store = shown,
            events = read,
            "read the people of the events stored before people were kept"
        );
    }
    Ok(())
}
