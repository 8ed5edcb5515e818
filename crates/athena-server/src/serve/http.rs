//! The HTTP side of `serve` beside recall: `/healthz`, public, and `/readyz` and `/metrics`,
//! which the server guards with the bearer token ([`crate::auth`]).

use std::sync::atomic::Ordering;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{Shared, UNREADY_AFTER_FAILURES};

/// `/healthz`: public, so that a probe needs no secret.
pub(super) fn public() -> Router {
    Router::new().route("/healthz", get(healthz))
}

/// `/readyz` and `/metrics`, for the server to guard.
pub(super) fn guarded(shared: Shared) -> Router {
    Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
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

async fn readyz(axum::extract::State(shared): axum::extract::State<Shared>) -> Response {
    let store_open = shared.store_open.load(Ordering::SeqCst);
    let health = shared
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    // The sources being run, so a reload can be seen to have taken.
    let sources: Vec<&str> = health.iter().map(|h| h.id.as_str()).collect();
    // Each one's priority: where sources wait (a slot, the writer, a worker) the higher goes first.
    let priorities: serde_json::Map<String, serde_json::Value> = (health.iter())
        .map(|h| (h.id.clone(), h.priority.into()))
        .collect();
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
    let worker = shared
        .worker
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if store_open && failing.is_empty() {
        let mut ok =
            serde_json::json!({"status": "ok", "sources": sources, "priorities": priorities});
        // Shared with other workers: the sources listed are those this one holds.
        if let Some(worker) = worker {
            ok["worker"] = serde_json::json!(worker);
        }
        return json(StatusCode::OK, &ok);
    }
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({
            "status": "not_ready",
            "store_open": store_open,
            "sources": sources,
            "priorities": priorities,
            "failing_sources": failing,
        }),
    )
}

async fn metrics(axum::extract::State(shared): axum::extract::State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
}
