//! Every HTTP route `serve` answers, merged in one place, and the tower layers over them:
//! the token ([`crate::auth`]) over the routes that read or tell anything (`/v1`,
//! `/openapi.json`, `/mcp`, `/readyz`, `/metrics`); over those same routes a request timeout
//! and a bound on requests in flight, past which a request is answered 503 at once rather than
//! queued; CORS for the recall routes; and a trace span per request over everything.

use std::sync::Arc;
use std::time::Duration;

use athena_core::recall::Recall;
use athena_core::{CancelToken, Registry};
use axum::error_handling::HandleErrorLayer;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::{BoxError, Router};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use super::{http, Shared};
use crate::api::{self, RecallState};
use crate::mcp::Hosts;
use crate::recall::{Limits, RecallService};

/// Bounds on the HTTP requests the guarded routes take, whatever they ask (recall's own
/// bounds, on store connections and query time, are [`Limits`]).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// How long a request may take until its answer starts; past it the answer is a 503.
    /// An answer that streams (MCP's event stream) is not cut once it has started.
    pub request_timeout: Duration,
    /// Requests in flight at once; one more is answered 503 with `Retry-After` at once.
    pub max_in_flight: usize,
}

impl Default for HttpLimits {
    /// 10 s: five times recall's time budget, so a query's own 503 comes first; 256 requests:
    /// far past what the four store connections answer at once, and a few MiB of tasks.
    fn default() -> Self {
        HttpLimits {
            request_timeout: Duration::from_secs(10),
            max_in_flight: 256,
        }
    }
}

/// The app: recall over `recall` (one service for HTTP and MCP: they share its connections,
/// queue and budgets), and `stop` cancels every query running and every MCP session.
pub(super) fn app(
    shared: Shared,
    recall: Arc<dyn Recall>,
    registry: Arc<Registry>,
    cors_origins: Vec<HeaderValue>,
    limits: HttpLimits,
    stop: &CancelToken,
) -> Router {
    let service = RecallService::new(recall, registry, Limits::default(), stop.clone())
        .with_priorities(shared.priorities.clone());
    let token = shared.token.clone();
    // With a token every request must carry it, so any Host name may reach MCP; without one,
    // only loopback names (a web page rebinding its DNS name cannot).
    let hosts = if token.is_some() {
        Hosts::Any
    } else {
        Hosts::Loopback
    };
    let guarded = Router::new()
        .merge(api::router(RecallState::new(
            service.clone(),
            token.is_some(),
        )))
        .nest("/mcp", crate::mcp::router(service, hosts, stop.clone()))
        .merge(http::guarded(shared));
    let guarded = bounded(crate::auth::guard(guarded, token), limits);
    let app = Router::new()
        .merge(http::public())
        .merge(crate::web::router())
        .merge(guarded)
        // Last, so that they cover every route above.
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(api::not_found);
    let app = match api::cors(cors_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(TraceLayer::new_for_http())
}

/// `routes` within `limits`: a request over the bound is shed (503, `Retry-After: 1`), one
/// past the timeout is answered 503; both as JSON like every other refusal.
fn bounded(routes: Router, limits: HttpLimits) -> Router {
    let timeout = limits.request_timeout;
    routes.route_layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                refused(e, timeout)
            }))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(limits.max_in_flight))
            .timeout(timeout),
    )
}

fn refused(e: BoxError, timeout: Duration) -> Response {
    if e.is::<tower::timeout::error::Elapsed>() {
        return api::error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s and was stopped; try again, or narrow it",
                timeout.as_secs_f64()
            ),
        );
    }
    if e.is::<tower::load_shed::error::Overloaded>() {
        let mut response = api::error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is answering as many requests as it takes at once; try again shortly"
                .into(),
        );
        (response.headers_mut()).insert(header::RETRY_AFTER, HeaderValue::from(1));
        return response;
    }
    tracing::error!("serving a request: {e}");
    api::error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the request failed unexpectedly (see the server's log)".into(),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// A request whose answer has not started within the timeout is answered 503, as JSON.
    #[tokio::test]
    async fn a_request_past_its_timeout_is_answered_503() {
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        let limits = HttpLimits {
            request_timeout: Duration::from_millis(50),
            ..HttpLimits::default()
        };
        let request = Request::get("/slow").body(Body::empty()).unwrap();
        let started = std::time::Instant::now();
        let response = bounded(slow, limits).oneshot(request).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let error = error["error"].as_str().unwrap();
        assert!(error.contains("longer than 0.05 s"), "{error}");
    }
}
