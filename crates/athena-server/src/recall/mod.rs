//! Recall, apart from any transport: the service every query (HTTP and MCP) runs in, and the
//! shapes both answer with.
//!
//! - `service`: the bounded pool and time budget every query runs in, and `gate`: its queue,
//!   cheapest first, and each kind's share of the connections;
//! - `athena`: an event in the shape of Athena's `EpisodicEvent` (also `events --format athena`);
//! - `status`: the sources' status, as `/v1/sources`, MCP and `status --format json` answer it.

mod athena;
mod gate;
mod service;
mod status;

pub use athena::athena_event;
pub(crate) use gate::Cost;
pub(crate) use service::Refused;
pub use service::{Limits, RecallService};
pub use status::status_json;
