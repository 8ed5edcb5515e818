//! `athena_ingest._native`: the Rust half of the `athena_ingest` Python package. The Python
//! half (`python/athena_ingest/`) holds the design's API — `EventSourceFactory`,
//! `BaseEventSource`, the async generators — and calls in here for what Rust does:
//!
//! - `event`: `EpisodicEvent`;
//! - `native_source`: a built-in source read in batches, on the package's runtime (`runtime`);
//! - `python_source`: a Python source run by the engine, exactly once into the store;
//! - `registry`: the built-in types and the registered Python ones;
//! - `store`: sync, events, status and cursors of a store file;
//! - `errors`: the exception classes; `convert`: JSON ↔ Python; `logging`: the engine's
//!   log records into the factory's logger;
//! - `testing` (feature `testing`): athena-sources' fake GitHub, for the package's tests.

use std::sync::Arc;

use athena_core::SourceConfig;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::Value;

mod convert;
mod errors;
mod event;
mod logging;
mod native_source;
mod python_source;
mod registry;
mod runtime;
mod store;
#[cfg(feature = "testing")]
mod testing;

/// Builds the built-in source `source_type` named `source_id` from `config` (a dict of the
/// type's keys, credentials merged in).
#[pyfunction]
fn build_source(
    source_type: &str,
    source_id: &str,
    config: &Bound<'_, PyAny>,
) -> PyResult<native_source::NativeSource> {
    let Value::Object(table) = convert::from_py(config, "config")? else {
        return Err(PyValueError::new_err("config must be a dict"));
    };
    let config = SourceConfig::new(source_id, source_type, convert::toml_table(&table));
    let registry: Arc<athena_core::Registry> = Arc::new(athena_sources::registry());
    native_source::NativeSource::build(registry, &config)
}

/// How many source streams (Rust and Python) are running now.
#[pyfunction]
fn running_streams() -> usize {
    runtime::running_streams()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<event::EpisodicEvent>()?;
    m.add_class::<native_source::NativeSource>()?;
    m.add_class::<python_source::Sink>()?;
    m.add_class::<store::NativeStore>()?;
    m.add_class::<store::Stop>()?;
    m.add_function(wrap_pyfunction!(build_source, m)?)?;
    m.add_function(wrap_pyfunction!(running_streams, m)?)?;
    m.add_function(wrap_pyfunction!(logging::set_logger, m)?)?;
    m.add_function(wrap_pyfunction!(registry::builtin_types, m)?)?;
    m.add_function(wrap_pyfunction!(registry::register_python_type, m)?)?;
    m.add_function(wrap_pyfunction!(registry::unregister_python_type, m)?)?;
    errors::register(m)?;
    #[cfg(feature = "testing")]
    testing::register(m)?;
    Ok(())
}
