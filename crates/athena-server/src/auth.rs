//! The bearer token (`[serve] api_token`) as one tower middleware: [`guard`] lays it over
//! routes (`serve` guards `/v1`, `/openapi.json`, `/mcp`, `/metrics` and `/readyz` with it, in
//! one place), compares in constant time, and answers one 401.
//!
//! `/healthz` and the web page (`/`, `/assets/…`) stay public, on purpose: a probe must not
//! need a secret, a browser cannot add a bearer header to a page load, and the page is the
//! same constant bytes for everyone (see [`crate::web`]).

use std::sync::Arc;

use athena_core::Secret;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use subtle::ConstantTimeEq;

/// The token, when one is set.
pub(crate) type Token = Option<Arc<Secret>>;

/// `routes` behind the middleware: a request without the token (when one is set) is answered
/// 401 before it reaches a route.
pub(crate) fn guard(routes: Router, token: Token) -> Router {
    routes.route_layer(axum::middleware::from_fn_with_state(token, require_token))
}

async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    if !authorized(token.as_deref(), request.headers()) {
        return unauthorized();
    }
    next.run(request).await
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time: how
/// long the answer takes says nothing of how much of a guess was right).
fn authorized(token: Option<&Secret>, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.as_bytes().ct_eq(token.expose().as_bytes()).into()
}

/// 401 with `WWW-Authenticate: Bearer` and a JSON error.
fn unauthorized() -> Response {
    let mut response = crate::api::error_response(
        StatusCode::UNAUTHORIZED,
        "this endpoint needs Authorization: Bearer <[serve] api_token>".into(),
    );
    (response.headers_mut()).insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
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
        assert!(!authorized(Some(&token), &with("Bearer ")));
    }
}
