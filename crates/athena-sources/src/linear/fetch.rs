//! Asking Linear: one GraphQL query a request, its errors (said in a 200 or a 400 body) in the
//! words a user needs, and Linear's rate limits (a `RATELIMITED` error waits for the reset;
//! a nearly spent budget slows the next query down).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use athena_core::{ErrorKind, SourceError};
use athena_http::{ApiClient, BodyVerdict, HeaderMap, HttpError, HttpErrorKind, Url};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{Hint, Hints};

/// Requests left below which the source waits for the window to reset.
const LOW_REQUESTS: u64 = 2;

/// A GraphQL answer: `data`, or `errors`, or both.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Answer {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Default, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    path: Vec<Value>,
    #[serde(default)]
    extensions: Extensions,
}

#[derive(Debug, Default, Deserialize)]
struct Extensions {
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "userPresentableMessage")]
    user_message: Option<String>,
}

impl GraphQlError {
    fn code(&self) -> &str {
        self.extensions.code.as_deref().unwrap_or("")
    }

    fn describe(&self) -> String {
        let mut s = self
            .extensions
            .user_message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| self.message.clone());
        if !self.path.is_empty() {
            let path: Vec<String> = self
                .path
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                .collect();
            s.push_str(&format!(" (at {})", path.join(".")));
        }
        if let Some(code) = &self.extensions.code {
            s.push_str(&format!(" [{code}]"));
        }
        s
    }
}

/// A query that failed.
#[derive(Debug)]
pub(crate) struct QueryError {
    pub error: SourceError,
    /// Linear answered with GraphQL errors of its own (not a refused token, not a rate limit):
    /// it refused this query (a stale page cursor, say).
    pub refused: bool,
}

impl From<SourceError> for QueryError {
    fn from(error: SourceError) -> Self {
        QueryError {
            error,
            refused: false,
        }
    }
}

impl From<QueryError> for SourceError {
    fn from(e: QueryError) -> Self {
        e.error
    }
}

/// The client and the endpoint it asks.
pub(crate) struct Api<'a> {
    pub source_id: &'a str,
    pub client: &'a ApiClient,
    pub endpoint: &'a Url,
    /// The longest wait for a spent budget (the `max_wait_secs` key).
    pub max_wait: Duration,
    /// The complexity a query of this source may cost, to slow down before it is refused.
    pub complexity: u64,
    /// Waits for a nearly spent budget, for the source's stats.
    pub waits: &'a AtomicU64,
}

impl Api<'_> {
    /// Runs `operation` (`query`, `variables`) and returns its `data`, after the errors and
    /// rate limits are dealt with.
    pub(crate) async fn query(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, QueryError> {
        let body = json!({"operationName": operation, "query": query, "variables": variables});
        let source_id = self.source_id;
        let check = move |a: &Answer, headers: &HeaderMap| verdict(source_id, a, headers);
        let page = self
            .client
            .post_checked::<Answer>(self.endpoint, &body, &check)
            .await
            .map_err(|e| QueryError {
                error: explain(self.source_id, operation, &e),
                refused: e.kind == HttpErrorKind::Api,
            })?;
        self.slow_down(&page.headers).await?;
        page.value.data.filter(|d| !d.is_null()).ok_or_else(|| {
            QueryError::from(SourceError::Http {
                source_id: self.source_id.to_string(),
                status: Some(200),
                message: format!(
                    "Linear answered {operation} with neither data nor errors ({})",
                    athena_http::redact_url(self.endpoint)
                ),
            })
        })
    }

    /// Waits for a window to reset when Linear says it is nearly spent (requests, or the
    /// complexity of one more query), so the next query is not refused.
    async fn slow_down(&self, headers: &HeaderMap) -> Result<(), SourceError> {
        let low = |remaining: &str, reset: &str, floor: u64| {
            let left: u64 = header(headers, remaining)?.parse().ok()?;
            (left < floor).then(|| until_epoch_ms(header(headers, reset)?))?
        };
        let wait = [
            low(
                "x-ratelimit-requests-remaining",
                "x-ratelimit-requests-reset",
                LOW_REQUESTS,
            ),
            low(
                "x-ratelimit-complexity-remaining",
                "x-ratelimit-complexity-reset",
                self.complexity,
            ),
        ]
        .into_iter()
        .flatten()
        .max();
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            return Ok(());
        };
        if wait > self.max_wait {
            return Err(SourceError::RateLimited {
                source_id: self.source_id.to_string(),
                retry_after: Some(wait),
                message: format!(
                    "Linear's rate limit is nearly spent and resets in {} s, longer than this source may wait (max_wait_secs {}); what was read is stored, sync again later",
                    wait.as_secs(),
                    self.max_wait.as_secs()
                ),
            });
        }
        tracing::info!(
            source = %self.source_id,
            "Linear's rate limit is nearly spent; waiting {} s for it to reset",
            wait.as_secs()
        );
        self.waits.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// How long until `reset` (epoch milliseconds, as Linear sends it), a little slack added.
fn until_epoch_ms(reset: &str) -> Option<Duration> {
    let reset: u64 = reset.parse().ok()?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let left = Duration::from_millis(reset).saturating_sub(now);
    Some(left + Duration::from_millis(100))
}

/// What an answer's errors mean: `RATELIMITED` waits for the reset its headers name (a minute
/// if they name none), a refused key is unauthorized, anything else fails the query.
fn verdict(source_id: &str, answer: &Answer, headers: &HeaderMap) -> BodyVerdict {
    let Some(first) = answer.errors.first() else {
        return BodyVerdict::Accept;
    };
    if answer.errors.iter().any(|e| e.code() == "RATELIMITED") {
        let wait = [
            "x-ratelimit-requests-reset",
            "x-ratelimit-complexity-reset",
            "x-ratelimit-endpoint-reset",
        ]
        .iter()
        .filter_map(|n| until_epoch_ms(header(headers, n)?))
        .filter(|w| *w > Duration::from_millis(100))
        .max()
        .unwrap_or(Duration::from_secs(60));
        return BodyVerdict::Wait(wait);
    }
    let kind = match first.code() {
        "AUTHENTICATION_ERROR" => HttpErrorKind::Unauthorized,
        "FORBIDDEN" => HttpErrorKind::Forbidden,
        _ => HttpErrorKind::Api,
    };
    let messages: Vec<String> = answer.errors.iter().map(GraphQlError::describe).collect();
    BodyVerdict::Fail(
        kind,
        format!(
            "Linear GraphQL error (source {source_id}): {}",
            messages.join("; ")
        ),
    )
}

/// Linear's words for what a user can fix, for `operation`.
pub(crate) fn hints(source_id: &str, operation: &str) -> Hints {
    let failed = Hint::lead(format!(
        "Linear query {operation} of source {source_id} failed: "
    ));
    Hints {
        unauthorized: Hint::lead(format!(
            "Linear rejected the token of source {source_id} (check `token` and `token_type`): "
        )),
        forbidden: Hint::lead(format!(
            "Linear refused {operation} for source {source_id}: "
        )),
        not_found: failed.clone(),
        other: failed,
    }
}

/// A request error in the words a Linear user needs.
pub(crate) fn explain(source_id: &str, operation: &str, e: &HttpError) -> SourceError {
    hints(source_id, operation).explain(source_id, e)
}

/// A malformed `data`: the answer is not the shape the query asked for.
pub(crate) fn malformed(source_id: &str, operation: &str, e: &serde_json::Error) -> SourceError {
    SourceError::of_kind(
        ErrorKind::Http,
        source_id,
        format!("Linear's answer to {operation} is not the shape asked for: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_http::HeaderMap;

    fn answer(v: Value) -> Answer {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn errors_in_a_body_fail_with_their_message_path_and_code_and_auth_is_its_own_kind() {
        let a = answer(
            json!({"data": null, "errors": [{"message": "Entity not found",
            "path": ["issue", 0], "extensions": {"code": "INVALID_INPUT"}}]}),
        );
        let BodyVerdict::Fail(kind, message) = verdict("lin", &a, &HeaderMap::new()) else {
            panic!("not a failure");
        };
        assert_eq!(kind, HttpErrorKind::Api);
        assert!(message.contains("source lin"), "{message}");
        assert!(
            message.contains("Entity not found (at issue.0) [INVALID_INPUT]"),
            "{message}"
        );
        let a = answer(json!({"errors": [{"message": "Authentication required",
            "extensions": {"code": "AUTHENTICATION_ERROR"}}]}));
        assert!(matches!(
            verdict("lin", &a, &HeaderMap::new()),
            BodyVerdict::Fail(HttpErrorKind::Unauthorized, _)
        ));
        assert_eq!(
            verdict("lin", &answer(json!({"data": {}})), &HeaderMap::new()),
            BodyVerdict::Accept
        );
    }

    #[test]
    fn ratelimited_waits_until_the_reset_in_epoch_milliseconds() {
        let a = answer(json!({"errors": [{"message": "Rate limit exceeded",
            "extensions": {"code": "RATELIMITED"}}]}));
        assert_eq!(
            verdict("lin", &a, &HeaderMap::new()),
            BodyVerdict::Wait(Duration::from_secs(60)),
            "no header: a minute"
        );
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-complexity-reset",
            (now + 3_000).to_string().parse().unwrap(),
        );
        let BodyVerdict::Wait(wait) = verdict("lin", &a, &h) else {
            panic!("not a wait")
        };
        assert!(
            wait > Duration::from_millis(2_500) && wait < Duration::from_millis(3_200),
            "{wait:?}"
        );
    }
}
