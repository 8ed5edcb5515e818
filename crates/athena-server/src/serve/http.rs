//! The HTTP side of `serve`: `/healthz`, `/readyz` and `/metrics` (the bearer token that guards
//! every endpoint but `/healthz` is [`crate::auth`]).

use std::sync::atomic::Ordering;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{Shared, UNREADY_AFTER_FAILURES};
use crate::auth::{authorized, unauthorized};

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
