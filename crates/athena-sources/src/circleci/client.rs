//! Asking CircleCI: URLs under the API root, `next_page_token` paging, and what errors mean.

use athena_core::{ErrorKind, SourceError};
use athena_http::{ApiClient, BodyVerdict, HttpError, HttpErrorKind, PageRead, Pages, Paging, Url};
use serde_json::Value;

use crate::api::{Hint, Hints};

/// How API v2 pages its lists: `next_page_token` in the body, sent back as `page-token`.
const PAGING: Paging = Paging::BodyToken {
    pointer: "/next_page_token",
    param: "page-token",
};

/// The client, the source it serves, and the project.
pub(super) struct Api<'a> {
    pub source_id: &'a str,
    pub client: &'a ApiClient,
    pub project_slug: &'a str,
}

/// One list, a page at a time.
pub(super) struct List {
    pages: Pages,
    next: Option<Url>,
}

impl List {
    /// The next page's items, `None` after the last page. A body without an `items` array is
    /// an error naming the URL.
    pub async fn next(&mut self, api: &Api<'_>) -> Result<Option<Vec<Value>>, HttpError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let mut body = api.get(&url).await?;
        let items = match body.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => {
                let message = "the response is not a list (no \"items\" array)";
                return Err(HttpError::answer(
                    HttpErrorKind::Decode,
                    "GET",
                    &url,
                    message,
                ));
            }
        };
        let read = PageRead {
            url: &url,
            link: None,
            body: &body,
            items: items.len(),
        };
        self.next = self.pages.next(read)?;
        Ok(Some(items))
    }
}

impl Api<'_> {
    /// `path` under the API root, each of its segments percent-encoded but the slug's `/`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, SourceError> {
        let mut url = self.client.url(path).map_err(|e| self.explain(&e))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        Ok(url)
    }

    /// `project/{slug}`, encoded.
    pub fn project_path(&self) -> String {
        let slug: Vec<String> = self.project_slug.split('/').map(encode).collect();
        format!("project/{}", slug.join("/"))
    }

    /// A list from its first page's URL.
    pub fn list(&self, first: Url) -> List {
        List {
            pages: Pages::new(PAGING, first.clone()),
            next: Some(first),
        }
    }

    /// Every item of a short list (a pipeline's workflows, a workflow's jobs); a list whose
    /// owner is gone (404: deleted meanwhile) is empty.
    pub async fn all(&self, path: &str) -> Result<Vec<Value>, SourceError> {
        let mut list = self.list(self.url(path, &[])?);
        let mut all = Vec::new();
        loop {
            match list.next(self).await {
                Ok(Some(items)) => all.extend(items),
                Ok(None) => return Ok(all),
                Err(e) if e.kind == HttpErrorKind::NotFound && all.is_empty() => return Ok(all),
                Err(e) => return Err(self.explain(&e)),
            }
        }
    }

    pub async fn get(&self, url: &Url) -> Result<Value, HttpError> {
        self.client.get_value(url, &BodyVerdict::accept).await
    }

    /// A request error in the words a CircleCI user needs, typed by its kind.
    pub fn explain(&self, e: &HttpError) -> SourceError {
        hints(self.source_id, self.project_slug).explain(self.source_id, e)
    }
}

/// CircleCI's words for what a user can fix.
pub(super) fn hints(id: &str, slug: &str) -> Hints {
    Hints {
            unauthorized: Hint::lead(format!(
                "CircleCI rejected the token for source {id} (check `token`): "
            )),
            forbidden: Hint::lead(format!(
                "CircleCI refused source {id} access to project {slug} (does the token's user follow it?): "
            )),
            // The slug names no project the token can see: the configuration is wrong.
            not_found: Hint::lead(format!(
                "CircleCI project {slug} not found (check `project_slug`, or the token cannot see it): "
            ))
            .of_kind(ErrorKind::Config),
            other: Hint::default(),
        }
}

/// Percent-encodes a path segment.
pub(super) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
