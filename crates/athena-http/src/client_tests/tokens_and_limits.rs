//! The client with access tokens that expire (refused, refreshed, asked again), with bodies
//! larger than it reads, and with redirects.

use super::*;

/// Hands out `stale` until it is refused, then `fresh`; counts the refusals.
#[derive(Debug)]
struct Rotating {
    refused: AtomicUsize,
}

#[async_trait::async_trait]
impl crate::oauth::TokenSource for Rotating {
    async fn access_token(&self) -> Result<Secret, crate::HttpError> {
        Ok(Secret::new(if self.refused.load(Ordering::SeqCst) == 0 {
            "stale-token"
        } else {
            "fresh-token"
        }))
    }
    fn reject(&self, token: &Secret) {
        assert_eq!(token.expose(), "stale-token");
        self.refused.fetch_add(1, Ordering::SeqCst);
    }
}

/// The value of a fetched page.
fn value(fetched: Fetched<Value>) -> Value {
    match fetched {
        Fetched::Page(page) => page.value,
        Fetched::NotModified => panic!("a 304"),
    }
}

fn oauth_client(server: &TestServer, source: Arc<dyn crate::oauth::TokenSource>) -> ApiClient {
    let mut c = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    c.token_source = Some(source);
    ApiClient::new(c).unwrap()
}

#[tokio::test]
async fn a_refused_access_token_is_replaced_once_and_the_request_tried_again() {
    let server = TestServer::start(|r| {
        if r.has_bearer("fresh-token") {
            TestResponse::json(200, &json!({"ok": true}))
        } else {
            TestResponse::json(401, &json!({"error": "token stale-token expired"}))
        }
    });
    let source = Arc::new(Rotating {
        refused: AtomicUsize::new(0),
    });
    let client = oauth_client(&server, source.clone());
    let got = value(get(&client, "x").await.unwrap());
    assert_eq!(got["ok"], true);
    assert_eq!(source.refused.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_token_refused_twice_is_an_unauthorized_error_that_does_not_show_it() {
    let server = TestServer::start(|_| {
        TestResponse::json(
            401,
            &json!({"error": "bad token stale-token / fresh-token"}),
        )
    });
    let source = Arc::new(Rotating {
        refused: AtomicUsize::new(0),
    });
    let client = oauth_client(&server, source);
    let err = get(&client, "x").await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unauthorized);
    assert_eq!(server.requests().len(), 2, "asked again exactly once");
    let shown = format!("{err} {}", err.body);
    assert!(!shown.contains("fresh-token"), "{shown}");
}

#[tokio::test]
async fn a_refresh_token_is_exchanged_once_and_its_access_token_cached() {
    let server = TestServer::start(|r| {
        if r.path() == "/token" {
            let form = String::from_utf8_lossy(&r.body).to_string();
            if form.contains("grant_type=refresh_token")
                && form.contains("refresh_token=rt-123")
                && form.contains("client_secret=cs-456")
            {
                return TestResponse::json(
                    200,
                    &json!({"access_token": "at-789", "expires_in": 3600, "token_type": "Bearer"}),
                );
            }
            return TestResponse::json(400, &json!({"error": "invalid_grant", "echo": form}));
        }
        if r.has_bearer("at-789") {
            TestResponse::json(200, &json!({"ok": true}))
        } else {
            TestResponse::status(401)
        }
    });
    let token_uri = Url::parse(&format!("{}/token", server.url())).unwrap();
    let source = crate::oauth::RefreshToken::new(
        "src",
        token_uri.clone(),
        "client-id",
        Secret::new("cs-456"),
        Secret::new("rt-123"),
    );
    let client = oauth_client(&server, Arc::new(source));
    for _ in 0..3 {
        let got = value(get(&client, "x").await.unwrap());
        assert_eq!(got["ok"], true);
    }
    let token_calls = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .count();
    assert_eq!(token_calls, 1, "the access token was not cached");

    // A refused refresh token: an unauthorized error that shows neither secret.
    let bad = crate::oauth::RefreshToken::new(
        "src",
        token_uri,
        "client-id",
        Secret::new("cs-456"),
        Secret::new("rt-revoked"),
    );
    let err = crate::oauth::TokenSource::access_token(&bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unauthorized);
    let shown = format!("{err} {}", err.body);
    assert!(shown.contains("invalid_grant"), "{shown}");
    assert!(
        !shown.contains("cs-456") && !shown.contains("rt-revoked"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_token_answer_that_does_not_parse_shows_no_token() {
    let server = TestServer::start(|_| {
        TestResponse::json(
            200,
            &json!({"access_token": "ya29-fresh-secret", "expires_in": "3600"}),
        )
    });
    let source = crate::oauth::RefreshToken::new(
        "src",
        Url::parse(&format!("{}/token", server.url())).unwrap(),
        "client-id",
        Secret::new("cs-1"),
        Secret::new("rt-1"),
    );
    let err = crate::oauth::TokenSource::access_token(&source)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Decode);
    let shown = format!("{err} {}", err.body);
    assert!(!shown.contains("ya29-fresh-secret"), "{shown}");
    assert!(shown.contains("expires_in"), "names the fields: {shown}");
}

#[tokio::test]
async fn an_echoed_form_is_masked_even_percent_encoded() {
    // Google's refresh tokens and codes hold `/`, which a form carries as `%2F`.
    let server = TestServer::start(|r| {
        let echo = String::from_utf8_lossy(&r.body).to_string();
        TestResponse::text(400, &format!("invalid_grant for {echo}"))
    });
    let source = crate::oauth::RefreshToken::new(
        "src",
        Url::parse(&format!("{}/token", server.url())).unwrap(),
        "client-id",
        Secret::new("cs/with/slashes"),
        Secret::new("1//refresh/token"),
    );
    let err = crate::oauth::TokenSource::access_token(&source)
        .await
        .unwrap_err();
    let shown = format!("{err} {}", err.body);
    assert!(shown.contains("invalid_grant"), "{shown}");
    for secret in [
        "cs%2Fwith%2Fslashes",
        "1%2F%2Frefresh%2Ftoken",
        "cs/with/slashes",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test]
async fn a_token_endpoint_failing_for_a_moment_is_asked_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let server = TestServer::start(move |r| {
        if r.path() == "/token" {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return TestResponse::status(503);
            }
            return TestResponse::json(200, &json!({"access_token": "at-1", "expires_in": 3600}));
        }
        if r.has_bearer("at-1") {
            TestResponse::json(200, &json!({"ok": true}))
        } else {
            TestResponse::status(401)
        }
    });
    let source = crate::oauth::RefreshToken::new(
        "src",
        Url::parse(&format!("{}/token", server.url())).unwrap(),
        "client-id",
        Secret::new("cs-1"),
        Secret::new("rt-1"),
    );
    let mut c = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    c.token_source = Some(Arc::new(source));
    c.retry.initial_delay = Duration::from_millis(10);
    let client = ApiClient::new(c).unwrap();
    let got = value(get(&client, "x").await.unwrap());
    assert_eq!(got["ok"], true);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// [`client`] reading bodies of at most `limit` bytes.
fn bounded(server: &TestServer, limit: u64) -> ApiClient {
    let mut c = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    c.authorization = Some(Secret::new(format!("Bearer {TOKEN}")));
    c.retry.initial_delay = Duration::from_millis(10);
    c.max_response_bytes = limit;
    ApiClient::new(c).unwrap()
}

/// A JSON array of `len` bytes exactly.
fn json_of_len(len: usize) -> String {
    let mut s = String::from("[\"");
    s.push_str(&"x".repeat(len - 4));
    s.push_str("\"]");
    assert_eq!(s.len(), len);
    s
}

#[tokio::test]
async fn a_body_larger_than_max_response_bytes_fails_instead_of_being_read_whole() {
    let body = json_of_len(4097);
    let server = TestServer::start(move |_| {
        TestResponse::text(200, &body).header("Content-Type", "application/json")
    });
    let c = bounded(&server, 4096);
    let e = get(&c, "big?token=s3cret").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::TooLarge);
    let text = e.to_string();
    for part in [
        "GET http://127.0.0.1:",
        "/big?token=***",
        "larger than 4096 bytes",
        "source src",
        "max_response_bytes",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(
        server.requests().len(),
        1,
        "the same body is not asked again"
    );
    // One byte under: read.
    let body = json_of_len(4095);
    let server = TestServer::start(move |_| TestResponse::text(200, &body));
    let got = value(get(&bounded(&server, 4096), "ok").await.unwrap());
    assert_eq!(got[0].as_str().unwrap().len(), 4091);
}

/// A server that answers once with `body` and no `Content-Length` (the body ends when the
/// connection closes), as a streaming upstream does; its URL.
fn unannounced(body: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        // Written in pieces, so the client sees it arrive chunk by chunk.
        for piece in body.chunks(1000) {
            if conn.write_all(piece).is_err() {
                return;
            }
        }
    });
    url
}

#[tokio::test]
async fn a_body_without_content_length_is_cut_off_at_max_response_bytes() {
    let url = unannounced(json_of_len(64 * 1024).into_bytes());
    let mut c = ClientConfig::new("src", Url::parse(&url).unwrap());
    c.max_response_bytes = 10_000;
    c.retry.max_retries = 0;
    let c = ApiClient::new(c).unwrap();
    let e = get(&c, "stream").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::TooLarge, "{e}");
    assert!(e.to_string().contains("larger than 10000 bytes"), "{e}");
    // Under the bound, the same kind of answer is read whole.
    let url = unannounced(json_of_len(9_000).into_bytes());
    let mut c = ClientConfig::new("src", Url::parse(&url).unwrap());
    c.max_response_bytes = 10_000;
    let got = value(get(&ApiClient::new(c).unwrap(), "stream").await.unwrap());
    assert_eq!(got[0].as_str().unwrap().len(), 8_996);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_that_host_gets_nothing() {
    let other = TestServer::start(|_| TestResponse::json(200, &json!(["not ours"])));
    let to = format!("{}/stolen?page=1", other.url());
    let server = TestServer::start(move |_| TestResponse::status(302).header("Location", &to));
    for header in ["authorization", "circle-token"] {
        let mut c = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
        c.authorization = Some(Secret::new(TOKEN));
        c.authorization_header = header;
        let c = ApiClient::new(c).unwrap();
        let e = get(&c, "items").await.unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Client, "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("redirected to {}/stolen", other.url()))
                && text.contains("another host"),
            "{text}"
        );
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert!(
        other.requests().is_empty(),
        "the other host was asked: {:?}",
        other.requests()
    );
    assert_eq!(server.requests().len(), 2, "not retried");
}

#[tokio::test]
async fn a_redirect_within_the_api_s_host_is_followed_with_the_credentials() {
    let server = TestServer::start(|r| match r.path() {
        "/old" => TestResponse::status(301).header("Location", "/new"),
        _ if r.has_bearer(TOKEN) => TestResponse::json(200, &json!([r.path()])),
        _ => TestResponse::status(401),
    });
    let got = value(get(&client(&server), "old").await.unwrap());
    assert_eq!(got, json!(["/new"]));
}
