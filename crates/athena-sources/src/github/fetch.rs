//! Asking GitHub: the client with the repository it reads, and what its errors mean for the
//! stream being read and for the source.

use athena_core::SourceError;
use athena_http::{ApiClient, Fetched, HttpError, HttpErrorKind, Url};
use serde_json::Value;

use super::config::GitHubConfig;
use super::json::{encode, Ctx};
pub(crate) use crate::api::Failure;
use crate::api::{Hint, Hints};

/// The client and the repository it is asked about.
pub(crate) struct Api<'a> {
    pub source_id: &'a str,
    pub config: &'a GitHubConfig,
    pub client: &'a ApiClient,
    /// Where the events happen.
    pub ctx: Ctx<'a>,
}

impl Api<'_> {
    /// The URL of a path under the API root.
    pub(crate) fn url(&self, path: &str) -> Result<Url, Failure> {
        self.client.url(path).map_err(|e| self.failure(&e))
    }

    /// `repos/{owner}/{repo}`, encoded: where a stream's list is.
    pub(crate) fn repo_path(&self) -> String {
        let c = self.config;
        format!("repos/{}/{}", encode(&c.owner), encode(&c.repo))
    }

    /// What a request error means: a rejected token or a missing repository fails the
    /// source ([`Failure::Source`]); anything else, the stream ([`Failure::Http`]: the others
    /// are read).
    pub(crate) fn failure(&self, e: &HttpError) -> Failure {
        match e.kind {
            HttpErrorKind::Unauthorized | HttpErrorKind::NotFound => {
                Failure::Source(explain(self.source_id, self.config, e))
            }
            _ => Failure::Http(e.clone()),
        }
    }

    /// One object by its path; `None` for a 404.
    pub(crate) async fn get_value(&self, path: &str) -> Result<Option<Value>, HttpError> {
        let url = self.client.url(path)?;
        match self.client.get_json::<Value>(&url, None).await {
            Ok(Fetched::Page(p)) => Ok(Some(p.value)),
            Ok(Fetched::NotModified) => Ok(None),
            Err(e) if e.kind == HttpErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A request error in the words a GitHub user needs.
pub(crate) fn explain(source_id: &str, config: &GitHubConfig, e: &HttpError) -> SourceError {
    hints(source_id, config).explain(source_id, e)
}

/// GitHub's words for what a user can fix.
pub(crate) fn hints(source_id: &str, config: &GitHubConfig) -> Hints {
    let api = Url::parse(&config.api_url)
        .map(|u| athena_http::redact_url(&u))
        .unwrap_or_default();
    Hints {
        unauthorized: Hint::around(
            format!("GitHub rejected the token for source {source_id} (check `token`; "),
            ")",
        ),
        not_found: Hint::lead(format!(
            "repository {}/{} not found at {api} (or the token cannot see it): ",
            config.owner, config.repo
        )),
        forbidden: Hint::lead(
            "GitHub refused access (does the token have the scopes docs/sources/github.md lists?): ",
        ),
        other: Hint::default(),
    }
}
