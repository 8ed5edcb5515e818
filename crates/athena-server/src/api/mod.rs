//! The recall API over HTTP that `serve` answers: `/v1/events`, `/v1/events/{source}/{id}`,
//! `/v1/sources`, `/v1/kinds`, `/v1/timeline` and `/openapi.json`, read-only over the store
//! through the [`RecallService`](crate::recall::RecallService) that MCP shares.
//!
//! - `query`: the typed extractor of query strings, whose every refusal is a 400 naming its
//!   parameter;
//! - `handlers`: the endpoints; `openapi`: their OpenAPI document, made from the parameter
//!   and answer types MCP shares (schemars).
//!
//! The server guards every route here with the `[serve] api_token` when one is set
//! ([`crate::auth`]), and answers cross-origin requests only from the `[serve] cors_origins`
//! ([`cors`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

mod handlers;
mod openapi;
pub(crate) mod query;

pub(crate) use handlers::error_response;

use crate::recall::RecallService;

/// What the recall handlers share.
#[derive(Clone)]
pub(crate) struct RecallState {
    pub service: RecallService,
    /// The OpenAPI document, rendered once.
    openapi: Arc<str>,
}

impl RecallState {
    /// `guarded`: a token guards the routes, and the document says so.
    pub(crate) fn new(service: RecallService, guarded: bool) -> Self {
        RecallState {
            service,
            openapi: openapi::document(guarded).to_string().into(),
        }
    }
}

/// `[serve] cors_origins` as header values; an entry that is not an origin is refused.
pub(crate) fn cors_origins(origins: &[String]) -> Result<Vec<HeaderValue>, String> {
    origins
        .iter()
        .map(|o| {
            let (scheme, rest) = o.split_once("://").unwrap_or(("", ""));
            let ok = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', '*', ' ']);
            ok.then(|| HeaderValue::from_str(o).ok())
                .flatten()
                .ok_or_else(|| {
                    format!(
                        "[serve] cors_origins: {o:?} is not an origin like https://app.example or http://localhost:3000 (scheme, host and port; no path, no wildcard)"
                    )
                })
        })
        .collect()
}

/// CORS for the recall routes (`/v1/…`, `/openapi.json`) from `origins` only, none when none
/// are listed. Laid over the whole server, outside the token check: a preflight carries no
/// credentials, and is answered by this layer; other paths get no grant.
pub(crate) fn cors(origins: Vec<HeaderValue>) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allowed = AllowOrigin::predicate(move |origin, request| {
        let path = request.uri.path();
        (path.starts_with("/v1/") || path == "/openapi.json") && origins.contains(origin)
    });
    Some(
        CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([Method::GET])
            .allow_headers([axum::http::header::AUTHORIZATION])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The recall routes; the server guards them with the token.
pub(crate) fn router(state: RecallState) -> Router {
    Router::new()
        .route("/v1/events", get(handlers::events))
        // `{*id}`: an id's `/` may come percent-encoded or not.
        .route("/v1/events/{source}/{*id}", get(handlers::event))
        .route("/v1/sources", get(handlers::sources))
        .route("/v1/kinds", get(handlers::kinds))
        .route("/v1/people", get(handlers::people))
        .route("/v1/timeline", get(handlers::timeline))
        .route("/openapi.json", get(openapi_json))
        .with_state(state)
}

/// The answer to a path no route serves, for every route of `serve`: JSON like every other
/// refusal, naming what was asked. Without the token too: it says nothing of the store.
pub(crate) async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    handlers::error_response(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {method} {}: the recall API is under /v1 (see /openapi.json)",
            uri.path()
        ),
    )
}

/// The answer to a method a route does not take, for every route of `serve`; axum adds the
/// `Allow` header.
pub(crate) async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    handlers::error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {} (the Allow header says what is)",
            uri.path()
        ),
    )
}

async fn openapi_json(State(state): State<RecallState>) -> Response {
    let mut response = Response::new(axum::body::Body::from(state.openapi.to_string()));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_origins_are_allowed_as_cors_origins() {
        assert_eq!(
            cors_origins(&["https://app.example".into(), "http://localhost:3000".into()])
                .unwrap()
                .len(),
            2
        );
        for bad in [
            "*",
            "app.example",
            "https://app.example/",
            "ftp://x",
            "https://",
        ] {
            assert!(cors_origins(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
