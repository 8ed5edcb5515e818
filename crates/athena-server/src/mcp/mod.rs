//! MCP (Model Context Protocol): the store's recall as four tools for agents —
//! `search_events`, `get_event`, `list_sources`, `timeline` — over stdio (`athena-ingest mcp`)
//! or streamable HTTP (`serve`, at `/mcp`). Read-only: the store is never written here.
//!
//! The tools ask the recall service the HTTP API's questions, with its parameters, limits and
//! answers (see [`crate::params`] and [`crate::answers`]): `search_events` is
//! `GET /v1/events`, `get_event` is `GET /v1/events/{source}/{id}`, `list_sources` is
//! `GET /v1/sources`, `timeline` is `GET /v1/timeline`.
//!
//! - `server`: the MCP server that exposes them, and their schemas;
//! - `brief`: an event as `search_events` lists it unless asked for its details;
//! - `tools`: the line of text each answer comes with;
//! - `stdio`: the stdio framing, which answers every line (a parse error, a line too long).

use anyhow::{Context, Result};
use athena_core::CancelToken;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;

mod brief;
mod server;
mod stdio;
mod tools;

use crate::recall::RecallService;
use server::RecallServer;

/// Serves MCP on stdin and stdout until the client closes stdin. Stdout carries only the
/// protocol: logs go to stderr. Every line gets an answer (see the `stdio` module).
pub async fn serve_stdio(recall: RecallService) -> Result<(), crate::error::ServeError> {
    stdio_session(recall)
        .await
        .map_err(crate::error::ServeError::from_anyhow)
}

async fn stdio_session(recall: RecallService) -> Result<()> {
    let (lines, queued) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(stdio::writer(tokio::io::stdout(), queued));
    let transport = stdio::StdioTransport::new(tokio::io::stdin(), lines);
    let running = RecallServer::new(recall)
        .serve(transport)
        .await
        .context("starting the MCP session on stdio")?;
    running.waiting().await.context("serving MCP on stdio")?;
    // The transport is gone: what it queued is written before the process ends.
    match writer.await {
        Ok(written) => written.context("writing MCP answers to stdout"),
        Err(e) => Err(anyhow::anyhow!("the MCP stdout writer failed: {e}")),
    }
}

/// Who may be asked for `/mcp` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hosts {
    /// Only requests whose `Host` is loopback (`localhost`, `127.0.0.1`, `::1`): a web page
    /// that rebinds its DNS name to 127.0.0.1 cannot reach an unguarded local server.
    Loopback,
    /// Any `Host`: for a server whose every request must carry the bearer token anyway.
    Any,
}

/// The streamable-HTTP transport at the router's root, to be nested (at `/mcp`). One MCP
/// server per session; the store connections behind `recall` are shared. `stop` ends every
/// session and its open event stream, so that a graceful shutdown does not wait on them.
/// Must be called within the Tokio runtime.
pub(crate) fn router(recall: RecallService, hosts: Hosts, stop: CancelToken) -> axum::Router {
    // One limit on a request, whichever the transport.
    let config =
        StreamableHttpServerConfig::default().with_max_request_body_bytes(stdio::MAX_LINE_BYTES);
    let config = match hosts {
        Hosts::Loopback => config,
        Hosts::Any => config.disable_allowed_hosts(),
    };
    let sessions = config.cancellation_token.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        sessions.cancel();
    });
    let service: StreamableHttpService<RecallServer, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(RecallServer::new(recall.clone())),
            Default::default(),
            config,
        );
    axum::Router::new()
        .route_service("/", service)
        .layer(axum::middleware::from_fn(parse_errors))
        .layer(axum::middleware::from_fn(closed_sessions))
}

/// A session closed (`DELETE`) is answered 204 No Content: rmcp answers 202 Accepted, which
/// the Python `mcp` client (it takes 200 and 204) logs as "Session termination failed: 202".
/// The session is closed by then: nothing is left pending that 202 would announce.
async fn closed_sessions(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = axum::body::Body::empty();
    }
    response
}

/// A POST whose body is not JSON is answered JSON-RPC's -32700 Parse error (id null), as
/// over stdio; rmcp would answer 415 with a line of text.
async fn parse_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, stdio::MAX_LINE_BYTES).await else {
        return jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            -32600,
            format!(
                "Invalid Request: the body could not be read whole, or is longer than {} bytes",
                stdio::MAX_LINE_BYTES
            ),
        );
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return jsonrpc_error(StatusCode::BAD_REQUEST, -32700, format!("Parse error: {e}"));
    }
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    next.run(request).await
}

fn jsonrpc_error(status: StatusCode, code: i64, message: String) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
