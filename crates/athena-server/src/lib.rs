//! The front ends of athena-ingest as a library: `serve` (the supervisor, its workers and
//! watchers), the recall service that HTTP and MCP both call, the HTTP API, MCP, the web page and
//! the bearer token that guards them. Another program can start the server, or answer recall, in
//! process; the `athena-ingest` binary only parses arguments and maps errors to exit codes.
//!
//! Start with [`Server::start`] (async, embeddable: the caller's runtime, registry and stop
//! token) or [`serve`] (blocking, owning the signals: the binary's), and [`ServeOptions`]; to
//! answer recall in process, [`RecallService`]. The modules form layers, each using only those
//! above it:
//!
//! - `redact`: secrets masked in what reaches the logs;
//! - `recall`: the recall service (bounded pool, time budgets), the parameters it takes and
//!   the answers it gives (with their JSON schemas), Athena's event, the sources' status;
//! - `auth`: the bearer token as a tower middleware; `api`: the recall API over HTTP
//!   (`/v1/…`, `/openapi.json`); `mcp`: the same recall as MCP tools, over stdio
//!   ([`mcp::serve_stdio`]) or HTTP; `web`: the timeline page at `/`;
//! - `serve`: the server: sources on their schedules, and every route above on one port,
//!   behind the tower layers (token, timeout, bound on requests in flight, tracing).

#![warn(missing_docs)]

mod api;
mod auth;
mod error;
pub mod feed;
pub mod mcp;
mod recall;
pub mod redact;
mod serve;
mod web;

pub use athena_core::CancelToken;
pub use error::ServeError;
pub use recall::{answers, athena_event, params, status_json, Limits, RecallError, RecallService};
pub use serve::{serve, HttpLimits, ServeOptions, Server};
