//! Recall, apart from any transport: the service every query (HTTP, MCP, a program that
//! embeds the server) runs in, the parameters it takes and the shapes it answers with.
//!
//! - `params`: the questions' parameters, their defaults and limits, and how they resolve
//!   into store queries; `answers`: the answers' types; `schema`: their JSON schemas, for the
//!   OpenAPI document and the MCP tools alike;
//! - `questions`: the questions (a page, an event, the sources, the kinds, a timeline) as methods of the service, and [`RecallError`];
//! - `service`: the bounded pool and time budget every query runs in, and `gate`: its queue,
//!   cheapest first, and each kind's share of the connections;
//! - `athena`: an event in the shape of Athena's `EpisodicEvent` (also `events --format athena`);
//! - `status`: the sources' status as JSON, as `status --format json` prints it.

pub mod answers;
mod athena;
mod gate;
pub mod params;
mod questions;
pub(crate) mod schema;
mod service;
mod status;

pub use athena::athena_event;
pub(crate) use gate::Cost;
pub use questions::RecallError;
pub use service::{KnownPriorities, Limits, RecallService};
pub use status::status_json;
