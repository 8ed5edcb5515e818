//! MCP (Model Context Protocol): the store's recall as four tools for agents —
//! `search_events`, `get_event`, `list_sources`, `timeline` — over stdio (`athena-ingest mcp`)
//! or streamable HTTP (`serve`, at `/mcp`). Read-only: the store is never written here.
//!
//! - `params`: the tools' arguments and their JSON schemas;
//! - `tools`: what each tool does, apart from MCP (unit-tested);
//! - `server`: the MCP server that exposes them.

use anyhow::{Context, Result};
use athena_core::CancelToken;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;

mod params;
mod server;
mod tools;

use crate::recall::RecallService;
use server::RecallServer;

/// Serves MCP on stdin and stdout until the client closes stdin. Stdout carries only the
/// protocol: logs go to stderr.
pub(crate) async fn serve_stdio(recall: RecallService) -> Result<()> {
    let running = RecallServer::new(recall)
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP session on stdio")?;
    running.waiting().await.context("serving MCP on stdio")?;
    Ok(())
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
    let config = match hosts {
        Hosts::Loopback => StreamableHttpServerConfig::default(),
        Hosts::Any => StreamableHttpServerConfig::default().disable_allowed_hosts(),
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
    axum::Router::new().route_service("/", service)
}
