//! Conditional requests as APIs answer them: a response carries an `ETag` derived from its
//! body, and a request naming that tag in `If-None-Match` gets `304 Not Modified` instead.

use super::server::{TestRequest, TestResponse};

/// A weak ETag of a body: the same body, the same tag, whatever the process or the run (a
/// test may pin a cursor holding it).
pub fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", blake3::hash(body).to_hex())
}

/// `response` with its ETag; or, when the request's `If-None-Match` names that tag, a 304
/// with the tag and no body.
pub fn answer(request: &TestRequest, response: TestResponse) -> TestResponse {
    let tag = etag(&response.body);
    if request.header("if-none-match") == Some(tag.as_str()) {
        return TestResponse::status(304).header("ETag", &tag);
    }
    response.header("ETag", &tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_sent_back_is_answered_304_and_any_other_gets_the_body() {
        let body = TestResponse::text(200, "[1,2]");
        let ask = |if_none_match: &str| TestRequest {
            method: "GET".into(),
            target: "/l".into(),
            headers: vec![("if-none-match".into(), if_none_match.into())],
            server: "http://127.0.0.1:9".into(),
            body: Vec::new(),
        };
        let first = answer(&ask("W/\"old\""), body.clone());
        assert_eq!(first.status, 200);
        let tag = &first.headers.last().unwrap().1;
        assert_eq!(tag, &etag(b"[1,2]"));
        let again = answer(&ask(tag), body);
        assert_eq!((again.status, again.body.len()), (304, 0));
    }
}
