//! Paging: the `Link` response header (RFC 8288) as GitHub and many others use it
//! (`<https://api.github.com/…&page=2>; rel="next", <…&page=5>; rel="last"`), and cursor
//! tokens in the body (Slack's `response_metadata.next_cursor`, Linear's `pageInfo`).

use url::Url;

/// The URL of relation `rel` in a `Link` header value, resolved against `base` when relative.
pub fn find(header: &str, rel: &str, base: &Url) -> Option<Url> {
    for part in split_links(header) {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some(end) = rest.find('>') else {
            continue;
        };
        let target = &rest[..end];
        let params = &rest[end + 1..];
        let has_rel = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"'))
                .is_some_and(|v| v.split_whitespace().any(|r| r.eq_ignore_ascii_case(rel)))
        });
        if has_rel {
            return base.join(target).ok();
        }
    }
    None
}

/// The `rel="next"` URL.
pub fn next(header: &str, base: &Url) -> Option<Url> {
    find(header, "next", base)
}

/// The next page's token from a JSON body at `pointer` (`/response_metadata/next_cursor`):
/// `None` when absent, null or empty (the last page).
pub fn body_cursor(body: &serde_json::Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `url` with query parameter `key` set to `value` (replacing it if present): the next page's
/// URL for APIs that page by a token in the query.
pub fn with_query(url: &Url, key: &str, value: &str) -> Url {
    let mut u = url.clone();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(key, value);
    u
}

/// Splits on the commas between links, not those inside `<…>` (URLs may hold commas).
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_several_links() {
        let base = Url::parse("https://api.github.com/repos/o/r/issues").unwrap();
        let h = r#"<https://api.github.com/repositories/1/issues?page=2&per_page=100>; rel="next", <https://api.github.com/repositories/1/issues?page=9&per_page=100>; rel="last""#;
        assert_eq!(
            next(h, &base).unwrap().as_str(),
            "https://api.github.com/repositories/1/issues?page=2&per_page=100"
        );
        assert_eq!(
            find(h, "last", &base).unwrap().query(),
            Some("page=9&per_page=100")
        );
        assert_eq!(find(h, "prev", &base), None);
    }

    #[test]
    fn body_cursors_and_query_tokens() {
        let body = serde_json::json!({"response_metadata": {"next_cursor": "dXNlcjpVMDYx"}});
        assert_eq!(
            body_cursor(&body, "/response_metadata/next_cursor").as_deref(),
            Some("dXNlcjpVMDYx")
        );
        let last = serde_json::json!({"response_metadata": {"next_cursor": ""}});
        assert_eq!(body_cursor(&last, "/response_metadata/next_cursor"), None);
        let u = Url::parse("https://slack.com/api/conversations.history?channel=C1&cursor=old")
            .unwrap();
        assert_eq!(
            with_query(&u, "cursor", "a b").as_str(),
            "https://slack.com/api/conversations.history?channel=C1&cursor=a+b"
        );
    }

    #[test]
    fn relative_targets_and_commas_inside_urls() {
        let base = Url::parse("http://127.0.0.1:9/api/v3/x?a=1").unwrap();
        let h = r#"</api/v3/x?cursor=a,b&page=2>; rel="next""#;
        assert_eq!(
            next(h, &base).unwrap().as_str(),
            "http://127.0.0.1:9/api/v3/x?cursor=a,b&page=2"
        );
        assert_eq!(next("garbage", &base), None);
        assert_eq!(next("", &base), None);
    }
}
