//! What both stores write and read the same way: limits, `LIKE` literals, times in
//! milliseconds, JSON objects kept as text.

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
