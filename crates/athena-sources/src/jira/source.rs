//! [`JiraSource`]: the `jira` source as the kit runs it. One sync searches the issues updated
//! since the cursor's mark (less the overlap), oldest update first, a page at a time; for each
//! issue it reads the change history the search left out and the comments, emits the issue's
//! events, and checkpoints with the mark at that issue's `updated`. A kill at any moment
//! leaves a mark no later than the last issue stored whole: the next sync reads on from there,
//! and what it reads again comes back as duplicates, never stored twice.

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, Secret, SourceConfig, SourceError, SourceInfo};
use athena_http::{ApiClient, BodyVerdict, HttpError, HttpErrorKind, PageRead, Pages, Paging, Url};
use serde_json::Value;

use super::config::JiraConfig;
use super::cursor::JiraCursor;
use super::issue::Issue;
use crate::api::{self, ApiSource, Failure, Hint, Hints, Parts};

/// The fields a search asks for: what the events need, nothing more.
pub(crate) const FIELDS: &str =
    "summary,status,assignee,reporter,created,updated,resolutiondate,description,project,issuetype,priority";

/// Issues per search page (Jira serves at most 100 with the changelog expanded).
const SEARCH_PAGE: u32 = 100;

/// Histories or comments per page of an issue's own lists.
const ITEM_PAGE: u32 = 100;

/// How Jira's `search/jql` pages: `nextPageToken` in the body, sent back as such.
const PAGING: Paging = Paging::BodyToken {
    pointer: "/nextPageToken",
    param: "nextPageToken",
};

/// How an issue's own lists (changelog, comments) page: `startAt`, `total`, `isLast`.
const ITEM_PAGING: Paging = Paging::Offset { param: "startAt" };

/// Reads a Jira Cloud site's issues: creations, transitions, assignments, resolutions and
/// comments (run by the kit's [`Async`](athena_core::kit::Async)).
pub struct JiraSource {
    info: SourceInfo,
    config: JiraConfig,
    /// The JQL filter without the time bound and the order.
    filter: String,
    client: ApiClient,
}

impl JiraSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: JiraConfig = config.parse()?;
        let base = Url::parse(&c.base_url)
            .map_err(|e| config.error(Some("base_url"), format!("not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(config.error(Some("base_url"), "must be an http or https URL"));
        }
        let empty = |s: &Option<Secret>| s.as_ref().is_some_and(|t| t.expose().trim().is_empty());
        for (key, secret) in [("token", &c.token), ("bearer_token", &c.bearer_token)] {
            if empty(secret) {
                return Err(config.error(Some(key), "is empty (is the variable set?)"));
            }
        }
        let authorization = match (&c.email, &c.token, &c.bearer_token) {
            (Some(email), Some(token), None) => {
                let pair = format!("{email}:{}", token.expose());
                Secret::new(format!("Basic {}", base64(pair.as_bytes())))
            }
            (None, None, Some(bearer)) => Secret::new(format!("Bearer {}", bearer.expose())),
            (_, _, Some(_)) => {
                return Err(config.error(
                    Some("bearer_token"),
                    "is given with `email`/`token`: use one or the other",
                ))
            }
            (None, Some(_), None) => {
                return Err(config.error(Some("email"), "is required with `token` (Basic auth)"))
            }
            (Some(_), None, None) => {
                return Err(config.error(Some("token"), "is required with `email` (Basic auth)"))
            }
            (None, None, None) => {
                return Err(config.error(
                    Some("token"),
                    "is required: `email` and `token` (an API token), or `bearer_token`",
                ))
            }
        };
        for p in &c.projects {
            if p.is_empty() || !p.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                return Err(config.error(Some("projects"), format!("{p:?} is not a project key")));
            }
        }
        if let Some(jql) = &c.jql {
            if jql.to_ascii_lowercase().contains("order by") {
                return Err(config.error(
                    Some("jql"),
                    "must not hold ORDER BY (the source orders by updated)",
                ));
            }
        }
        let client = api::client(config, &c.base_url, Some(authorization), &c.http, |http| {
            http.headers = vec![("Accept".into(), "application/json".into())];
            // Jira Cloud's budget headers (its reset is a time stamp the client also reads).
            http.rate_limit = Some(athena_http::RateLimitHeaders::GITHUB);
        })?;
        let filter = filter(&c.projects, c.jql.as_deref());
        Ok(JiraSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "jira".into(),
                name: format!("jira {}", base.host_str().unwrap_or("")),
            },
            client,
            filter,
            config: c,
        })
    }

    /// The search of the issues updated since `since_ms`, oldest update first.
    fn search_url(&self, since_ms: i64) -> Result<Url, HttpError> {
        let mut jql = String::new();
        if !self.filter.is_empty() {
            jql.push_str(&format!("({}) AND ", self.filter));
        }
        // Epoch milliseconds: a JQL date is read in the account's zone, to the minute.
        jql.push_str(&format!("updated >= {since_ms} ORDER BY updated ASC"));
        let mut url = self.client.url("rest/api/3/search/jql")?;
        url.query_pairs_mut()
            .append_pair("jql", &jql)
            .append_pair("maxResults", &SEARCH_PAGE.to_string())
            .append_pair("fields", FIELDS)
            .append_pair("expand", "changelog");
        Ok(url)
    }

    async fn get(&self, url: &Url) -> Result<Value, HttpError> {
        self.client.get_value(url, &BodyVerdict::accept).await
    }

    /// Every item under `key` of an issue's paged list (`changelog`: `values`, `comment`:
    /// `comments`); an issue deleted meanwhile has none.
    async fn issue_list(
        &self,
        issue_id: &str,
        list: &str,
        key: &str,
    ) -> Result<Vec<Value>, HttpError> {
        let mut url = self
            .client
            .url(&format!("rest/api/3/issue/{issue_id}/{list}"))?;
        url.query_pairs_mut()
            .append_pair("startAt", "0")
            .append_pair("maxResults", &ITEM_PAGE.to_string());
        if list == "comment" {
            url.query_pairs_mut().append_pair("orderBy", "created");
        }
        let mut pages = Pages::new(ITEM_PAGING, url.clone());
        let mut items = Vec::new();
        loop {
            let page = match self.get(&url).await {
                Ok(p) => p,
                Err(e) if e.kind == HttpErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let got = page.get(key).and_then(Value::as_array);
            let read = PageRead {
                url: &url,
                link: None,
                body: &page,
                items: got.map_or(0, Vec::len),
            };
            items.extend(got.into_iter().flatten().cloned());
            match pages.next(read)? {
                Some(next) => url = next,
                None => return Ok(items),
            }
        }
    }

    /// One issue's events: its creation, its history, its comments.
    async fn issue_events(&self, issue: &Issue<'_>) -> Result<Vec<athena_core::Event>, HttpError> {
        let mut out = Vec::new();
        out.extend(issue.created());
        let changelog = issue.json.get("changelog");
        let inline = changelog
            .and_then(|c| c.get("histories"))
            .and_then(Value::as_array);
        let listed = inline.map_or(0, Vec::len) as u64;
        let total = changelog
            .and_then(|c| c.get("total"))
            .and_then(Value::as_u64)
            .unwrap_or(listed);
        if total > listed {
            for h in self.issue_list(&issue.id, "changelog", "values").await? {
                issue.history(&h, &mut out);
            }
        } else {
            for h in inline.into_iter().flatten() {
                issue.history(h, &mut out);
            }
        }
        for c in self.issue_list(&issue.id, "comment", "comments").await? {
            issue.comment(&c, &mut out);
        }
        Ok(out)
    }

    /// The search from the cursor's mark, a checkpoint after every issue.
    async fn search(&self, cursor: &mut JiraCursor, sink: &mut Sink) -> Result<(), Failure> {
        let first = self.search_url(cursor.since_ms())?;
        let mut url = first.clone();
        let mut pages = Pages::new(PAGING, first);
        let site = self.config.base_url.clone();
        let mut done = 0u64;
        loop {
            let page = self.get(&url).await?;
            let Some(issues) = page.get("issues").and_then(Value::as_array) else {
                let message = "the answer has no `issues` list";
                return Err(HttpError::answer(HttpErrorKind::Decode, "GET", &url, message).into());
            };
            for json in issues {
                let Some(issue) = Issue::new(json, &site) else {
                    continue;
                };
                let events = self.issue_events(&issue).await?;
                for e in events {
                    sink.event(e);
                }
                if let Some(u) = issue.updated {
                    cursor.advance(u.timestamp_millis());
                }
                done += 1;
                sink.progress(done, None);
                sink.checkpoint(|| cursor.encode()).await?;
            }
            if page.get("isLast").and_then(Value::as_bool) == Some(true) {
                return Ok(());
            }
            let read = PageRead {
                url: &url,
                link: None,
                body: &page,
                items: issues.len(),
            };
            match pages.next(read)? {
                Some(next) => url = next,
                None => return Ok(()),
            }
        }
    }
}

#[async_trait]
impl ApiSource for JiraSource {
    type Run = JiraCursor;

    fn parts(&self) -> Parts<'_> {
        Parts {
            info: &self.info,
            client: &self.client,
            batch_size: self.config.batch_size,
        }
    }

    /// Jira's words for what a user can fix.
    fn hints(&self) -> Hints {
        let id = &self.info.id;
        Hints {
            unauthorized: Hint::lead(format!("Jira rejected the credentials for source {id} (check `email` and `token`, or `bearer_token`): ")),
            forbidden: Hint::lead(format!("Jira refused access for source {id} (can the account browse the projects?): ")),
            not_found: Hint::lead(format!("not found for source {id} (is `base_url` a Jira Cloud site, https://DOMAIN.atlassian.net?): ")),
            other: Hint::lead(format!("source {id}: ")),
        }
    }

    /// `GET /rest/api/3/myself`: the credentials are accepted.
    async fn check(&self) -> Result<(), Failure> {
        let url = self.client.url("rest/api/3/myself")?;
        self.get(&url).await?;
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<JiraCursor, SourceError> {
        let overlap_ms = i64::try_from(self.config.overlap_minutes * 60_000).unwrap_or(i64::MAX);
        JiraCursor::decode(ctx.take_cursor(), &self.info.id, &self.filter, overlap_ms)
    }

    /// The issues stored whole before a failure go with their mark.
    async fn sync(&self, cursor: &mut JiraCursor, sink: &mut Sink) -> Result<(), Failure> {
        self.search(cursor, sink).await
    }

    fn cursor(cursor: &JiraCursor) -> Cursor {
        cursor.encode()
    }
}

api::driven!(JiraSource);

/// The JQL that picks the configured issues: the projects, and the user's JQL.
fn filter(projects: &[String], jql: Option<&str>) -> String {
    let mut parts = Vec::new();
    if !projects.is_empty() {
        let keys: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
        parts.push(format!("project in ({})", keys.join(", ")));
    }
    if let Some(j) = jql.map(str::trim).filter(|j| !j.is_empty()) {
        parts.push(format!("({j})"));
    }
    parts.join(" AND ")
}

/// Standard base64 with padding, for the Basic `Authorization` header.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_the_rfc() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"a@b.c:tok"), "YUBiLmM6dG9r");
    }

    #[test]
    fn the_filter_ands_projects_and_jql() {
        assert_eq!(filter(&[], None), "");
        assert_eq!(
            filter(&["ABC".into(), "OPS".into()], Some(" type = Bug ")),
            "project in (\"ABC\", \"OPS\") AND (type = Bug)"
        );
    }
}
