//! The source types the package knows: every built-in Rust type, and the Python classes
//! registered by `EventSourceFactory.register_source`, which the engine then runs like any
//! other (see [`crate::python_source`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use athena_core::Registry;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Python types by name. A name is static in the registry: each is kept for the life of the
/// process once registered (a program registers a handful).
static PYTHON_TYPES: Mutex<BTreeMap<&'static str, Py<PyAny>>> = Mutex::new(BTreeMap::new());

fn python_types() -> std::sync::MutexGuard<'static, BTreeMap<&'static str, Py<PyAny>>> {
    PYTHON_TYPES.lock().unwrap_or_else(|p| p.into_inner())
}

/// The built-in types' names.
pub fn builtin_names() -> Vec<&'static str> {
    athena_sources::registry().list().map(|t| t.name).collect()
}

/// A registry of the built-in types and the Python ones registered now.
pub fn current() -> Arc<Registry> {
    let mut registry = athena_sources::registry();
    Python::attach(|py| {
        for (name, cls) in python_types().iter() {
            let t = crate::python_source::source_type(name, cls.clone_ref(py));
            // A built-in name was refused at registration.
            let _ = registry.register(t);
        }
    });
    Arc::new(registry)
}

/// Makes the Python class `cls` the source type `name` for the engine.
#[pyfunction]
pub fn register_python_type(name: &str, cls: Py<PyAny>) -> PyResult<()> {
    if builtin_names().contains(&name) {
        return Err(PyValueError::new_err(format!(
            "source type {name:?} is built in; register the Python class under another name"
        )));
    }
    let mut types = python_types();
    let name: &'static str = match types.keys().find(|k| **k == name) {
        Some(kept) => kept,
        None => Box::leak(name.to_string().into_boxed_str()),
    };
    types.insert(name, cls);
    Ok(())
}

/// Forgets the Python type `name`; whether it was registered.
#[pyfunction]
pub fn unregister_python_type(name: &str) -> bool {
    python_types().remove(name).is_some()
}

/// The built-in Rust source types' names.
#[pyfunction]
pub fn builtin_types() -> Vec<&'static str> {
    builtin_names()
}
