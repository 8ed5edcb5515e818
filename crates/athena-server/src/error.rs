//! What `serve` and MCP over stdio can fail with, typed so that a caller tells the user's mistake
//! (a listen address, a token, an origin, a config) from a failure of the store or the network.

use athena_core::ConfigError;

/// Why the server did not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The caller's to fix: a refused listen address or token, a `cors_origins` entry that is
    /// not an origin, a missing config file, a zero poll interval.
    #[error("{0}")]
    Usage(String),
    /// The config file does not parse, or a source in it is misconfigured.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else (opening the store, binding the port, the runtime), with its causes: a
    /// caller may downcast to [`athena_core::StoreError`] or [`std::io::Error`].
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl ServeError {
    /// Inside the crate errors travel as `anyhow` with context; at the edge the typed ones
    /// are taken back out.
    pub(crate) fn from_anyhow(err: anyhow::Error) -> Self {
        let err = match err.downcast::<ServeError>() {
            Ok(typed) => return typed,
            Err(err) => err,
        };
        match err.downcast::<ConfigError>() {
            Ok(config) => ServeError::Config(config),
            Err(err) => ServeError::Other(err),
        }
    }
}
