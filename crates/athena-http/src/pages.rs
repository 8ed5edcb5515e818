//! [`Pages`]: where the next page of a list is, whichever way an API says it, with one guard
//! against paging loops for all of them.
//!
//! A source reads a page, hands it to [`Pages::next`], and asks for the URL it gets back until
//! there is none. A server that sends a page back to an earlier one (a repeated cursor, a `Link`
//! to a page already read) is a [`HttpErrorKind::Api`] error naming the URL, never an endless
//! sync.

use std::collections::HashSet;

use serde_json::Value;
use url::Url;

use crate::error::{HttpError, HttpErrorKind};
use crate::link;

/// How an API says where the next page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Paging {
    /// The `Link` header's `rel="next"` (GitHub, and RFC 8288 APIs).
    Link,
    /// A token in the body at `pointer`, sent back as the query parameter `param`: Slack's
    /// `/response_metadata/next_cursor` as `cursor`, Jira's `/nextPageToken` as
    /// `nextPageToken`, CircleCI's `/next_page_token` as `page-token`, Google's
    /// `/nextPageToken` as `pageToken` ([`Paging::GOOGLE`]). A list read on from a stored
    /// token starts at a first URL that carries it; the token replaces it page after page.
    BodyToken {
        /// JSON pointer to the token.
        pointer: &'static str,
        /// The query parameter that carries it back.
        param: &'static str,
    },
    /// A page number in the query parameter `param` (from the first URL's, else 1), until a
    /// page comes back empty or shorter than the first one. The first page sets the size: a
    /// server may serve fewer than asked for, so a short first page costs one more request
    /// rather than losing the rest of the list.
    PageNumber {
        /// The query parameter.
        param: &'static str,
    },
    /// An item offset in the query parameter `param` (from the first URL's, else 0), moved on
    /// by the items each page lists, until the body says `isLast`, its `total` is reached, or
    /// a page comes back empty: Atlassian's `startAt`. A body that names another offset than
    /// the one asked for (a server ignoring `param`) is an error, not an endless list.
    Offset {
        /// The query parameter, and the body's field that echoes it.
        param: &'static str,
    },
    /// GraphQL's `pageInfo { hasNextPage endCursor }` at `pointer`: the next request is the same
    /// query with `after` set to the cursor ([`Pages::next_cursor`]).
    GraphQl {
        /// JSON pointer to the `pageInfo` object.
        page_info: &'static str,
    },
}

impl Paging {
    /// Google's APIs (Gmail, Calendar): `nextPageToken` sent back as `pageToken`. The last
    /// page of a Calendar listing carries `nextSyncToken` instead, which the source keeps.
    pub const GOOGLE: Paging = Paging::BodyToken {
        pointer: "/nextPageToken",
        param: "pageToken",
    };
}

/// What a source learnt from the page it just read.
#[derive(Debug, Clone, Copy)]
pub struct PageRead<'a> {
    /// The page's URL.
    pub url: &'a Url,
    /// Its `Link` header's `rel="next"`, resolved (see [`Fetched`](crate::Fetched)).
    pub link: Option<&'a Url>,
    /// Its body.
    pub body: &'a Value,
    /// How many items it listed.
    pub items: usize,
}

/// The pages of one list, as they are read.
#[derive(Debug, Clone)]
pub struct Pages {
    paging: Paging,
    first: Url,
    /// Every page asked for (URLs), or every cursor given (GraphQL).
    seen: HashSet<String>,
    number: u64,
    /// The page number of the next request, for [`Paging::PageNumber`]; the offset of the
    /// page being read, for [`Paging::Offset`].
    page: u64,
    /// Items on the first page, for [`Paging::PageNumber`].
    page_size: Option<usize>,
}

impl Pages {
    /// A list whose first page is `first`.
    pub fn new(paging: Paging, first: Url) -> Self {
        let mut seen = HashSet::new();
        seen.insert(first.to_string());
        let given = |param: &str| {
            first
                .query_pairs()
                .find(|(k, _)| k == param)
                .and_then(|(_, v)| v.parse().ok())
        };
        let page = match paging {
            Paging::PageNumber { param } => given(param).unwrap_or(1),
            Paging::Offset { param } => given(param).unwrap_or(0),
            _ => 1,
        };
        Pages {
            paging,
            first,
            seen,
            number: 1,
            page,
            page_size: None,
        }
    }

    /// How many pages have been asked for, the first included.
    pub fn count(&self) -> u64 {
        self.number
    }

    /// The next page's URL after `page`, `None` after the last one, or an error when it would
    /// be a page already read.
    pub fn next(&mut self, page: PageRead<'_>) -> Result<Option<Url>, HttpError> {
        let next = match self.paging {
            Paging::Link => page.link.cloned(),
            Paging::BodyToken { pointer, param } => link::body_cursor(page.body, pointer)
                .map(|token| link::with_query(&self.first, param, &token)),
            Paging::PageNumber { param } => {
                let size = *self.page_size.get_or_insert(page.items);
                (page.items > 0 && page.items >= size).then(|| {
                    self.page += 1;
                    link::with_query(&self.first, param, &self.page.to_string())
                })
            }
            Paging::Offset { param } => self.offset(param, &page)?,
            Paging::GraphQl { .. } => None,
        };
        let Some(next) = next else {
            return Ok(None);
        };
        if !self.seen.insert(next.to_string()) {
            return Err(looping(page.url));
        }
        self.number += 1;
        Ok(Some(next))
    }

    /// For [`Paging::Offset`]: the next page's URL, `None` after the last one.
    fn offset(&mut self, param: &str, page: &PageRead<'_>) -> Result<Option<Url>, HttpError> {
        let at = self.page;
        let said = page.body.get(param).and_then(Value::as_u64);
        if said.is_some_and(|s| s != at) {
            let message = format!("asked for {param}={at}, got another page");
            return Err(HttpError::answer(
                HttpErrorKind::Api,
                "GET",
                page.url,
                message,
            ));
        }
        let next = at + page.items as u64;
        let total = page.body.get("total").and_then(Value::as_u64);
        let last = page.body.get("isLast").and_then(Value::as_bool) == Some(true)
            || total.is_some_and(|t| next >= t)
            || page.items == 0;
        if last {
            return Ok(None);
        }
        self.page = next;
        Ok(Some(link::with_query(
            &self.first,
            param,
            &next.to_string(),
        )))
    }

    /// For [`Paging::GraphQl`]: the `after` cursor of the next page, `None` after the last one,
    /// or an error when the cursor was given before.
    pub fn next_cursor(&mut self, url: &Url, body: &Value) -> Result<Option<String>, HttpError> {
        let Paging::GraphQl { page_info } = self.paging else {
            return Ok(None);
        };
        let info = body.pointer(page_info);
        let more = info
            .and_then(|i| i.get("hasNextPage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let cursor = info
            .and_then(|i| i.get("endCursor"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty());
        match (more, cursor) {
            (true, Some(c)) if !self.seen.insert(format!("cursor:{c}")) => Err(looping(url)),
            (true, Some(c)) => {
                self.number += 1;
                Ok(Some(c.to_string()))
            }
            (true, None) => Err(HttpError::answer(
                HttpErrorKind::Api,
                "POST",
                url,
                "pageInfo says there is a next page but gives no endCursor",
            )),
            (false, _) => Ok(None),
        }
    }
}

fn looping(url: &Url) -> HttpError {
    HttpError::answer(
        HttpErrorKind::Api,
        "GET",
        url,
        "the next page is one already read (a paging loop)",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn page<'a>(
        url: &'a Url,
        link: Option<&'a Url>,
        body: &'a Value,
        items: usize,
    ) -> PageRead<'a> {
        PageRead {
            url,
            link,
            body,
            items,
        }
    }

    #[test]
    fn link_headers_are_followed_and_a_link_back_is_a_loop() {
        let first = url("https://api.example/items?per_page=2");
        let second = url("https://api.example/items?per_page=2&page=2");
        let mut pages = Pages::new(Paging::Link, first.clone());
        let none = Value::Null;
        assert_eq!(
            pages.next(page(&first, Some(&second), &none, 2)).unwrap(),
            Some(second.clone())
        );
        let err = pages
            .next(page(&second, Some(&first), &none, 2))
            .unwrap_err();
        assert!(err.to_string().contains("paging loop"), "{err}");
        assert!(err.to_string().contains("page=2"), "{err}");
        let mut pages = Pages::new(Paging::Link, first.clone());
        assert_eq!(pages.next(page(&first, None, &none, 2)).unwrap(), None);
    }

    #[test]
    fn body_tokens_go_back_in_the_query_and_a_repeated_token_is_a_loop() {
        let first = url("https://slack.example/api/conversations.list?limit=2");
        let paging = Paging::BodyToken {
            pointer: "/response_metadata/next_cursor",
            param: "cursor",
        };
        let mut pages = Pages::new(paging, first.clone());
        let body = json!({"response_metadata": {"next_cursor": "abc"}});
        let next = pages.next(page(&first, None, &body, 2)).unwrap().unwrap();
        assert_eq!(
            next.as_str(),
            "https://slack.example/api/conversations.list?limit=2&cursor=abc"
        );
        assert!(pages.next(page(&next, None, &body, 2)).is_err());
        let last = json!({"response_metadata": {"next_cursor": ""}});
        let mut pages = Pages::new(paging, first.clone());
        assert_eq!(pages.next(page(&first, None, &last, 2)).unwrap(), None);
    }

    #[test]
    fn page_numbers_count_up_until_a_short_page() {
        let first = url("https://api.example/runs?size=2");
        let paging = Paging::PageNumber { param: "page" };
        let mut pages = Pages::new(paging, first.clone());
        let none = Value::Null;
        let two = pages.next(page(&first, None, &none, 2)).unwrap().unwrap();
        assert_eq!(two.as_str(), "https://api.example/runs?size=2&page=2");
        let three = pages.next(page(&two, None, &none, 2)).unwrap().unwrap();
        assert_eq!(three.as_str(), "https://api.example/runs?size=2&page=3");
        assert_eq!(pages.next(page(&three, None, &none, 1)).unwrap(), None);
        assert_eq!(pages.count(), 3);
    }

    #[test]
    fn a_server_serving_fewer_than_asked_is_paged_to_its_end() {
        // Asked for 200 a page, the server serves 100: the first page sets the size.
        let first = url("https://api.example/runs?per_page=200&page=3");
        let mut pages = Pages::new(Paging::PageNumber { param: "page" }, first.clone());
        let none = Value::Null;
        let four = pages.next(page(&first, None, &none, 100)).unwrap().unwrap();
        assert_eq!(
            four.query_pairs().find(|(k, _)| k == "page").unwrap().1,
            "4"
        );
        let five = pages.next(page(&four, None, &none, 100)).unwrap().unwrap();
        assert_eq!(pages.next(page(&five, None, &none, 0)).unwrap(), None);
    }

    #[test]
    fn offsets_move_by_the_items_read_until_is_last_or_total() {
        let first = url("https://jira.example/rest/api/3/issue/1/comment?maxResults=2");
        let paging = Paging::Offset { param: "startAt" };
        let mut pages = Pages::new(paging, first.clone());
        let body = json!({"startAt": 0, "total": 5});
        let two = pages.next(page(&first, None, &body, 2)).unwrap().unwrap();
        assert_eq!(
            two.query_pairs().find(|(k, _)| k == "startAt").unwrap().1,
            "2"
        );
        let body = json!({"startAt": 2, "total": 5});
        let four = pages.next(page(&two, None, &body, 2)).unwrap().unwrap();
        let body = json!({"startAt": 4, "total": 5});
        assert_eq!(pages.next(page(&four, None, &body, 1)).unwrap(), None);
        let mut pages = Pages::new(paging, first.clone());
        let last = json!({"startAt": 0, "isLast": true});
        assert_eq!(pages.next(page(&first, None, &last, 2)).unwrap(), None);
    }

    #[test]
    fn an_offset_the_server_ignored_is_an_error_not_an_endless_list() {
        let first = url("https://jira.example/rest/api/3/issue/1/changelog?maxResults=2");
        let mut pages = Pages::new(Paging::Offset { param: "startAt" }, first.clone());
        let body = json!({"startAt": 0, "total": 9});
        let next = pages.next(page(&first, None, &body, 2)).unwrap().unwrap();
        let err = pages.next(page(&next, None, &body, 2)).unwrap_err();
        assert!(err.to_string().contains("asked for startAt=2"), "{err}");
    }

    #[test]
    fn a_google_list_resumed_from_a_stored_token_replaces_it() {
        let first = url("https://www.googleapis.example/calendar/v3/calendars/c/events?maxResults=2&pageToken=t1");
        let mut pages = Pages::new(Paging::GOOGLE, first.clone());
        let body = json!({"nextPageToken": "t2"});
        let next = pages.next(page(&first, None, &body, 2)).unwrap().unwrap();
        let tokens: Vec<_> = next
            .query_pairs()
            .filter(|(k, _)| k == "pageToken")
            .collect();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].1, "t2");
        let end = json!({"nextSyncToken": "s"});
        assert_eq!(pages.next(page(&next, None, &end, 0)).unwrap(), None);
    }

    #[test]
    fn graphql_page_info_gives_cursors_until_has_next_page_is_false() {
        let endpoint = url("https://api.linear.example/graphql");
        let mut pages = Pages::new(
            Paging::GraphQl {
                page_info: "/data/issues/pageInfo",
            },
            endpoint.clone(),
        );
        let more =
            json!({"data": {"issues": {"pageInfo": {"hasNextPage": true, "endCursor": "c1"}}}});
        assert_eq!(
            pages.next_cursor(&endpoint, &more).unwrap().as_deref(),
            Some("c1")
        );
        assert!(
            pages.next_cursor(&endpoint, &more).is_err(),
            "c1 again is a loop"
        );
        let done =
            json!({"data": {"issues": {"pageInfo": {"hasNextPage": false, "endCursor": "c2"}}}});
        assert_eq!(pages.next_cursor(&endpoint, &done).unwrap(), None);
        let broken = json!({"data": {"issues": {"pageInfo": {"hasNextPage": true}}}});
        assert!(pages.next_cursor(&endpoint, &broken).is_err());
    }
}
