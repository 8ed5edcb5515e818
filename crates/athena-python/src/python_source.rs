//! A source written in Python (a `BaseEventSource` subclass registered with
//! `EventSourceFactory.register_source`) as a source type of the engine: its events and
//! checkpoints commit exactly once into the store, like a Rust source's.
//!
//! The source's `generate_events()` runs in a thread of its own with its own asyncio loop
//! (`athena_ingest._bridge.pump`); each `Checkpoint(cursor)` it yields closes a batch whose
//! checkpoint is that cursor, and long runs without one are cut into batches that keep the
//! previous cursor (their events are stored; the cursor moves only at a checkpoint). The
//! batches cross to the engine over a channel of two. When the engine stops reading (a
//! failure elsewhere, Ctrl-C), the next hand-over raises `SourceStopped` in the Python thread,
//! which ends the generator. An exception in the source fails the source with its traceback.

use std::sync::Arc;

use async_trait::async_trait;
use athena_core::{
    Batch, BatchStream, BuildFn, Cursor, EventSource, SourceConfig, SourceError, SourceInfo,
    SourceType,
};
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::convert::{from_py, json_of_toml, to_py};
use crate::errors::SourceStopped;
use crate::event::EpisodicEvent;
use crate::runtime::StreamGuard;

/// `athena_ingest._bridge`, where the Python side of the hand-over lives.
fn bridge(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("athena_ingest._bridge")
}

/// The text of a Python exception: its traceback, as Python prints it.
fn traceback(py: Python<'_>, e: &PyErr) -> String {
    let formatted = bridge(py).and_then(|b| b.call_method1("format_exception", (e.value(py),)));
    match formatted.and_then(|t| t.extract::<String>()) {
        Ok(text) => text.trim_end().to_string(),
        Err(_) => e.to_string(),
    }
}

/// A source type named `name` whose sources are instances of the Python class `cls`, made by
/// its `create(credentials, config)`.
pub fn source_type(name: &'static str, cls: Py<PyAny>) -> SourceType {
    let cls = Arc::new(cls);
    let build: BuildFn = Arc::new(move |config: &SourceConfig| {
        Python::attach(|py| create(py, cls.bind(py), name, config))
            .map_err(|message| config.error(None, message))
    });
    SourceType::new(name, "a source written in Python", Vec::new(), build)
}

/// An instance of `cls` for `config`: its table is the config (less `credentials`, a table
/// of secrets, passed apart).
fn create(
    py: Python<'_>,
    cls: &Bound<'_, PyAny>,
    name: &'static str,
    config: &SourceConfig,
) -> Result<Box<dyn EventSource>, String> {
    let mut table = json_of_toml(config.table());
    let credentials = table
        .remove("credentials")
        .unwrap_or(Value::Object(Default::default()));
    // Each credential is a secret: made one here, it is masked in every error, log line and
    // run record of the sync (a traceback quoting a URL with a key in it).
    if let Value::Object(c) = &credentials {
        for v in c.values() {
            if let Some(text) = v.as_str().filter(|t| !t.is_empty()) {
                drop(athena_core::Secret::new(text));
            }
        }
    }
    let made = (|| -> PyResult<(Py<PyAny>, String)> {
        let credentials = to_py(py, &credentials)?;
        let table = to_py(py, &Value::Object(table))?;
        let instance = bridge(py)?.call_method1(
            "create",
            (cls, name, config.id.as_str(), credentials, table),
        )?;
        let human: String = instance
            .getattr("source_name")
            .and_then(|n| n.extract())
            .unwrap_or_else(|_| format!("{name} {}", config.id));
        Ok((instance.unbind(), human))
    })();
    match made {
        Ok((instance, human)) => Ok(Box::new(PythonSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: name.to_string(),
                name: human,
            },
            instance: Arc::new(instance),
        })),
        Err(e) => Err(format!(
            "creating the Python source failed:\n{}",
            traceback(py, &e)
        )),
    }
}

/// One instance of a Python source, for the engine.
pub struct PythonSource {
    info: SourceInfo,
    instance: Arc<Py<PyAny>>,
}

#[async_trait]
impl EventSource for PythonSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    async fn validate(&mut self) -> Result<(), SourceError> {
        let instance = self.instance.clone();
        let id = self.info.id.clone();
        let checked = tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                let valid = bridge(py)
                    .and_then(|b| b.call_method1("validate", (instance.bind(py),)))
                    .and_then(|v| v.is_truthy());
                match valid {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(SourceError::of_kind(
                        athena_core::ErrorKind::Config,
                        &id,
                        "its validate() returned False",
                    )),
                    Err(e) => Err(SourceError::failed(
                        &id,
                        format!("validate() raised:\n{}", traceback(py, &e)),
                    )),
                }
            })
        });
        checked
            .await
            .map_err(|e| SourceError::failed(&self.info.id, e.to_string()))?
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let (tx, rx) = mpsc::channel(2);
        let instance = self.instance.clone();
        let info = self.info.clone();
        std::thread::Builder::new()
            .name(format!("athena-py-{}", info.id))
            .spawn(move || pump(instance, info, cursor, tx))
            .map(drop)
            .unwrap_or_else(|e| tracing::error!("starting a Python source's thread: {e}"));
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }
}

/// The Python thread: runs the source's generator into `tx` until it ends, fails, or the
/// engine stops reading.
fn pump(
    instance: Arc<Py<PyAny>>,
    info: SourceInfo,
    cursor: Option<Cursor>,
    tx: mpsc::Sender<Result<Batch, SourceError>>,
) {
    let _running = StreamGuard::new();
    let failure = Python::attach(|py| {
        let start = cursor.as_ref().map_or(Value::Null, |c| c.as_json().clone());
        let sink = Sink {
            tx: tx.clone(),
            info: info.clone(),
            checkpoint: cursor.unwrap_or_else(|| Cursor::from_json(Value::Null)),
        };
        let ran = (|| -> PyResult<()> {
            let start = to_py(py, &start)?;
            bridge(py)?.call_method1("pump", (instance.bind(py), start, Py::new(py, sink)?))?;
            Ok(())
        })();
        match ran {
            Ok(()) => None,
            Err(e) if e.is_instance_of::<SourceStopped>(py) => None,
            Err(e) => Some(SourceError::failed(
                &info.id,
                format!("the Python source raised:\n{}", traceback(py, &e)),
            )),
        }
    });
    if let Some(failure) = failure {
        let _ = tx.blocking_send(Err(failure));
    }
}

/// Where `athena_ingest._bridge.pump` hands a Python source's events.
#[pyclass(module = "athena_ingest._native")]
pub struct Sink {
    tx: mpsc::Sender<Result<Batch, SourceError>>,
    info: SourceInfo,
    /// The last checkpoint: a batch without one of its own keeps it.
    checkpoint: Cursor,
}

#[pymethods]
impl Sink {
    /// Whether the engine reads no more of this source (it failed elsewhere, or was stopped):
    /// the pump then cancels the source's generator, even one waiting for something new.
    fn stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// Hands `items` (EpisodicEvents or dicts) to the engine as one batch, with `cursor` as
    /// its checkpoint when `has_cursor` (else the last one). Waits, with the GIL released,
    /// while the engine is two batches behind; raises `SourceStopped` when it reads no more.
    #[pyo3(signature = (items, has_cursor, cursor=None))]
    fn put(
        &mut self,
        py: Python<'_>,
        items: &Bound<'_, PyList>,
        has_cursor: bool,
        cursor: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut events = Vec::with_capacity(items.len());
        for item in items.iter() {
            let mut e = EpisodicEvent::event_of(&item)?;
            self.info.stamp(&mut e);
            events.push(e);
        }
        if has_cursor {
            let value = match &cursor {
                Some(c) => from_py(c, "the checkpoint's cursor")?,
                None => Value::Null,
            };
            self.checkpoint = Cursor::from_json(value);
        }
        let batch = Batch::new(events, self.checkpoint.clone());
        let tx = &self.tx;
        let sent = py.detach(|| tx.blocking_send(Ok(batch)).is_ok());
        match sent {
            true => Ok(()),
            false => Err(SourceStopped::new_err(
                "the engine reads no more of this source",
            )),
        }
    }
}
