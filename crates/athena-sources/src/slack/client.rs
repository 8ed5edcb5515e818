//! Talking to Slack's Web API: URLs, pages, and Slack's own errors inside `200` answers.

use std::time::Duration;

use athena_core::SourceError;
use athena_http::{BodyVerdict, HeaderMap, HttpError, HttpErrorKind, PageRead, Pages, Paging, Url};
use serde_json::Value;

use super::source::SlackSource;
use crate::api::{Hint, Hints};

/// How Slack pages its lists: `response_metadata.next_cursor`, sent back as `cursor`.
pub(super) const PAGING: Paging = Paging::BodyToken {
    pointer: "/response_metadata/next_cursor",
    param: "cursor",
};

/// Slack's own errors, said inside `200` answers, judged like HTTP ones.
pub(super) fn slack_verdict(v: &Value, _: &HeaderMap) -> BodyVerdict {
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return BodyVerdict::Accept;
    }
    let error = v
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("an answer without \"ok\": true");
    match error {
        "ratelimited" => BodyVerdict::Wait(Duration::from_secs(30)),
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked" | "token_expired" => {
            BodyVerdict::Fail(HttpErrorKind::Unauthorized, error.to_string())
        }
        "not_in_channel" | "channel_not_found" | "is_archived" | "thread_not_found" => {
            BodyVerdict::Fail(HttpErrorKind::NotFound, error.to_string())
        }
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
            BodyVerdict::Retry(error.to_string())
        }
        _ => {
            let needed = v
                .get("needed")
                .and_then(Value::as_str)
                .map(|s| format!(" (the token needs scope {s})"))
                .unwrap_or_default();
            BodyVerdict::Fail(HttpErrorKind::Api, format!("{error}{needed}"))
        }
    }
}

impl SlackSource {
    pub(super) fn url(&self, method: &str, query: &[(&str, &str)]) -> Result<Url, HttpError> {
        let mut url = self.client.url(method)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        Ok(url)
    }

    pub(super) async fn get(&self, url: &Url) -> Result<Value, HttpError> {
        self.client.get_value(url, &slack_verdict).await
    }

    /// A request error in the words a Slack user needs (Slack's own error code named).
    pub(super) fn fatal(&self, e: &HttpError) -> SourceError {
        let hints = Hints {
            unauthorized: Hint::lead(format!(
                "Slack rejected the token for source {} ({}; check `token`): ",
                self.info.id, e.message
            )),
            ..Hints::default()
        };
        hints.explain(&self.info.id, e)
    }

    /// Every page of a cursor-paged method, the items under `key`.
    pub(super) async fn all_pages(
        &self,
        method: &str,
        query: &[(&str, &str)],
        key: &str,
    ) -> Result<Vec<Value>, HttpError> {
        let mut url = self.url(method, query)?;
        let mut pages = Pages::new(PAGING, url.clone());
        let mut items = Vec::new();
        loop {
            let page = self.get(&url).await?;
            let list = page.get(key).and_then(Value::as_array);
            let listed = list.map_or(0, Vec::len);
            items.extend(list.into_iter().flatten().cloned());
            let read = PageRead {
                url: &url,
                link: None,
                body: &page,
                items: listed,
            };
            match pages.next(read)? {
                Some(next) => url = next,
                None => return Ok(items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slack_errors_inside_200_are_classified() {
        let h = HeaderMap::new();
        let v = |e: &str| slack_verdict(&json!({"ok": false, "error": e}), &h);
        assert_eq!(slack_verdict(&json!({"ok": true}), &h), BodyVerdict::Accept);
        assert!(matches!(v("ratelimited"), BodyVerdict::Wait(_)));
        assert!(matches!(
            v("invalid_auth"),
            BodyVerdict::Fail(HttpErrorKind::Unauthorized, _)
        ));
        assert!(matches!(
            v("not_in_channel"),
            BodyVerdict::Fail(HttpErrorKind::NotFound, _)
        ));
        assert!(matches!(v("internal_error"), BodyVerdict::Retry(_)));
        let scope = slack_verdict(
            &json!({"ok": false, "error": "missing_scope", "needed": "groups:history"}),
            &h,
        );
        assert_eq!(
            scope,
            BodyVerdict::Fail(
                HttpErrorKind::Api,
                "missing_scope (the token needs scope groups:history)".into()
            )
        );
    }
}
