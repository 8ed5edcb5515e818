//! A Rust source (any registered type) driven from Python: built from a config dict, validated,
//! and read as batches of `EpisodicEvent`s. Its stream runs as a task on the package's runtime
//! and hands batches over a channel of two; `next_batch` waits for one with the GIL released,
//! so Python's event loop (through a worker thread) and the source both keep going.
//!
//! Every method takes `&self`: while one thread waits in `next_batch`, another may ask for the
//! stats or close the source. Closing (or dropping the object) cancels the stream's task, which
//! stops at once, even while it waits to hand over a batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use athena_core::{
    Batch, CancelToken, Cursor, EventSource, Redactor, Registry, SourceConfig, SourceError,
    SourceInfo, SourceStats,
};
use futures_util::StreamExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::errors;
use crate::event::EpisodicEvent;
use crate::runtime::{runtime, StreamGuard};

type Batches = mpsc::Receiver<Result<Batch, SourceError>>;
type Task = JoinHandle<(Box<dyn EventSource>, SourceStats)>;

/// The source, or the task reading it.
enum State {
    Idle(Box<dyn EventSource>),
    Streaming(Task),
    /// The source was lost to a task that panicked.
    Gone,
}

/// What one stream's end leaves: the source's counters and how long it ran.
#[derive(Default)]
struct Ended {
    stats: SourceStats,
    started: Option<Instant>,
}

/// A built Rust source.
#[pyclass(module = "athena_ingest._native", frozen)]
pub struct NativeSource {
    info: SourceInfo,
    registry: Arc<Registry>,
    secrets: Redactor,
    state: Mutex<State>,
    /// Held by `next_batch` while it waits (the GIL released), and by nothing else for long.
    batches: Mutex<Option<Batches>>,
    /// Cancels the running stream's task; apart from `state` so that closing never waits for
    /// a `next_batch` to return.
    cancel: Mutex<Option<CancelToken>>,
    ended: Mutex<Ended>,
    events: AtomicU64,
    invalid: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl NativeSource {
    /// Builds a source of `config`'s type from `registry`; a config error names the source and
    /// the key.
    pub fn build(registry: Arc<Registry>, config: &SourceConfig) -> PyResult<Self> {
        let built = registry.build_all([config]).map_err(errors::config)?;
        let secrets = built.secrets.clone();
        let source = built
            .sources
            .into_iter()
            .next()
            .ok_or_else(|| PyRuntimeError::new_err("the registry built no source"))?;
        Ok(NativeSource {
            info: source.info().clone(),
            registry,
            secrets,
            state: Mutex::new(State::Idle(source)),
            batches: Mutex::new(None),
            cancel: Mutex::new(None),
            ended: Mutex::new(Ended::default()),
            events: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
        })
    }

    fn masked(&self, e: SourceError) -> PyErr {
        let kind = e.kind();
        errors::of_kind(kind, self.secrets.redact(&e.to_string()).into_owned())
    }

    /// Stops the stream, if one runs, waits for its task and takes the source back.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(cancel) = lock(&self.cancel).take() {
            cancel.cancel();
        }
        let task = {
            let mut state = lock(&self.state);
            match std::mem::replace(&mut *state, State::Gone) {
                State::Streaming(task) => task,
                other => {
                    *state = other;
                    return Ok(());
                }
            }
        };
        let joined = py.detach(|| runtime().block_on(task));
        // The task has ended, so a `next_batch` waiting has returned: the channel can go.
        lock(&self.batches).take();
        match joined {
            Ok((source, stats)) => {
                let mut ended = lock(&self.ended);
                ended.stats = stats;
                if let Some(started) = ended.started.take() {
                    ended.stats.duration = started.elapsed();
                }
                *lock(&self.state) = State::Idle(source);
                Ok(())
            }
            Err(e) => Err(PyRuntimeError::new_err(format!(
                "source {}: its stream failed unexpectedly: {e}",
                self.info.id
            ))),
        }
    }
}

impl Drop for NativeSource {
    /// A source dropped while streaming (a loop left, the object collected) stops its task.
    fn drop(&mut self) {
        if let Some(cancel) = lock(&self.cancel).take() {
            cancel.cancel();
        }
    }
}

/// Reads `source` after `cursor` into `tx` until its end, a failure, or `stop`.
async fn stream(
    mut source: Box<dyn EventSource>,
    cursor: Option<Cursor>,
    tx: mpsc::Sender<Result<Batch, SourceError>>,
    stop: CancelToken,
) -> (Box<dyn EventSource>, SourceStats) {
    let _running = StreamGuard::new();
    {
        let mut batches = source.events(cursor);
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => break,
                next = batches.next() => next,
            };
            let Some(item) = next else { break };
            let failed = item.is_err();
            let sent = tokio::select! {
                _ = stop.cancelled() => false,
                sent = tx.send(item) => sent.is_ok(),
            };
            if !sent || failed {
                break;
            }
        }
    }
    let _ = source.close().await;
    let stats = source.stats();
    (source, stats)
}

#[pymethods]
impl NativeSource {
    #[getter]
    fn source_id(&self) -> &str {
        &self.info.id
    }

    #[getter]
    fn source_type(&self) -> &str {
        &self.info.source_type
    }

    #[getter]
    fn source_name(&self) -> &str {
        &self.info.name
    }

    /// Runs the source's health check (a path exists, the credentials are accepted); raises
    /// the error of its kind if it fails. A stream running is stopped first.
    fn validate(&self, py: Python<'_>) -> PyResult<()> {
        self.finish(py)?;
        let checked = py.detach(|| {
            let mut state = lock(&self.state);
            match &mut *state {
                State::Idle(source) => Some(runtime().block_on(source.validate())),
                _ => None,
            }
        });
        match checked {
            Some(result) => result.map_err(|e| self.masked(e)),
            None => Err(PyRuntimeError::new_err("the source is gone")),
        }
    }

    /// Starts reading after `cursor` (JSON text, as a checkpoint gave it; None: from the
    /// beginning). A stream already running is stopped first.
    #[pyo3(signature = (cursor=None))]
    fn start(&self, py: Python<'_>, cursor: Option<&str>) -> PyResult<()> {
        self.finish(py)?;
        let cursor = match cursor {
            None => None,
            Some(text) => Some(Cursor::from_json(serde_json::from_str(text).map_err(
                |e| {
                    errors::of_kind(
                        athena_core::ErrorKind::Cursor,
                        format!("source {}: the cursor is not JSON: {e}", self.info.id),
                    )
                },
            )?)),
        };
        let mut state = lock(&self.state);
        let State::Idle(source) = std::mem::replace(&mut *state, State::Gone) else {
            return Err(PyRuntimeError::new_err("the source is gone"));
        };
        let (tx, batches) = mpsc::channel(2);
        let cancel = CancelToken::new();
        *lock(&self.batches) = Some(batches);
        *lock(&self.cancel) = Some(cancel.clone());
        lock(&self.ended).started = Some(Instant::now());
        *state = State::Streaming(runtime().spawn(stream(source, cursor, tx, cancel)));
        Ok(())
    }

    /// The next batch: its events and the cursor that is true once they are all handled (JSON
    /// text), or None when the source has nothing more (or was closed). Waits with the GIL
    /// released.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyList>, String)>> {
        let item = py.detach(|| lock(&self.batches).as_mut().and_then(|b| b.blocking_recv()));
        let batch = match item {
            None => {
                self.finish(py)?;
                return Ok(None);
            }
            Some(Err(e)) => {
                self.finish(py)?;
                return Err(self.masked(e));
            }
            Some(Ok(batch)) => batch,
        };
        self.invalid
            .fetch_add(batch.dead_letters.len() as u64, Ordering::Relaxed);
        self.events
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        let checkpoint = batch.checkpoint.as_json().to_string();
        let list = PyList::empty(py);
        let has_json = batch.json.len() == batch.events.len();
        let mut raw = batch.json.into_iter();
        for mut e in batch.events {
            self.info.stamp(&mut e);
            let json = if has_json { raw.next() } else { None };
            let event = EpisodicEvent::from_source(e, json, &self.registry);
            list.append(Py::new(py, event)?)?;
        }
        Ok(Some((list, checkpoint)))
    }

    /// Stops the stream (if one runs) and releases what the source holds. Safe to call from
    /// any thread, while another waits in `next_batch` (which then returns None).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.finish(py)
    }

    /// Whether a stream is running.
    #[getter]
    fn running(&self) -> bool {
        matches!(*lock(&self.state), State::Streaming(_))
    }

    /// `events_generated`, `events_invalid`, `requests`, `retries`, `bytes`, `not_modified`,
    /// `rate_limit_waits` and `duration` (seconds, of the stream running, else of the last).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let ended = lock(&self.ended);
        let d = PyDict::new(py);
        d.set_item("events_generated", self.events.load(Ordering::Relaxed))?;
        d.set_item("events_invalid", self.invalid.load(Ordering::Relaxed))?;
        d.set_item("requests", ended.stats.requests)?;
        d.set_item("retries", ended.stats.retries)?;
        d.set_item("bytes", ended.stats.bytes)?;
        d.set_item("not_modified", ended.stats.not_modified)?;
        d.set_item("rate_limit_waits", ended.stats.rate_limit_waits)?;
        let duration = ended.started.map_or(ended.stats.duration, |s| s.elapsed());
        d.set_item("duration", duration.as_secs_f64())?;
        Ok(d)
    }
}
