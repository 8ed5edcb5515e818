//! The front ends of athena-ingest as a library: `serve` (the supervisor, its workers and
//! watchers), the recall service that HTTP and MCP both call, the HTTP API, MCP, the web page and
//! the bearer token that guards them. Another program can start the server, or answer recall, in
//! process; the `athena-ingest` binary only parses arguments and maps errors to exit codes.
//!
//! Start with [`serve`] and [`ServeOptions`]. The modules form layers, each using only those
//! above it:
//!
//! - `redact`: secrets masked in what reaches the logs; `auth`: the bearer token check;
//! - `recall`: the recall service (bounded pool, time budgets) and the shapes it answers with
//!   (Athena's event, the sources' status);
//! - `api`: the recall API over HTTP (`/v1/…`, `/openapi.json`); `mcp`: the same recall as MCP
//!   tools, over stdio ([`mcp::serve_stdio`]) or HTTP; `web`: the timeline page at `/`;
//! - `serve`: the process: sources on their schedules, and every route above on one port.

#![warn(missing_docs)]

mod api;
mod auth;
mod error;
pub mod mcp;
mod recall;
pub mod redact;
mod serve;
mod web;

pub use error::ServeError;
pub use recall::{athena_event, status_json, Limits, RecallService};
pub use serve::{serve, ServeOptions};

/// The async runtime the server runs on: two workers, the cores a small host has.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .context("starting the async runtime")
}
