//! Errors of the core crate.

use std::path::PathBuf;
use std::time::Duration;

/// What kind of failure stopped a source, for callers that react to it without reading text
/// (`sync --format json` and `status --format json` print it as `error_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credentials were refused (HTTP 401, or 403 without a rate limit).
    Unauthorized,
    /// A rate limit is spent past what the source may wait.
    RateLimited,
    /// Another HTTP failure: a status, a broken body, a network error after retries.
    Http,
    /// A file, directory or repository cannot be read.
    Io,
    /// The saved cursor cannot be used.
    Cursor,
    /// The configuration is wrong in a way only reading showed.
    Config,
    /// Anything else (a store failure, a bug, a custom source's own error).
    Other,
}

impl ErrorKind {
    /// Of several failures, the one a user must act on first: credentials, then a spent rate
    /// limit, the configuration, a cursor, HTTP, I/O, anything else.
    pub fn most_urgent(kinds: impl IntoIterator<Item = ErrorKind>) -> ErrorKind {
        let rank = |k: &ErrorKind| match k {
            ErrorKind::Unauthorized => 0,
            ErrorKind::RateLimited => 1,
            ErrorKind::Config => 2,
            ErrorKind::Cursor => 3,
            ErrorKind::Http => 4,
            ErrorKind::Io => 5,
            ErrorKind::Other => 6,
        };
        kinds
            .into_iter()
            .min_by_key(rank)
            .unwrap_or(ErrorKind::Other)
    }

    /// `unauthorized`, `rate_limited`, `http`, `io`, `cursor`, `config` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Http => "http",
            ErrorKind::Io => "io",
            ErrorKind::Cursor => "cursor",
            ErrorKind::Config => "config",
            ErrorKind::Other => "other",
        }
    }

    /// The kind [`ErrorKind::as_str`] names.
    pub fn parse(text: &str) -> Option<Self> {
        [
            ErrorKind::Unauthorized,
            ErrorKind::RateLimited,
            ErrorKind::Http,
            ErrorKind::Io,
            ErrorKind::Cursor,
            ErrorKind::Config,
            ErrorKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong while reading a source. Every variant names the source; [`SourceError::kind`]
/// says which [`ErrorKind`] it is.
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
    /// The service refused the credentials.
    #[error("source {source_id}: {message}")]
    Unauthorized {
        /// The source.
        source_id: String,
        /// What was refused, and where (a URL without credentials).
        message: String,
    },
    /// A rate limit is spent and resets later than the source may wait.
    #[error("source {source_id}: {message}")]
    RateLimited {
        /// The source.
        source_id: String,
        /// When the limit resets, if the service said.
        retry_after: Option<Duration>,
        /// Which limit, and where.
        message: String,
    },
    /// An HTTP request failed for good.
    #[error("source {source_id}: {message}")]
    Http {
        /// The source.
        source_id: String,
        /// The last status, if a response came.
        status: Option<u16>,
        /// The request (URL without credentials) and what went wrong.
        message: String,
    },
    /// The configuration is wrong in a way only reading showed (a channel that does not exist).
    #[error("source {source_id}: {message}")]
    Config {
        /// The source.
        source_id: String,
        /// What is wrong.
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
    /// An error of `kind` saying `message`: for a source that sums up several failures (some
    /// streams or channels failed) under the kind that matters most. `Io` becomes `Other`, as
    /// it has no one path to name.
    pub fn of_kind(kind: ErrorKind, source_id: &str, message: impl Into<String>) -> Self {
        let (source_id, message) = (source_id.to_string(), message.into());
        match kind {
            ErrorKind::Unauthorized => SourceError::Unauthorized { source_id, message },
            ErrorKind::RateLimited => SourceError::RateLimited {
                source_id,
                retry_after: None,
                message,
            },
            ErrorKind::Http => SourceError::Http {
                source_id,
                status: None,
                message,
            },
            ErrorKind::Config => SourceError::Config { source_id, message },
            ErrorKind::Cursor => SourceError::Cursor { source_id, message },
            ErrorKind::Io | ErrorKind::Other => SourceError::Failed { source_id, message },
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SourceError::Path { .. } => ErrorKind::Io,
            SourceError::Unauthorized { .. } => ErrorKind::Unauthorized,
            SourceError::RateLimited { .. } => ErrorKind::RateLimited,
            SourceError::Http { .. } => ErrorKind::Http,
            SourceError::Config { .. } => ErrorKind::Config,
            SourceError::Cursor { .. } => ErrorKind::Cursor,
            SourceError::Failed { .. } | SourceError::Other { .. } => ErrorKind::Other,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_failures_are_summed_up_under_the_most_urgent_kind() {
        use ErrorKind::*;
        assert_eq!(
            ErrorKind::most_urgent([Http, RateLimited, Other]),
            RateLimited
        );
        assert_eq!(ErrorKind::most_urgent([Http, Unauthorized]), Unauthorized);
        assert_eq!(ErrorKind::most_urgent([]), Other);
        let e = SourceError::of_kind(RateLimited, "gh", "2 stream(s) failed");
        assert_eq!(e.kind(), RateLimited);
        assert_eq!(e.to_string(), "source gh: 2 stream(s) failed");
        assert_eq!(SourceError::of_kind(Io, "gh", "x").kind(), Other);
    }

    #[test]
    fn every_kind_is_named_and_read_back() {
        let errors = [
            SourceError::path("s", "/x", "gone"),
            SourceError::Unauthorized {
                source_id: "s".into(),
                message: "401".into(),
            },
            SourceError::RateLimited {
                source_id: "s".into(),
                retry_after: None,
                message: "spent".into(),
            },
            SourceError::Http {
                source_id: "s".into(),
                status: Some(500),
                message: "500".into(),
            },
            SourceError::Config {
                source_id: "s".into(),
                message: "no channel".into(),
            },
            SourceError::Cursor {
                source_id: "s".into(),
                message: "bad".into(),
            },
            SourceError::failed("s", "bug"),
        ];
        let names: Vec<&str> = errors.iter().map(|e| e.kind().as_str()).collect();
        assert_eq!(
            names,
            [
                "io",
                "unauthorized",
                "rate_limited",
                "http",
                "config",
                "cursor",
                "other"
            ]
        );
        for e in &errors {
            assert_eq!(ErrorKind::parse(e.kind().as_str()), Some(e.kind()));
            assert!(e.to_string().starts_with("source s: "), "{e}");
        }
    }
}
