//! [`SingerSource`]: runs a tap for each sync and stores its records with its STATE.
//!
//! # Exactly-once by STATE
//! The cursor is the tap's last STATE that was stored (`{"version":1,"state":…}`), given back
//! with `--state` on the next run. Records are cut into batches only at STATE messages: a
//! batch holds the records since the STATE before it and carries that STATE, in one
//! transaction. Records after the last STATE are stored with the tap's final state when it
//! exits 0; when it fails, or the sync stops, they are not stored, and the next run (from the
//! last stored STATE) reads them again. Only a tap that sends no STATE for four batches' worth of
//! records has them stored early, with the STATE before them (memory stays bounded); read again
//! from that STATE they are duplicates by id, so nothing is stored twice.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use athena_core::kit::{BlockingSource, Context, Limits, ReadError, StopFlag};
use athena_core::{
    ConfigError, Cursor, Secret, SourceConfig, SourceError, SourceInfo, SourceStats,
};
use serde_json::Value;

use super::config::{is_secret_key, SingerConfig, TapSettings};
use super::lines::Lines;
use super::mapping::StreamMapping;
use super::run::{Run, SingerCursor, CURSOR_VERSION};
use super::catalog;
use super::tap::{Launch, Tap};

/// How long a tap may be silent after a STATE before what it sent is stored.
const QUIET: Duration = Duration::from_millis(200);
/// The most a discovered catalog may be.
const MAX_CATALOG_BYTES: u64 = 256 << 20;

/// Where the tap's catalog comes from.
#[derive(Debug, Clone)]
enum CatalogPlan {
    /// No catalog: the tap's default streams.
    None,
    /// A file.
    File(PathBuf),
    /// `--discover`, then these streams selected.
    Discover(Vec<String>),
}

/// Runs a Singer tap (run by the kit's [`Blocking`](athena_core::kit::Blocking)).
pub struct SingerSource {
    pub(super) info: SourceInfo,
    command: Vec<String>,
    dir: PathBuf,
    settings: Option<Settings>,
    catalog: CatalogPlan,
    catalog_option: String,
    pub(super) streams: BTreeMap<String, StreamMapping>,
    env: Vec<(String, String)>,
    pub(super) max_record_bytes: usize,
    grace: Duration,
    pub(super) batch_size: usize,
    bytes: AtomicU64,
    invalid: AtomicU64,
}

/// The tap's settings: a file of the user's, or JSON written for each run.
#[derive(Debug, Clone)]
enum Settings {
    File(PathBuf),
    Json(Secret),
}

impl SingerSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: SingerConfig = config.parse()?;
        if c.command.is_empty() || c.command[0].trim().is_empty() {
            return Err(config.error(
                Some("command"),
                "is empty: give the tap's program and arguments, like [\"tap-jsonl\"]",
            ));
        }
        // Every value that came from the environment, and every string the tap's settings
        // keep under a secret's name, is masked wherever text leaves the process.
        for value in config.env_values() {
            let _ = Secret::new(value.clone());
        }
        for (name, value) in &c.env {
            if is_secret_key(name) {
                let _ = Secret::new(value.clone());
            }
            mark_url_password(value);
        }
        let settings = match &c.config {
            None => None,
            Some(TapSettings::Path(path)) => {
                Some(Settings::File(config.resolve_path(Path::new(path))))
            }
            Some(TapSettings::Table(table)) => {
                mark_secrets(&Value::Object(table.clone()), false);
                let text = serde_json::to_string(table).map_err(|e| {
                    config.error(Some("config"), format!("cannot be written as JSON: {e}"))
                })?;
                Some(Settings::Json(Secret::new(text)))
            }
        };
        let catalog = match (&c.catalog, c.streams.is_empty() || !c.discover) {
            (Some(path), _) => CatalogPlan::File(config.resolve_path(Path::new(path))),
            (None, false) => CatalogPlan::Discover(c.streams.keys().cloned().collect()),
            (None, true) => CatalogPlan::None,
        };
        if !c.catalog_option.starts_with("--") {
            return Err(config.error(
                Some("catalog_option"),
                format!("{:?} is not an option (\"--catalog\" or \"--properties\")", c.catalog_option),
            ));
        }
        // Where relative paths of the config lead: the tap runs there, so its own relative
        // settings (a file to read) mean what they mean in the config.
        let dir = config.resolve_path(Path::new("."));
        let mut command = c.command.clone();
        if command[0].contains('/') {
            command[0] = config.resolve_path(Path::new(&command[0])).display().to_string();
        }
        Ok(SingerSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "singer".into(),
                name: format!("singer {}", c.command.join(" ")),
            },
            command,
            dir,
            settings,
            catalog,
            catalog_option: c.catalog_option,
            streams: c.streams,
            env: c.env.into_iter().collect(),
            max_record_bytes: c.max_record_bytes,
            grace: Duration::from_secs(c.stop_grace_secs),
            batch_size: c.batch_size,
            bytes: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
        })
    }

    fn failed(&self, message: impl Into<String>) -> SourceError {
        SourceError::failed(&self.info.id, message)
    }

    fn launch(&self, argv: Vec<String>) -> Launch<'_> {
        Launch {
            source_id: &self.info.id,
            argv,
            dir: &self.dir,
            env: &self.env,
            grace: self.grace,
        }
    }

    /// The tap's program, found: a path, or a name on `PATH`.
    fn program(&self) -> Result<PathBuf, SourceError> {
        let program = &self.command[0];
        if program.contains('/') {
            let path = PathBuf::from(program);
            return if is_executable(&path) {
                Ok(path)
            } else {
                Err(SourceError::path(&self.info.id, &path, "the tap's program is not there, or not executable"))
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| is_executable(p))
            .ok_or_else(|| {
                self.failed(format!(
                    "the tap's program {program:?} is not on PATH (give its full path in `command`, \
                     like [\"/path/to/venv/bin/{program}\"])"
                ))
            })
    }

    /// The files of one run, in a private temporary directory: the settings, the state, the
    /// catalog.
    fn run_files(&self, state: Option<&Value>, stop: &StopFlag) -> Result<RunFiles, SourceError> {
        let root = private_temp_root();
        sweep_stale_run_dirs(&root);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(&root)
            .map_err(|e| self.failed(format!("cannot make a temporary directory in {}: {e}", root.display())))?;
        let mut files = RunFiles {
            args: Vec::new(),
            dir,
        };
        match &self.settings {
            None => {}
            Some(Settings::File(path)) => files.args.extend(["--config".into(), path.display().to_string()]),
            Some(Settings::Json(json)) => {
                let path = files.write("config.json", json.expose()).map_err(|e| self.failed(e))?;
                files.args.extend(["--config".into(), path]);
            }
        }
        let catalog = match &self.catalog {
            CatalogPlan::None => None,
            CatalogPlan::File(path) => Some(path.display().to_string()),
            CatalogPlan::Discover(streams) => {
                let catalog = self.discover(&files.args, streams, stop)?;
                Some(files.write("catalog.json", &catalog.to_string()).map_err(|e| self.failed(e))?)
            }
        };
        if let Some(state) = state {
            let path = files.write("state.json", &state.to_string()).map_err(|e| self.failed(e))?;
            files.args.extend(["--state".into(), path]);
        }
        if let Some(catalog) = catalog {
            files.args.extend([self.catalog_option.clone(), catalog]);
        }
        Ok(files)
    }

    /// Runs the tap with `--discover` and selects `streams` in its catalog.
    fn discover(&self, config_args: &[String], streams: &[String], stop: &StopFlag) -> Result<Value, SourceError> {
        let mut argv = self.command.clone();
        argv.extend(config_args.iter().cloned());
        argv.push("--discover".into());
        let mut tap = Tap::spawn(self.launch(argv), Some(stop.clone())).map_err(|e| self.failed(e))?;
        let mut text = String::new();
        if let Some(stdout) = tap.take_stdout() {
            stdout
                .take(MAX_CATALOG_BYTES)
                .read_to_string(&mut text)
                .map_err(|e| self.failed(format!("reading the catalog the tap discovered: {e}")))?;
        }
        let status = tap.wait().map_err(|e| self.failed(e))?;
        if !status.success() {
            return Err(self.failed(format!("discovering the catalog: {}", tap.failure(status))));
        }
        let mut found = catalog::parse(&text).map_err(|e| self.failed(format!("discovering the catalog: {e}")))?;
        let wanted: Vec<&str> = streams.iter().map(String::as_str).collect();
        let missing = catalog::select(&mut found, &wanted).map_err(|e| self.failed(e))?;
        if !missing.is_empty() {
            return Err(self.failed(format!(
                "the tap has no stream {} (`streams` names it; the tap's streams: {})",
                missing.join(", "),
                catalog::stream_names(&found).join(", ")
            )));
        }
        Ok(found)
    }
}

/// How a run's directory of files is named: the prefix, then the pid of the athena-ingest
/// that made it.
const RUN_DIR_PREFIX: &str = "athena-singer-";

/// Where a run's files go: `$XDG_RUNTIME_DIR` (memory only, this user's) when there is one,
/// else the temporary directory.
fn private_temp_root() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// Removes the run directories of athena-ingest processes that are gone (killed before they
/// could remove their own: the tap's settings are in them).
fn sweep_stale_run_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(RUN_DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Marks the string values of `value` under a secret's key as secrets, for masking.
fn mark_secrets(value: &Value, under_secret: bool) {
    match value {
        Value::String(s) if under_secret => {
            let _ = Secret::new(s.clone());
        }
        Value::String(s) => mark_url_password(s),
        Value::Object(map) => {
            for (k, v) in map {
                mark_secrets(v, under_secret || is_secret_key(k));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| mark_secrets(v, under_secret)),
        _ => {}
    }
}

/// Whether `fd` has something to read (or its end) within `timeout`.
fn readable(fd: RawFd, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one pollfd, valid for the call.
    let n = unsafe { libc::poll(&mut poll, 1, millis) };
    // An error (EINTR) or anything but a timeout: go and read, which tells what happened.
    n != 0
}

/// Marks the password of a URL with one (`postgresql://user:PASSWORD@host/db`) as a secret.
fn mark_url_password(text: &str) {
    let Some((_, rest)) = text.split_once("://") else {
        return;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, password)) = userinfo.split_once(':') {
            if !password.is_empty() {
                let _ = Secret::new(password.to_string());
            }
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// One run's files, removed with it.
struct RunFiles {
    /// The options naming them.
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RunFiles {
    /// Writes `name` readable by this user only; returns its path.
    fn write(&self, name: &str, text: &str) -> Result<String, String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.path().join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        file.write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path.display().to_string())
    }
}

impl BlockingSource for SingerSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn validate(&self) -> Result<(), SourceError> {
        self.program()?;
        if let Some(Settings::File(path)) = &self.settings {
            std::fs::metadata(path).map_err(|e| SourceError::path(&self.info.id, path, format!("the tap's settings (`config`): {e}")))?;
        }
        if let CatalogPlan::File(path) = &self.catalog {
            std::fs::metadata(path).map_err(|e| SourceError::path(&self.info.id, path, format!("the catalog: {e}")))?;
        }
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits::items(self.batch_size)
    }

    fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        self.validate()?;
        let saved: Option<SingerCursor> = Cursor::decode_saved(ctx.take_cursor(), &self.info.id, CURSOR_VERSION)?;
        let state = saved.and_then(|c| c.state);
        let stop = ctx.sink.stop_flag();
        let files = self.run_files(state.as_ref(), &stop)?;
        let mut argv = self.command.clone();
        argv.extend(files.args.iter().cloned());
        let mut tap = Tap::spawn(self.launch(argv), Some(stop)).map_err(|e| self.failed(e))?;
        let stdout = tap.take_stdout().ok_or_else(|| self.failed("the tap has no stdout"))?;
        let mut lines = Lines::new(BufReader::with_capacity(1 << 16, stdout), self.max_record_bytes);
        let mut run = Run::new(self, state);
        let read = loop {
            // A tap gone quiet right after a STATE (waiting on an API, or for good) has what it
            // sent stored now, not when it speaks again.
            if lines.reader().buffer().is_empty() {
                let fd = lines.reader().get_ref().as_raw_fd();
                while !readable(fd, QUIET) {
                    // Stopped: the watcher ends the tap, and reading meets its end.
                    if run.quiet(&mut ctx.sink).is_err() || ctx.sink.is_stopped() {
                        break;
                    }
                    // The tap exited while something it started keeps its stdout open.
                    tap.end_leftovers();
                }
            }
            match lines.next_line() {
                Ok(Some((number, line))) => {
                    if let Err(stopped) = run.line(number, line, &mut ctx.sink) {
                        break Err(ReadError::from(stopped));
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(ReadError::Failed(self.failed(format!("reading the tap's output: {e}")))),
            }
        };
        self.bytes.fetch_add(lines.bytes, Ordering::Relaxed);
        self.invalid.fetch_add(run.invalid, Ordering::Relaxed);
        if let Err(e) = read {
            tap.stop();
            // What the tap's last STATE covers is kept; what came after it is read again.
            run.store_stated(&mut ctx.sink)?;
            return Err(e);
        }
        let status = tap.wait().map_err(|e| self.failed(e))?;
        if ctx.sink.is_stopped() {
            return Err(ReadError::Stopped);
        }
        if !status.success() {
            run.store_stated(&mut ctx.sink)?;
            return Err(ReadError::Failed(self.failed(tap.failure(status))));
        }
        // Exit 0: the records after the last STATE go with the tap's final state.
        run.store_final(&mut ctx.sink)?;
        drop(files);
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            invalid: self.invalid.load(Ordering::Relaxed),
            ..SourceStats::default()
        }
    }
}
