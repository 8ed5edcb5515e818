//! The client against the test server: paging, ETags, retries, rate limits, failures.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use athena_core::{HttpStatus, Secret};
use serde_json::{json, Value};

use crate::testing::{TestRequest, TestResponse, TestServer};
use crate::{ApiClient, BodyVerdict, ClientConfig, Fetched, HttpErrorKind, RetryPolicy, Url};

/// Access tokens that expire, response size limits and redirects.
mod tokens_and_limits;
/// A host that cannot be reached: few quick retries, then nothing more sent in the run.
mod unreachable;

const TOKEN: &str = "ghp_secret_token_value";

fn client(server: &TestServer) -> ApiClient {
    let mut c = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    c.authorization = Some(Secret::new(format!("Bearer {TOKEN}")));
    c.retry = RetryPolicy {
        max_retries: 4,
        max_elapsed: Duration::from_secs(10),
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    };
    c.max_wait = Duration::from_secs(5);
    ApiClient::new(c).unwrap()
}

/// [`client`] that shows a GET's 4xx bodies to the body check (`judge_client_errors`).
fn judging(server: &TestServer) -> ApiClient {
    let mut c = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    c.authorization = Some(Secret::new(format!("Bearer {TOKEN}")));
    c.judge_client_errors = true;
    ApiClient::new(c).unwrap()
}

/// Answers the first `n` requests with `first`, then with `then`.
fn sequence(
    n: usize,
    first: impl Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    then: impl Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
) -> TestServer {
    let seen = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |r| {
        if seen.fetch_add(1, Ordering::SeqCst) < n {
            first(r)
        } else {
            then(r)
        }
    })
}

fn ok(_: &TestRequest) -> TestResponse {
    TestResponse::json(200, &json!([1, 2, 3]))
}

async fn get(client: &ApiClient, path: &str) -> Result<Fetched<Value>, crate::HttpError> {
    client.get_json(&client.url(path).unwrap(), None).await
}

#[tokio::test]
async fn pages_follow_absolute_next_links_and_a_304_answers_a_known_etag() {
    let server = TestServer::start(|r| {
        let page: u32 = r.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let tag = format!("\"p{page}\"");
        if r.header("if-none-match") == Some(tag.as_str()) {
            return TestResponse::status(304);
        }
        let mut resp = TestResponse::json(200, &json!([page])).header("ETag", &tag);
        if page < 3 {
            let next = format!("{}/items?page={}", r.server, page + 1);
            resp = resp.header("Link", &format!("<{next}>; rel=\"next\""));
        }
        resp
    });
    let c = client(&server);
    let mut url = c.url("items").unwrap();
    let mut got = Vec::new();
    let mut first_etag = None;
    loop {
        let Fetched::Page(p) = c.get_json::<Vec<u32>>(&url, None).await.unwrap() else {
            panic!("no 304 without an etag");
        };
        got.extend(p.value);
        first_etag.get_or_insert(p.etag.clone());
        match p.next {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(got, [1, 2, 3]);
    let tag = first_etag.unwrap().unwrap();
    let again = c
        .get_json::<Vec<u32>>(&c.url("items").unwrap(), Some(&tag))
        .await
        .unwrap();
    assert!(matches!(again, Fetched::NotModified));
    let stats = c.stats();
    assert_eq!(
        (stats.requests(), stats.not_modified(), stats.retries()),
        (4, 1, 0)
    );
    let requests = server.requests();
    assert!(requests
        .iter()
        .all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}")[..])));
    assert!(requests[0]
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("athena-ingest/")));
}

#[tokio::test]
async fn a_burst_of_502_is_retried_until_it_passes() {
    let server = sequence(
        3,
        |_| TestResponse::text(502, "<html>Bad Gateway</html>"),
        ok,
    );
    let c = client(&server);
    assert!(matches!(get(&c, "x").await.unwrap(), Fetched::Page(_)));
    assert_eq!((c.stats().requests(), c.stats().retries()), (4, 3));
    let responses: Vec<_> = c.stats().responses().into_iter().collect();
    assert_eq!(
        responses,
        [(HttpStatus::Code(200), 1), (HttpStatus::Code(502), 3)],
        "each attempt counted under its status"
    );
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_names_url_status_and_body() {
    let server = TestServer::start(|_| TestResponse::text(500, "database on fire"));
    let c = client(&server);
    let e = get(&c, "x?page=2").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Server);
    assert_eq!(server.requests().len(), 5, "one attempt and 4 retries");
    let text = e.to_string();
    for part in [
        "GET",
        "/x?page=2",
        "HTTP 500",
        "database on fire",
        "4 retries",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn a_503_asking_for_longer_than_the_retries_may_take_fails_with_the_wait_it_asked_for() {
    let server =
        TestServer::start(|_| TestResponse::text(503, "maintenance").header("Retry-After", "100"));
    let c = client(&server);
    let e = get(&c, "x").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Server);
    assert_eq!(
        server.requests().len(),
        1,
        "100 s is past the retries' 10 s"
    );
    assert_eq!(e.retry_after, Some(Duration::from_secs(100)));
}

#[tokio::test]
async fn a_malformed_body_is_retried_then_fails_naming_the_url() {
    let server = sequence(1, |_| TestResponse::text(200, "[1, 2"), ok);
    let c = client(&server);
    assert!(matches!(get(&c, "x").await.unwrap(), Fetched::Page(_)));
    assert_eq!(c.stats().retries(), 1);

    let server = TestServer::start(|_| TestResponse::text(200, "{\"oops\": "));
    let c = client(&server);
    let e = get(&c, "broken").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Decode);
    assert!(e.to_string().contains("/broken"), "{e}");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for (status, kind) in [
        (401, HttpErrorKind::Unauthorized),
        (404, HttpErrorKind::NotFound),
        (400, HttpErrorKind::Client),
        (403, HttpErrorKind::Forbidden),
    ] {
        let server = TestServer::start(move |_| {
            TestResponse::json(status, &json!({"message": "Bad credentials"}))
        });
        let c = client(&server);
        let e = get(&c, "x").await.unwrap_err();
        assert_eq!(e.kind, kind, "{status}");
        assert_eq!(e.status, Some(status));
        assert_eq!(server.requests().len(), 1, "{status} was retried");
        assert!(e.to_string().contains("Bad credentials"));
    }
}

#[tokio::test]
async fn a_body_echoing_the_token_is_masked_in_the_error() {
    // Some servers quote the request's credentials back; raw, percent-encoded, as the header.
    for (status, kind) in [
        (401, HttpErrorKind::Unauthorized),
        (500, HttpErrorKind::Server),
    ] {
        let server = TestServer::start(move |r| {
            let echo = r.header("authorization").unwrap_or("").to_string();
            let body = format!(
                "bad token {TOKEN}; sent {echo:?}; query token=ghp%5Fsecret%5Ftoken%5Fvalue"
            );
            TestResponse::text(status, &body)
        });
        let c = client(&server);
        let e = get(&c, "x").await.unwrap_err();
        assert_eq!(e.kind, kind);
        let text = e.to_string();
        assert!(text.contains("bad token ***"), "{text}");
        assert!(!text.contains(TOKEN) && !text.contains("ghp"), "{text}");
    }
}

#[tokio::test]
async fn retry_after_on_429_is_waited_for_then_the_request_passes() {
    let server = sequence(
        1,
        |_| TestResponse::status(429).header("Retry-After", "1"),
        ok,
    );
    let c = client(&server);
    let start = Instant::now();
    assert!(matches!(get(&c, "x").await.unwrap(), Fetched::Page(_)));
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "Retry-After not honoured"
    );
    assert_eq!(c.stats().rate_limit_waits(), 1);
    assert_eq!(c.stats().retries(), 0, "a rate-limit wait is not a retry");
    let responses: Vec<_> = c.stats().responses().into_iter().collect();
    assert_eq!(
        responses,
        [(HttpStatus::Code(200), 1), (HttpStatus::Code(429), 1)]
    );
}

fn epoch_in(secs: u64) -> String {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs)
        .to_string()
}

#[tokio::test]
async fn a_spent_rate_limit_waits_for_its_reset() {
    let server = sequence(
        1,
        |_| {
            TestResponse::json(403, &json!({"message": "API rate limit exceeded"}))
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", &epoch_in(1))
        },
        ok,
    );
    let c = client(&server);
    let start = Instant::now();
    assert!(matches!(get(&c, "x").await.unwrap(), Fetched::Page(_)));
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(c.stats().rate_limit_waits(), 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_reset_beyond_max_wait_fails_at_once_with_a_clear_error() {
    let server = TestServer::start(|_| {
        TestResponse::json(403, &json!({"message": "API rate limit exceeded"}))
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", &epoch_in(3600))
    });
    let c = client(&server);
    let start = Instant::now();
    let e = get(&c, "x").await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(e.kind, HttpErrorKind::RateLimited);
    assert!(e.to_string().contains("rate limit spent"), "{e}");
    assert_eq!(server.requests().len(), 1);
    // The reset the headers named, kept typed for the caller (a second of slack either way).
    let wait = e.retry_after.expect("the wait is known");
    assert!(
        wait > Duration::from_secs(3590) && wait <= Duration::from_secs(3601),
        "{wait:?}"
    );
}

#[tokio::test]
async fn a_spent_budget_on_a_success_delays_the_next_request() {
    let server = sequence(
        1,
        |_| {
            ok(&TestRequest {
                method: String::new(),
                target: String::new(),
                headers: Vec::new(),
                server: String::new(),
                body: Vec::new(),
            })
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", &epoch_in(1))
        },
        ok,
    );
    let c = client(&server);
    get(&c, "a").await.unwrap();
    let start = Instant::now();
    get(&c, "b").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(c.stats().rate_limit_waits(), 1);
}

#[tokio::test]
async fn requests_per_second_spaces_requests() {
    let server = TestServer::start(ok);
    let mut cfg = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    cfg.requests_per_second = NonZeroU32::new(20);
    let c = ApiClient::new(cfg).unwrap();
    let start = Instant::now();
    for _ in 0..5 {
        get(&c, "x").await.unwrap();
    }
    // Five requests at 20/s: at least four gaps of 50 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(195),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_is_unreachable_after_retries() {
    let url = {
        let server = TestServer::start(ok);
        server.url()
    };
    let mut cfg = ClientConfig::new("src", Url::parse(&url).unwrap());
    cfg.retry.initial_delay = Duration::from_millis(5);
    cfg.retry.max_retries = 2;
    let c = ApiClient::new(cfg).unwrap();
    let e = get(&c, "x").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Unreachable);
    assert_eq!(c.stats().retries(), 2);
}

#[tokio::test]
async fn a_request_that_times_out_is_retried() {
    let server = sequence(
        1,
        |_| {
            std::thread::sleep(Duration::from_millis(600));
            ok(&TestRequest {
                method: String::new(),
                target: String::new(),
                headers: Vec::new(),
                server: String::new(),
                body: Vec::new(),
            })
        },
        ok,
    );
    let mut cfg = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    cfg.timeout = Duration::from_millis(200);
    cfg.retry.initial_delay = Duration::from_millis(5);
    let c = ApiClient::new(cfg).unwrap();
    assert!(matches!(get(&c, "x").await.unwrap(), Fetched::Page(_)));
    assert_eq!((c.stats().requests(), c.stats().retries()), (2, 1));
    let responses: Vec<_> = c.stats().responses().into_iter().collect();
    assert_eq!(
        responses,
        [(HttpStatus::Code(200), 1), (HttpStatus::Error, 1)],
        "a timeout is counted as an error"
    );
}

#[tokio::test]
async fn errors_inside_a_200_are_judged_by_the_caller() {
    use crate::BodyVerdict;
    let server = sequence(
        2,
        |_| {
            TestResponse::json(200, &json!({"ok": false, "error": "ratelimited"}))
                .header("Retry-After", "1")
        },
        |r| {
            if r.query("channel").as_deref() == Some("C2") {
                TestResponse::json(200, &json!({"ok": false, "error": "not_in_channel"}))
            } else {
                TestResponse::json(200, &json!({"ok": true, "messages": []}))
            }
        },
    );
    let c = client(&server);
    let check = |v: &Value, _: &crate::HeaderMap| match v["error"].as_str() {
        None => BodyVerdict::Accept,
        Some("ratelimited") => BodyVerdict::Wait(Duration::from_secs(30)),
        Some(e) => BodyVerdict::Fail(HttpErrorKind::Api, e.to_string()),
    };
    let start = Instant::now();
    let url = c.url("conversations.history?channel=C1").unwrap();
    assert!(matches!(
        c.get_checked(&url, None, &check).await.unwrap(),
        Fetched::Page(_)
    ));
    // Retry-After (1 s) wins over the caller's default (30 s), twice.
    assert!(start.elapsed() >= Duration::from_millis(1900));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(c.stats().rate_limit_waits(), 2);
    let url = c.url("conversations.history?channel=C2").unwrap();
    let e = c.get_checked(&url, None, &check).await.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (HttpErrorKind::Api, "not_in_channel")
    );
}

#[tokio::test]
async fn a_get_s_4xx_body_is_judged_when_asked_so_a_reason_only_rate_limit_waits_briefly() {
    use crate::BodyVerdict;
    // Google's 403: no Retry-After, no "rate limit" in words, only the reason says it.
    let server = sequence(
        1,
        |_| {
            TestResponse::json(
                403,
                &json!({"error": {"code": 403, "errors": [{"reason": "rateLimitExceeded"}]}}),
            )
        },
        |_| TestResponse::json(200, &json!({"ok": true})),
    );
    let c = judging(&server);
    let check = |v: &Value, _: &crate::HeaderMap| {
        if v.pointer("/error/errors/0/reason").and_then(Value::as_str) == Some("rateLimitExceeded")
        {
            BodyVerdict::Wait(Duration::from_millis(10))
        } else {
            BodyVerdict::Accept
        }
    };
    let start = Instant::now();
    let url = c.url("users/me/profile").unwrap();
    assert!(matches!(
        c.get_checked(&url, None, &check).await.unwrap(),
        Fetched::Page(_)
    ));
    assert_eq!(c.stats().rate_limit_waits(), 1);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "not the 60 s default"
    );
    // Accepted, a 403 is left to its status: forbidden.
    let server = sequence(
        1,
        |_| TestResponse::json(403, &json!({"error": {"code": 403}})),
        |_| TestResponse::json(200, &json!({})),
    );
    let c = judging(&server);
    let url = c.url("users/me/profile").unwrap();
    let e = c.get_checked(&url, None, &check).await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Forbidden);
}

#[tokio::test]
async fn a_next_link_to_another_host_gets_no_credentials() {
    let server = TestServer::start(ok);
    let c = client(&server);
    let elsewhere = Url::parse("http://198.51.100.7:9/steal?page=2").unwrap();
    let e = c.get_json::<Value>(&elsewhere, None).await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Request);
    assert!(e.to_string().contains("another host"), "{e}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn retry_after_zero_waits_a_second_instead_of_spinning() {
    let server = sequence(
        1,
        |_| TestResponse::status(429).header("Retry-After", "0"),
        ok,
    );
    let c = client(&server);
    let start = Instant::now();
    assert!(matches!(get(&c, "x").await.unwrap(), Fetched::Page(_)));
    assert!(start.elapsed() >= Duration::from_millis(950));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_503_with_retry_after_is_a_bounded_retry() {
    let server = TestServer::start(|_| TestResponse::status(503).header("Retry-After", "0"));
    let c = client(&server);
    let e = get(&c, "x").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Server);
    assert_eq!(
        server.requests().len(),
        5,
        "one attempt and max_retries (4) retries"
    );
}

#[tokio::test]
async fn a_post_sends_its_json_body_and_a_4xx_body_is_judged_before_its_status() {
    // A GraphQL server: the first answer refuses the query in a 400 body (wait), the second
    // answers it; the body and the method are what the test server received.
    let server = sequence(
        1,
        |_| TestResponse::json(400, &json!({"errors": [{"code": "LIMITED"}]})),
        |r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            TestResponse::json(200, &json!({"method": r.method, "echo": body}))
        },
    );
    let client = client(&server);
    let url = client.url("graphql").unwrap();
    let check = |v: &Value, _: &crate::HeaderMap| {
        if v.get("errors").is_some() {
            BodyVerdict::Wait(Duration::from_millis(10))
        } else {
            BodyVerdict::Accept
        }
    };
    let page = client
        .post_checked::<Value>(&url, &json!({"query": "{ viewer { id } }"}), &check)
        .await
        .unwrap();
    assert_eq!(page.value["method"], "POST");
    assert_eq!(page.value["echo"]["query"], "{ viewer { id } }");
    assert_eq!(client.stats().rate_limit_waits(), 1);
    let req = &server.requests()[1];
    assert_eq!(req.header("content-type"), Some("application/json"));

    // A 400 the check accepts is left to its status: a client error, not retried, named POST.
    let server = TestServer::start(|_| TestResponse::json(400, &json!({"errors": []})));
    let client = self::client(&server);
    let url = client.url("graphql").unwrap();
    let accept = |_: &Value, _: &crate::HeaderMap| BodyVerdict::Accept;
    let err = client
        .post_checked::<Value>(&url, &json!({}), &accept)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Client);
    assert!(err.to_string().starts_with("POST "), "{err}");
    assert_eq!(server.requests().len(), 1);
}
