//! `Store`: the engine and recall over one store file, as the CLI gives them — a sync that
//! returns what `sync --format json` prints, the events `events` shows, the sources `status`
//! shows — plus the cursor table, which the factory's default cursor store reads and writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use athena_core::links::Linker;
use athena_core::search::all_then_any;
use athena_core::{
    Batch, CancelToken, Config, Cursor, Engine, EngineSettings, EventQuery, Outcome, Registry,
    SourceConfig, SourceInfo, SyncOptions,
};
use athena_store::Location;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use crate::convert::{from_py, toml_table};
use crate::errors;
use crate::event::EpisodicEvent;
use crate::runtime::runtime;

/// How long a sync waits for another sync of the same store to finish.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// A way to stop a sync running in another thread.
#[pyclass(module = "athena_ingest._native", frozen)]
pub struct Stop {
    token: CancelToken,
}

#[pymethods]
impl Stop {
    #[new]
    fn new() -> Self {
        Stop {
            token: CancelToken::new(),
        }
    }

    /// Stops the sync: what was handed to the store is committed, nothing more is read.
    fn cancel(&self) {
        self.token.cancel();
    }
}

/// One store: a file, or a PostgreSQL database (`postgres://…`).
#[pyclass(module = "athena_ingest._native")]
pub struct NativeStore {
    location: Location,
}

impl NativeStore {
    fn read(&self) -> PyResult<Box<dyn athena_core::Store>> {
        self.location.open_reader().map_err(errors::store)
    }
}

/// The sources of a sync: a config file's (with its engine settings), or dicts of `id`,
/// `type` and the type's keys.
fn sources_of(
    what: &Bound<'_, PyAny>,
    store: Option<&Path>,
) -> PyResult<(Vec<SourceConfig>, EngineSettings)> {
    let (mut configs, settings) = if let Ok(path) = what.extract::<PathBuf>() {
        let config = Config::load_with_sources(&path).map_err(errors::config)?;
        (config.sources, config.engine)
    } else {
        let list = what.cast::<PyList>().map_err(|_| {
            PyValueError::new_err(
                "sync takes a config file's path or a list of source dicts ({'id': …, 'type': …, keys…})",
            )
        })?;
        let mut configs = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let Value::Object(mut table) = from_py(&item, &format!("sources[{i}]"))? else {
                return Err(PyValueError::new_err(format!("sources[{i}] is not a dict")));
            };
            let mut take = |key: &str| match table.remove(key) {
                Some(Value::String(s)) => Ok(s),
                _ => Err(PyValueError::new_err(format!(
                    "sources[{i}] has no {key:?} (a string)"
                ))),
            };
            let (id, source_type) = (take("id")?, take("type")?);
            configs.push(SourceConfig::new(id, source_type, toml_table(&table)));
        }
        (configs, EngineSettings::default())
    };
    if let Some(store) = store {
        let store = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
        for c in &mut configs {
            c.set_store_path(&store);
        }
    }
    Ok((configs, settings))
}

#[pymethods]
impl NativeStore {
    #[new]
    fn new(path: PathBuf) -> Self {
        NativeStore {
            location: Location::of_path(&path),
        }
    }

    /// The store, as people read it (a URL without its password).
    #[getter]
    fn path(&self) -> String {
        self.location.to_string()
    }

    /// Runs the sources once into the store (built first: a config error changes nothing) and
    /// returns the report as `sync --format json` prints it (JSON text). `only`: these source
    /// ids of a config file.
    /// `stop`, when given, stops the sync when cancelled: the batches already handed to the
    /// store are committed, nothing more is read (the report says `interrupted`).
    #[pyo3(signature = (sources, full=false, only=None, stop=None))]
    fn sync(
        &self,
        py: Python<'_>,
        sources: &Bound<'_, PyAny>,
        full: bool,
        only: Option<Vec<String>>,
        stop: Option<PyRef<'_, Stop>>,
    ) -> PyResult<String> {
        let (mut configs, settings) = sources_of(sources, self.location.file())?;
        if let Some(only) = only {
            if let Some(id) = only.iter().find(|id| !configs.iter().any(|c| &c.id == *id)) {
                return Err(errors::config(athena_core::ConfigError::new(format!(
                    "no source {id:?} in the config"
                ))));
            }
            configs.retain(|c| only.contains(&c.id));
        }
        let registry: Arc<Registry> = crate::registry::current();
        let built = registry.build_all(&configs).map_err(errors::config)?;
        let location = self.location.clone();
        let cancel = stop.map_or_else(CancelToken::new, |s| s.token.clone());
        let report = py.detach(move || -> Result<String, athena_core::StoreError> {
            let store = location.open_for_sync(BUSY_WAIT)?;
            let options = SyncOptions {
                full,
                cancel,
                secrets: built.secrets,
                priorities: built.priorities,
                links: Some(Arc::new(Linker::default().with_people_of(&registry))),
                ..SyncOptions::default()
            };
            let engine = Engine::new(registry, settings);
            let report = runtime()
                .block_on(engine.run(store, built.sources, options))
                .0;
            Ok(report.to_json().to_string())
        });
        report.map_err(errors::store)
    }

    /// Stored events, newest first, as `events` filters them: `q` is full text (plain words
    /// all match, else any of them, best first).
    #[pyo3(signature = (
        since=None, until=None, source=None, kind=None, actor=None, q=None, outcome=None,
        limit=50
    ))]
    #[allow(clippy::too_many_arguments)]
    fn events<'py>(
        &self,
        py: Python<'py>,
        since: Option<&str>,
        until: Option<&str>,
        source: Option<Vec<String>>,
        kind: Option<Vec<String>>,
        actor: Option<String>,
        q: Option<String>,
        outcome: Option<Vec<String>>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = chrono::Utc::now();
        let time = |t: Option<&str>, name: &str| {
            t.map(|t| athena_core::time::parse_time_arg(t, now))
                .transpose()
                .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
        };
        let outcomes = (outcome.unwrap_or_default().iter())
            .map(|o| {
                Outcome::parse(o).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "outcome {o:?}: use success, failure, client_error or server_error"
                    ))
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let query = EventQuery {
            since: time(since, "since")?,
            until: time(until, "until")?,
            sources: source.unwrap_or_default(),
            kinds: kind.unwrap_or_default(),
            actor,
            search: q,
            outcomes,
            limit: Some(limit),
            ..EventQuery::default()
        };
        let store = self.read()?;
        let found = py.detach(move || {
            let (events, _) = all_then_any(&query, |q| store.query_events(q), Vec::is_empty)?;
            let items = store.sessions(&events)?;
            Ok::<_, athena_core::StoreError>((events, items))
        });
        let (events, items) = found.map_err(errors::store)?;
        let registry = crate::registry::current();
        let list = PyList::empty(py);
        for (e, item) in events.into_iter().zip(items) {
            list.append(Py::new(py, EpisodicEvent::stored(e, &registry, item))?)?;
        }
        Ok(list)
    }

    /// Every source the store knows, as `status --format json` prints them (JSON text).
    fn status(&self, py: Python<'_>) -> PyResult<String> {
        let store = self.read()?;
        let status = py
            .detach(move || store.sources_status())
            .map_err(errors::store)?;
        Ok(athena_server::status_json(&status).to_string())
    }

    /// The saved cursor of `source_id` (JSON text), or None.
    fn load_cursor(&self, source_id: &str) -> PyResult<Option<String>> {
        if self.location.file().is_some_and(|f| !f.exists()) {
            return Ok(None);
        }
        let mut store = self.read()?;
        let cursor = store.load_cursor(source_id).map_err(errors::store)?;
        Ok(cursor.map(|c| c.as_json().to_string()))
    }

    /// Saves `cursor` (JSON text) as `source_id`'s, as a batch of no events would.
    fn save_cursor(&self, source_id: &str, source_type: &str, cursor: &str) -> PyResult<()> {
        let value: Value = serde_json::from_str(cursor)
            .map_err(|e| PyValueError::new_err(format!("the cursor is not JSON: {e}")))?;
        let mut store = self
            .location
            .open_for_sync(BUSY_WAIT)
            .map_err(errors::store)?;
        let info = SourceInfo {
            id: source_id.to_string(),
            source_type: source_type.to_string(),
            name: source_id.to_string(),
        };
        store
            .commit_batch(&info, &Batch::new(Vec::new(), Cursor::from_json(value)))
            .map_err(errors::store)?;
        Ok(())
    }

    /// The kinds of the stored events per source (`{source: {kind: events}}`).
    fn kinds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.read()?;
        let kinds = store.kinds().map_err(errors::store)?;
        let d = PyDict::new(py);
        for s in kinds {
            let per = PyDict::new(py);
            for k in s.kinds {
                per.set_item(k.kind, k.events)?;
            }
            d.set_item(s.source_id, per)?;
        }
        Ok(d)
    }
}
