//! A host that cannot be reached at all is retried twice, quickly, and then not asked again in
//! the run; a 5xx keeps the policy's retries and backoff.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::get;
use crate::client::retry::{retries_for, retry_delay};
use crate::testing::TestServer;
use crate::{ApiClient, ClientConfig, HttpErrorKind, RetryPolicy, Url};

/// A local address where nothing listens: bound, then let go.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/")
}

#[test]
fn a_connect_error_gets_at_most_two_short_retries_while_5xx_keeps_the_policy() {
    let policy = RetryPolicy::default();
    assert_eq!(retries_for(&policy, HttpErrorKind::Unreachable), 2);
    assert_eq!(retries_for(&policy, HttpErrorKind::Server), 5);
    assert_eq!(retries_for(&policy, HttpErrorKind::Network), 5);
    let fewer = RetryPolicy {
        max_retries: 1,
        ..policy
    };
    assert_eq!(retries_for(&fewer, HttpErrorKind::Unreachable), 1);
    for _ in 0..50 {
        for n in 1..=10 {
            let d = retry_delay(&policy, HttpErrorKind::Unreachable, n);
            assert!(d <= Duration::from_secs(1), "retry {n}: {d:?}");
        }
        // The 5th retry of a 5xx: 500 ms doubled four times, jittered down to half at most.
        let d = retry_delay(&policy, HttpErrorKind::Server, 5);
        assert!(
            d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
            "{d:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_api_fails_fast_and_is_not_asked_again_until_a_new_run() {
    let mut cfg = ClientConfig::new("src", Url::parse(&closed_port_url()).unwrap());
    cfg.rate_limit = None;
    // The default policy: 5 retries of anything else.
    assert_eq!(cfg.retry, RetryPolicy::default());
    let c = ApiClient::new(cfg).unwrap();

    let started = Instant::now();
    let e = get(&c, "commits").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Unreachable, "{e}");
    assert!(e.message.contains("cannot connect"), "{e}");
    assert!(e.message.contains("gave up after 2 retries"), "{e}");
    assert_eq!((c.stats().requests(), c.stats().retries()), (3, 2));
    assert!(started.elapsed() < Duration::from_secs(5), "{started:?}");
    assert!(c.is_unreachable());

    // The next list of the run is not requested.
    let e = get(&c, "issues").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Unreachable);
    assert!(e.message.starts_with("not sent: 127.0.0.1:"), "{e}");
    assert!(e.url.ends_with("/issues"), "{e}");
    assert_eq!(c.stats().requests(), 3, "nothing more was sent");

    // A new run tries again.
    c.forget_unreachable();
    assert!(get(&c, "pulls").await.is_err());
    assert_eq!(c.stats().requests(), 6);
}

#[tokio::test]
async fn an_api_that_answers_is_not_marked_unreachable_by_a_5xx() {
    let server = TestServer::start(|_| crate::testing::TestResponse::text(500, "down"));
    let mut cfg = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    cfg.retry.initial_delay = Duration::from_millis(5);
    cfg.retry.max_retries = 3;
    let c = ApiClient::new(cfg).unwrap();
    let e = get(&c, "x").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Server);
    assert_eq!(c.stats().retries(), 3, "a 5xx keeps the policy's retries");
    assert!(!c.is_unreachable());
}

#[tokio::test]
async fn a_token_endpoint_that_cannot_be_reached_gets_two_quick_retries_and_ends_the_run() {
    let server = TestServer::start(|_| {
        crate::testing::TestResponse::json(200, &serde_json::json!({"ok": true}))
    });
    let source = crate::oauth::RefreshToken::new(
        "src",
        Url::parse(&format!("{}token", closed_port_url())).unwrap(),
        "client-id",
        athena_core::Secret::new("cs-1"),
        athena_core::Secret::new("rt-1"),
    );
    let mut cfg = ClientConfig::new("src", Url::parse(&server.url()).unwrap());
    cfg.token_source = Some(std::sync::Arc::new(source));
    let c = ApiClient::new(cfg).unwrap();
    let started = Instant::now();
    let e = get(&c, "x").await.unwrap_err();
    assert_eq!(e.kind, HttpErrorKind::Unreachable, "{e}");
    assert_eq!(c.stats().retries(), 2, "two retries of the token, not five");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(c.is_unreachable());
    assert!(
        server.requests().is_empty(),
        "no API request without a token"
    );
}
