//! Errors of the core crate.

use std::path::PathBuf;

/// What went wrong while reading a source. Every variant names the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A file or directory the source needs cannot be used.
    #[error("source {source_id}: {}: {message}", path.display())]
    Path {
        /// The source.
        source_id: String,
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The saved cursor cannot be used.
    #[error("source {source_id}: saved cursor cannot be used: {message} (run `athena-ingest reset --source {source_id}` to start over)")]
    Cursor {
        /// The source.
        source_id: String,
        /// Why.
        message: String,
    },
    /// The source failed while reading.
    #[error("source {source_id}: {message}")]
    Failed {
        /// The source.
        source_id: String,
        /// What happened, with the place.
        message: String,
    },
    /// An error from a custom source.
    #[error("source {source_id}: {source}")]
    Other {
        /// The source.
        source_id: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SourceError {
    /// A failure with a message naming the place.
    pub fn failed(source_id: &str, message: impl Into<String>) -> Self {
        SourceError::Failed {
            source_id: source_id.to_string(),
            message: message.into(),
        }
    }

    /// A problem with a path.
    pub fn path(source_id: &str, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        SourceError::Path {
            source_id: source_id.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The text of a caught panic's payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
