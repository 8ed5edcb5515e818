//! The package's exceptions: one class per kind of failure, all under `AthenaError`, each
//! message naming the source and the place (as the CLI's errors do, secrets masked).

use athena_core::{ConfigError, ErrorKind, StoreError};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    athena_ingest,
    AthenaError,
    PyException,
    "Every error of athena_ingest."
);
create_exception!(
    athena_ingest,
    ConfigError_,
    AthenaError,
    "A source's config is wrong: an unknown type or key, a missing or ill-typed value."
);
create_exception!(
    athena_ingest,
    UnauthorizedError,
    AthenaError,
    "The service refused the credentials."
);
create_exception!(
    athena_ingest,
    RateLimitedError,
    AthenaError,
    "A rate limit is spent and resets later than the source may wait."
);
create_exception!(
    athena_ingest,
    HttpError,
    AthenaError,
    "An HTTP request failed for good (the service cannot be reached, or kept failing)."
);
create_exception!(
    athena_ingest,
    SourceIOError,
    AthenaError,
    "A file or directory the source needs cannot be used."
);
create_exception!(
    athena_ingest,
    CursorError,
    AthenaError,
    "A saved cursor cannot be used."
);
create_exception!(
    athena_ingest,
    StoreError_,
    AthenaError,
    "The store cannot be opened, read or written."
);
create_exception!(
    athena_ingest,
    SourceStopped,
    AthenaError,
    "The consumer of a source's events is gone: raised in a Python source's thread so that it ends."
);

/// The exception of `kind` saying `message`.
pub fn of_kind(kind: ErrorKind, message: String) -> PyErr {
    match kind {
        ErrorKind::Unauthorized => UnauthorizedError::new_err(message),
        ErrorKind::RateLimited => RateLimitedError::new_err(message),
        ErrorKind::Http => HttpError::new_err(message),
        ErrorKind::Io => SourceIOError::new_err(message),
        ErrorKind::Cursor => CursorError::new_err(message),
        ErrorKind::Config => ConfigError_::new_err(message),
        _ => AthenaError::new_err(message),
    }
}

/// A config error (every problem of it, one a line).
pub fn config(e: ConfigError) -> PyErr {
    let lines: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
    ConfigError_::new_err(lines.join("\n"))
}

/// A store error.
pub fn store(e: StoreError) -> PyErr {
    StoreError_::new_err(e.to_string())
}

/// Adds the exception classes to the module, by their Python names.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("AthenaError", py.get_type::<AthenaError>())?;
    m.add("ConfigError", py.get_type::<ConfigError_>())?;
    m.add("UnauthorizedError", py.get_type::<UnauthorizedError>())?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    m.add("HttpError", py.get_type::<HttpError>())?;
    m.add("SourceIOError", py.get_type::<SourceIOError>())?;
    m.add("CursorError", py.get_type::<CursorError>())?;
    m.add("StoreError", py.get_type::<StoreError_>())?;
    m.add("SourceStopped", py.get_type::<SourceStopped>())?;
    Ok(())
}
