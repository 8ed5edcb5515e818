//! What both stores write and read the same way: limits, `LIKE` literals, times in
//! milliseconds, JSON objects kept as text, kinds counted per source.

use athena_core::known::SourceKinds;
use athena_core::{sort_kinds, KindCount};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

/// A count for SQL, whose integers are i64: any larger count means "all of them".
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `text` as a `LIKE` pattern (with `ESCAPE '\'`) that matches exactly that text.
pub(crate) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Milliseconds since the Unix epoch as a time (out of chrono's range: the epoch).
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A stored JSON object (anything else reads as an empty one).
pub(crate) fn json_object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Rows of (source, kind, events) — a source without events has no kind — ordered by source,
/// as each source's kinds, the most frequent first.
pub(crate) fn group_kinds(
    rows: impl IntoIterator<Item = (String, Option<String>, Option<i64>)>,
) -> Vec<SourceKinds> {
    let mut all: Vec<SourceKinds> = Vec::new();
    for (source_id, kind, events) in rows {
        if all.last().is_none_or(|s| s.source_id != source_id) {
            all.push(SourceKinds {
                source_id,
                kinds: Vec::new(),
            });
        }
        if let (Some(kind), Some(events), Some(source)) = (kind, events, all.last_mut()) {
            source.kinds.push(KindCount {
                kind,
                events: events as u64,
            });
        }
    }
    for s in &mut all {
        sort_kinds(&mut s.kinds);
    }
    all
}
