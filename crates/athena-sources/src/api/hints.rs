//! [`Hints`]: a source's words for each kind of HTTP failure, so the step from an
//! [`HttpError`] to the source's [`SourceError`] is written once.
//!
//! The error stays typed on the way: refused credentials are `Unauthorized`, a spent rate
//! limit is `RateLimited` with the wait the client knew, the rest `Http` with the status
//! (see [`HttpError::source_error`]). A hint only adds words around the error's own text.

use athena_core::{ErrorKind, SourceError};
use athena_http::{HttpError, HttpErrorKind};

/// The words around one kind of failure: the message is `lead`, the error's text, `tail`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hint {
    lead: String,
    tail: &'static str,
    /// The kind the failure is told as, when not the one its HTTP kind gives (a missing
    /// project is the configuration's fault).
    kind: Option<ErrorKind>,
}

impl Hint {
    /// `lead` before the error's text.
    pub(crate) fn lead(lead: impl Into<String>) -> Self {
        Hint {
            lead: lead.into(),
            ..Hint::default()
        }
    }

    /// `lead` before the error's text and `tail` after it.
    pub(crate) fn around(lead: impl Into<String>, tail: &'static str) -> Self {
        Hint {
            lead: lead.into(),
            tail,
            kind: None,
        }
    }

    /// Told as an error of `kind` whatever its HTTP kind.
    pub(crate) fn of_kind(self, kind: ErrorKind) -> Self {
        Hint {
            kind: Some(kind),
            ..self
        }
    }
}

/// A source's words for the failures its users can act on; a kind without words is told by
/// the error's own text (which names the method, the URL and the status).
#[derive(Debug, Clone, Default)]
pub(crate) struct Hints {
    /// 401: which keys to check.
    pub unauthorized: Hint,
    /// 403 that is not a rate limit: which permission may lack.
    pub forbidden: Hint,
    /// 404: which key names what is missing.
    pub not_found: Hint,
    /// Anything else.
    pub other: Hint,
}

impl Hints {
    /// `e` as source `source_id`'s error, in these words.
    pub(crate) fn explain(&self, source_id: &str, e: &HttpError) -> SourceError {
        let hint = match e.kind {
            HttpErrorKind::Unauthorized => &self.unauthorized,
            HttpErrorKind::Forbidden => &self.forbidden,
            HttpErrorKind::NotFound => &self.not_found,
            _ => &self.other,
        };
        let message = format!("{}{e}{}", hint.lead, hint.tail);
        match hint.kind {
            Some(kind) => SourceError::of_kind(kind, source_id, message),
            None => e.source_error(source_id, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: HttpErrorKind, status: u16) -> HttpError {
        HttpError::new(
            kind,
            "GET",
            "https://api.example/x",
            Some(status),
            "Not Found",
        )
    }

    #[test]
    fn each_kind_gets_its_words_and_keeps_its_type() {
        let hints = Hints {
            unauthorized: Hint::around("rejected (check `token`; ", ")"),
            not_found: Hint::lead("no such project: ").of_kind(ErrorKind::Config),
            ..Hints::default()
        };
        let e = hints.explain("s", &error(HttpErrorKind::Unauthorized, 401));
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(
            e.to_string(),
            "source s: rejected (check `token`; GET https://api.example/x: HTTP 401: Not Found)"
        );
        let e = hints.explain("s", &error(HttpErrorKind::NotFound, 404));
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string().starts_with("source s: no such project: GET"),
            "{e}"
        );
        let e = hints.explain("s", &error(HttpErrorKind::Server, 503));
        assert_eq!(e.kind(), ErrorKind::Http);
        assert_eq!(
            e.to_string(),
            "source s: GET https://api.example/x: HTTP 503: Not Found"
        );
    }
}
