//! The recall API over HTTP that `serve` answers: `/v1/events`, `/v1/events/{source}/{id}`,
//! `/v1/sources`, `/v1/timeline` and `/openapi.json`, read-only over the store through the
//! [`RecallService`](crate::recall::RecallService) that MCP shares.
//!
//! - `query`: the typed extractor of query strings, whose every refusal is a 400 naming its
//!   parameter;
//! - `handlers`: the endpoints; `openapi`: their OpenAPI document, made from the parameter
//!   and answer types MCP shares (schemars).
//!
//! Every route here needs the `[serve] api_token` when one is set, and answers cross-origin
//! requests only from the `[serve] cors_origins`.

use std::sync::Arc;

use athena_core::Secret;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

mod handlers;
mod openapi;
mod query;

use crate::recall::RecallService;

/// What the recall handlers share.
#[derive(Clone)]
pub(crate) struct RecallState {
    pub service: RecallService,
    pub token: Option<Arc<Secret>>,
    /// The OpenAPI document, rendered once.
    openapi: Arc<str>,
}

impl RecallState {
    pub(crate) fn new(service: RecallService, token: Option<Arc<Secret>>) -> Self {
        let openapi = openapi::document(token.is_some()).to_string();
        RecallState {
            service,
            token,
            openapi: openapi.into(),
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

/// The recall routes, guarded by the token and (when origins are listed) answering CORS.
pub(crate) fn router(state: RecallState, cors_origins: Vec<HeaderValue>) -> Router {
    let routes = Router::new()
        .route("/v1/events", get(handlers::events))
        // `{*id}`: an id's `/` may come percent-encoded or not.
        .route("/v1/events/{source}/{*id}", get(handlers::event))
        .route("/v1/sources", get(handlers::sources))
        .route("/v1/timeline", get(handlers::timeline))
        .route("/openapi.json", get(openapi_json))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
        // Before the CORS layer, so that a preflight (OPTIONS) still reaches it.
        .method_not_allowed_fallback(method_not_allowed);
    if cors_origins.is_empty() {
        return routes;
    }
    // Outside the token check: a preflight carries no credentials, and is answered here.
    routes.layer(
        tower_http::cors::CorsLayer::new()
            .allow_origin(cors_origins)
            .allow_methods([Method::GET])
            .allow_headers([axum::http::header::AUTHORIZATION])
            .max_age(std::time::Duration::from_secs(600)),
    )
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

async fn require_token(State(state): State<RecallState>, request: Request, next: Next) -> Response {
    if !crate::auth::authorized(state.token.as_deref(), request.headers()) {
        return crate::auth::unauthorized();
    }
    next.run(request).await
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
