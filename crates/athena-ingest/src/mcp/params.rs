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
    /// Only events that occurred before this time; same formats as `since`.
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
    /// The `next_cursor` of a previous call with the same filters, to read the next page.
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
    /// The bucket width: hour, day (the default) or week (weeks start on Monday). Buckets
    /// are in UTC.
    pub bucket: Option<String>,
    /// Only these source ids.
    pub sources: Option<Vec<String>>,
}
