//! The sources' status as JSON: the one shape `/v1/sources`, MCP's `list_sources` and
//! `status --format json` answer ([`Sources`]).

use athena_core::SourceStatus;
use serde_json::Value;

use super::answers::Sources;

/// `{"sources":[…]}`, one object per source.
pub fn status_json(status: &[SourceStatus]) -> Value {
    serde_json::to_value(Sources::new(status.to_vec())).unwrap_or(Value::Null)
}
