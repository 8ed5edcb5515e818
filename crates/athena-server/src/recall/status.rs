//! The sources' status as JSON: the one shape `/v1/sources`, MCP's `list_sources` and
//! `status --format json` answer.

use athena_core::SourceStatus;
use chrono::SecondsFormat;
use serde_json::{json, Value};

/// `{"sources":[…]}`, one object per source.
pub fn status_json(status: &[SourceStatus]) -> Value {
    let sources: Vec<Value> = status
        .iter()
        .map(|s| {
            json!({
                "id": s.source_id,
                "type": s.source_type,
                "cursor": s.cursor.as_ref().map(|c| c.as_json().clone()),
                "events": s.events,
                "dead_letters": s.dead_letters,
                "last_sync": s.last_sync.as_ref().map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                "last_status": s.last_status.map(|s| s.as_str()),
                "last_error": s.last_error,
                "error_kind": s.last_error_kind,
            })
        })
        .collect();
    json!({ "sources": sources })
}
