//! The bearer token (`[serve] api_token`) that guards `/v1`, `/mcp`, `/metrics`, `/readyz` and
//! `/`: one check, compared in constant time, and one 401 answer.

use athena_core::Secret;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

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
pub(crate) async fn require_token(
    axum::extract::State(token): axum::extract::State<Option<std::sync::Arc<Secret>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !authorized(token.as_deref(), request.headers()) {
        return unauthorized();
    }
    next.run(request).await
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
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
