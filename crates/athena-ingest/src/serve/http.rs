//! The HTTP side of `serve`: `/healthz`, `/readyz`, `/metrics`, and the bearer token that
//! guards every endpoint but `/healthz`.

use std::sync::atomic::Ordering;

use athena_core::Secret;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{Shared, UNREADY_AFTER_FAILURES};

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
pub(crate) fn authorized(token: Option<&Secret>, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (given.as_bytes(), token.expose().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 401 with `WWW-Authenticate: Bearer` and a JSON error.
pub(crate) fn unauthorized() -> Response {
    let mut response = json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"error": "this endpoint needs Authorization: Bearer <[serve] api_token>"}),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Middleware: a request without the token (when one is set) is answered 401.
pub(super) async fn require_token(
    axum::extract::State(token): axum::extract::State<Option<std::sync::Arc<Secret>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !authorized(token.as_deref(), request.headers()) {
        return unauthorized();
    }
    next.run(request).await
}

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::web::router())
        .with_state(shared)
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn readyz(
    axum::extract::State(shared): axum::extract::State<Shared>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !authorized(shared.token.as_deref(), &headers) {
        return unauthorized();
    }
    let store_open = shared.store_open.load(Ordering::SeqCst);
    let health = shared
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    // The sources being run, so a reload can be seen to have taken.
    let sources: Vec<&str> = health.iter().map(|h| h.id.as_str()).collect();
    let failing: Vec<serde_json::Value> = health
        .iter()
        .filter(|h| h.consecutive_failures >= UNREADY_AFTER_FAILURES)
        .map(|h| {
            serde_json::json!({
                "source": h.id,
                "consecutive_failures": h.consecutive_failures,
                "error": h.last_error,
            })
        })
        .collect();
    if store_open && failing.is_empty() {
        return json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "sources": sources}),
        );
    }
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({
            "status": "not_ready",
            "store_open": store_open,
            "sources": sources,
            "failing_sources": failing,
        }),
    )
}

async fn metrics(
    axum::extract::State(shared): axum::extract::State<Shared>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !authorized(shared.token.as_deref(), &headers) {
        return unauthorized();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_asked_for_as_a_bearer_and_compared_whole() {
        let token = Secret::new("s3cret-token");
        let with = |value: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            h
        };
        assert!(authorized(None, &axum::http::HeaderMap::new()));
        assert!(!authorized(Some(&token), &axum::http::HeaderMap::new()));
        assert!(authorized(Some(&token), &with("Bearer s3cret-token")));
        assert!(!authorized(Some(&token), &with("Bearer s3cret-toke")));
        assert!(!authorized(Some(&token), &with("Bearer s3cret-tokenX")));
        assert!(!authorized(Some(&token), &with("s3cret-token")));
    }
}
