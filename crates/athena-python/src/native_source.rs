//! A Rust source (any registered type) driven from Python: built from a config dict, validated,
//! and read as batches of `EpisodicEvent`s. Its stream runs as a task on the package's runtime
//! and hands batches over a channel of two; `next_batch` waits for one with the GIL released,
//! so Python's event loop (through a worker thread) and the source both keep going. Closing,
//! or dropping the object, stops the task at its next batch.

use std::sync::Arc;

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

/// A running stream: its batches, and how to stop it and get the source back.
struct Streaming {
    batches: mpsc::Receiver<Result<Batch, SourceError>>,
    cancel: CancelToken,
    task: JoinHandle<(Box<dyn EventSource>, SourceStats)>,
}

enum State {
    Idle(Box<dyn EventSource>),
    Streaming(Streaming),
    /// The source was lost to a task that panicked.
    Gone,
}

/// A built Rust source.
#[pyclass(module = "athena_ingest._native")]
pub struct NativeSource {
    info: SourceInfo,
    registry: Arc<Registry>,
    secrets: Redactor,
    /// Behind a lock only so the object may be shared between threads (Python's worker
    /// threads call it); every method holds `&mut self` anyway.
    state: std::sync::Mutex<State>,
    events: u64,
    invalid: u64,
    /// The source's own counters, as of its last stream's end.
    stats: SourceStats,
    /// When the stream running now started.
    started: Option<std::time::Instant>,
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
            state: std::sync::Mutex::new(State::Idle(source)),
            events: 0,
            invalid: 0,
            stats: SourceStats::default(),
            started: None,
        })
    }

    fn state(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    fn masked(&self, e: SourceError) -> PyErr {
        let kind = e.kind();
        errors::of_kind(kind, self.secrets.redact(&e.to_string()).into_owned())
    }

    /// Waits for the stream's task and takes the source back.
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        if !matches!(self.state(), State::Streaming(_)) {
            return Ok(());
        }
        let State::Streaming(streaming) = std::mem::replace(self.state(), State::Gone) else {
            return Ok(());
        };
        let Streaming {
            batches,
            cancel,
            task,
        } = streaming;
        cancel.cancel();
        drop(batches);
        match py.detach(|| runtime().block_on(task)) {
            Ok((source, stats)) => {
                self.stats = stats;
                if let Some(started) = self.started.take() {
                    self.stats.duration = started.elapsed();
                }
                *self.state() = State::Idle(source);
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
        if let State::Streaming(s) = self.state() {
            s.cancel.cancel();
        }
    }
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
    /// the error of its kind if it fails.
    fn validate(&mut self, py: Python<'_>) -> PyResult<()> {
        self.finish(py)?;
        let State::Idle(source) = self.state() else {
            return Err(PyRuntimeError::new_err("the source is gone"));
        };
        let checked = py.detach(|| runtime().block_on(source.validate()));
        checked.map_err(|e| self.masked(e))
    }

    /// Starts reading after `cursor` (JSON text, as a checkpoint gave it; None: from the
    /// beginning). A stream already running is stopped first.
    #[pyo3(signature = (cursor=None))]
    fn start(&mut self, py: Python<'_>, cursor: Option<&str>) -> PyResult<()> {
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
        let State::Idle(mut source) = std::mem::replace(self.state(), State::Gone) else {
            return Err(PyRuntimeError::new_err("the source is gone"));
        };
        let (tx, batches) = mpsc::channel(2);
        let cancel = CancelToken::new();
        let stop = cancel.clone();
        let task = runtime().spawn(async move {
            let _running = StreamGuard::new();
            {
                let mut stream = source.events(cursor);
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => break,
                        next = stream.next() => next,
                    };
                    let Some(item) = next else { break };
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        break;
                    }
                }
            }
            let _ = source.close().await;
            let stats = source.stats();
            (source, stats)
        });
        self.started = Some(std::time::Instant::now());
        *self.state() = State::Streaming(Streaming {
            batches,
            cancel,
            task,
        });
        Ok(())
    }

    /// The next batch: its events and the cursor that is true once they are all handled (JSON
    /// text), or None when the source has nothing more. Waits with the GIL released.
    fn next_batch<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyList>, String)>> {
        let State::Streaming(streaming) = self.state() else {
            return Ok(None);
        };
        let batches = &mut streaming.batches;
        let item = py.detach(|| batches.blocking_recv());
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
        self.invalid += batch.dead_letters.len() as u64;
        self.events += batch.events.len() as u64;
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

    /// Stops the stream (if one runs) and releases what the source holds.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.finish(py)
    }

    /// Whether a stream is running.
    #[getter]
    fn running(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Streaming(_)
        )
    }

    /// `events_generated`, `events_invalid`, `requests`, `retries`, `bytes`, `not_modified`,
    /// `rate_limit_waits` and `duration` (seconds, of the stream running, else of the last).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("events_generated", self.events)?;
        d.set_item("events_invalid", self.invalid)?;
        d.set_item("requests", self.stats.requests)?;
        d.set_item("retries", self.stats.retries)?;
        d.set_item("bytes", self.stats.bytes)?;
        d.set_item("not_modified", self.stats.not_modified)?;
        d.set_item("rate_limit_waits", self.stats.rate_limit_waits)?;
        let duration = self.started.map_or(self.stats.duration, |s| s.elapsed());
        d.set_item("duration", duration.as_secs_f64())?;
        Ok(d)
    }
}
