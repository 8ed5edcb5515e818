//! A fake's lists cut into pages the two ways APIs page: numbered pages found through a `Link`
//! header (GitHub), and an opaque token in the body (Slack's `next_cursor`, Jira's
//! `nextPageToken`, CircleCI's `next_page_token`).

use super::server::{TestRequest, TestResponse};

/// One page of a list and where the next one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a, T> {
    /// The items on this page.
    pub items: &'a [T],
    /// The next page: its absolute URL ([`numbered`]) or its token ([`by_token`]); `None` on
    /// the last page.
    pub next: Option<String>,
}

impl<T> Page<'_, T> {
    /// Adds `Link: <next>; rel="next"` to `response` when a next page follows.
    pub fn link(&self, response: TestResponse) -> TestResponse {
        match &self.next {
            Some(next) => response.header("Link", &format!("<{next}>; rel=\"next\"")),
            None => response,
        }
    }
}

/// The page a request asks for with `page` (from 1) and `per_page` (default
/// `default_per_page`); `next` is the request's own URL with `page` one higher, its other
/// parameters kept.
pub fn numbered<'a, T>(
    request: &TestRequest,
    items: &'a [T],
    default_per_page: usize,
) -> Page<'a, T> {
    let number = |key: &str| request.query(key).and_then(|v| v.parse::<usize>().ok());
    let per_page = number("per_page").unwrap_or(default_per_page);
    let page = number("page").unwrap_or(1).max(1);
    let from = ((page - 1) * per_page).min(items.len());
    let to = (from + per_page).min(items.len());
    let next = (to < items.len()).then(|| {
        let mut url = url::Url::parse(&format!("{}{}", request.server, request.target))
            .expect("the server's own URL parses");
        let others: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(others)
            .append_pair("page", &(page + 1).to_string());
        url.to_string()
    });
    Page {
        items: &items[from..to],
        next,
    }
}

/// The page of at most `size` items that `token` starts (none: the first page). The tokens are
/// the fake's own (`off:N`, an offset); one it did not hand out is a bug in the test.
pub fn by_token<'a, T>(items: &'a [T], token: Option<&str>, size: usize) -> Page<'a, T> {
    let from = token
        .filter(|t| !t.is_empty())
        .map(|t| match t.strip_prefix("off:").map(str::parse::<usize>) {
            Some(Ok(n)) => n.min(items.len()),
            _ => panic!("a page token the fake did not hand out: {t:?}"),
        })
        .unwrap_or(0);
    let to = (from + size).min(items.len());
    Page {
        items: &items[from..to],
        next: (to < items.len()).then(|| format!("off:{to}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> TestRequest {
        TestRequest {
            method: "GET".into(),
            target: target.into(),
            headers: Vec::new(),
            server: "http://127.0.0.1:9".into(),
            body: Vec::new(),
        }
    }

    #[test]
    fn numbered_pages_link_to_the_next_keeping_the_other_parameters() {
        let items: Vec<u32> = (1..=5).collect();
        let first = numbered(&request("/l?state=all&per_page=2"), &items, 30);
        assert_eq!(first.items, [1, 2]);
        assert_eq!(
            first.next.as_deref(),
            Some("http://127.0.0.1:9/l?state=all&per_page=2&page=2")
        );
        let last = numbered(&request("/l?per_page=2&page=3"), &items, 30);
        assert_eq!((last.items, last.next), (&[5][..], None));
        let resp = first.link(TestResponse::status(200));
        assert_eq!(
            resp.headers,
            [(
                "Link".to_string(),
                "<http://127.0.0.1:9/l?state=all&per_page=2&page=2>; rel=\"next\"".to_string()
            )]
        );
        let past = numbered(&request("/l?page=9"), &items, 30);
        assert!(past.items.is_empty() && past.next.is_none());
    }

    #[test]
    fn token_pages_walk_the_list_and_end_without_a_token() {
        let items: Vec<u32> = (1..=5).collect();
        let mut token = None;
        let mut seen = Vec::new();
        loop {
            let page = by_token(&items, token.as_deref(), 2);
            seen.extend_from_slice(page.items);
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert_eq!(
            by_token(&items, Some(""), 2).items,
            [1, 2],
            "empty: the start"
        );
    }
}
