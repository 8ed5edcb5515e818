//! The tools' arguments: their doc comments are the descriptions an agent reads in each tool's
//! JSON schema, so they say what is accepted and what the defaults and limits are.

use schemars::JsonSchema;
use serde::Deserialize;

/// The default page size of `search_events`.
pub(crate) const DEFAULT_LIMIT: u32 = 20;

/// The largest page `search_events` returns; a larger `limit` is lowered to it.
pub(crate) const MAX_LIMIT: u32 = 200;

/// Arguments of `search_events`. Every filter is optional; the filters given all apply.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchEventsParams {
    /// Full-text search over event titles and bodies (SQLite FTS5 syntax: words are ANDed;
    /// "quoted phrase", OR, NOT, prefix*). Omit to match every event.
    pub query: Option<String>,
    /// Only events that occurred at or after this time: RFC 3339 (2024-05-01T12:00:00Z), a
    /// date (2024-05-01, midnight UTC), or relative to now (30m, 12h, 7d, 2w).
    pub since: Option<String>,
    /// Only events that occurred before this time; same formats as `since`, and not before
    /// it.
    pub until: Option<String>,
    /// Only these source ids (as `list_sources` shows them).
    pub sources: Option<Vec<String>>,
    /// Only these event kinds, e.g. commit, file_modified, http_request, issue_opened,
    /// pull_request_merged, message.
    pub kinds: Option<Vec<String>>,
    /// Only events whose actor contains this text (case-insensitive).
    pub actor: Option<String>,
    /// At most this many events (default 20, at most 200).
    pub limit: Option<u32>,
    /// The `next_cursor` of a previous call with the same filters, to read the next page
    /// (with other filters it is refused).
    pub cursor: Option<String>,
}

/// Arguments of `get_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GetEventParams {
    /// The event's source id (its `source_id` field).
    pub source: String,
    /// The event's id (its `id` field).
    pub id: String,
}

/// Arguments of `timeline`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimelineParams {
    /// Count events that occurred at or after this time: RFC 3339, a date (midnight UTC), or
    /// relative to now (30m, 12h, 7d, 2w). Omit for all stored history.
    pub since: Option<String>,
    /// Count events that occurred before this time; same formats as `since`.
    pub until: Option<String>,
    /// The bucket width: hour, day (the default), week (weeks start on Monday) or month
    /// (calendar months). Buckets are in UTC.
    pub bucket: Option<String>,
    /// Only these source ids.
    pub sources: Option<Vec<String>>,
}

// What the tools return: these types exist for their JSON schemas (each tool's
// `outputSchema`); the values are built as JSON in `tools`, and the MCP tests check them
// against these schemas through a real client.

/// An event, as `events --format jsonl` prints it.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct EventOut {
    /// Unique within its source; with `source_id`, what `get_event` takes.
    id: String,
    source_id: String,
    source_type: String,
    /// What happened: commit, file_modified, http_request, issue_opened, message …
    kind: String,
    /// When it happened (RFC 3339, UTC).
    occurred_at: String,
    /// When it was stored (RFC 3339, UTC).
    ingested_at: Option<String>,
    /// Who.
    actor: Option<String>,
    /// One line.
    title: String,
    /// Text, may be empty.
    body: String,
    url: Option<String>,
    /// success, failure, client_error, server_error or null.
    outcome: Option<String>,
    /// Where: repository, branch, path, channel, thread …
    context: serde_json::Map<String, serde_json::Value>,
    /// Source-specific details.
    metadata: serde_json::Map<String, serde_json::Value>,
}

/// What `search_events` returns.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct SearchEventsOut {
    /// Newest first.
    events: Vec<EventOut>,
    /// Pass as `cursor` (with the same filters) for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// What `get_event` returns.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct GetEventOut {
    event: EventOut,
}

/// A source, as `status --format json` shows it.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct SourceOut {
    id: String,
    /// The source type (git, files, api_log, github, slack …).
    #[serde(rename = "type")]
    source_type: Option<String>,
    /// The saved cursor (source-specific JSON).
    cursor: Option<serde_json::Value>,
    /// Events stored.
    events: u64,
    dead_letters: u64,
    /// When its last sync ended (RFC 3339, UTC).
    last_sync: Option<String>,
    /// ok, failed, interrupted, running or unfinished.
    last_status: Option<String>,
    last_error: Option<String>,
    /// unauthorized, rate_limited, http, io, cursor, config or other.
    error_kind: Option<String>,
}

/// What `list_sources` returns.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct ListSourcesOut {
    sources: Vec<SourceOut>,
}

/// One bucket of a timeline.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct BucketOut {
    /// The bucket's start (RFC 3339, UTC).
    start: String,
    /// Events in the bucket.
    count: u64,
    /// Events in the bucket per source id.
    sources: std::collections::BTreeMap<String, u64>,
}

/// What `timeline` returns.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub(crate) struct TimelineOut {
    /// hour, day, week or month.
    bucket: String,
    /// Events in all buckets.
    total: u64,
    /// Oldest first; buckets without events are left out.
    buckets: Vec<BucketOut>,
}
