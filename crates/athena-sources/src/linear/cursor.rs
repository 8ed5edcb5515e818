//! The `linear` source's cursor, as versioned JSON.
//!
//! Version 1 (the only one written so far):
//!
//! ```json
//! {"version":1,"mark":"2024-05-01T10:00:00.000Z",
//!  "pass":{"since":"2024-05-01T09:55:00.000Z","after":"<endCursor>","max":"2024-05-02T08:00:00.000Z"}}
//! ```
//!
//! `mark`: every issue updated at or before it is stored (the `updatedAt` high-water mark of
//! the last finished pass). `pass`: a pass over the issues that has not finished: the
//! `updatedAt` it reads from (`since`, the mark less the overlap; absent on a first sync), the
//! `endCursor` of the last page whose events are stored (`after`), and the newest `updatedAt`
//! stored by it (`max`), the next mark once the pass finishes.

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

pub(crate) const VERSION: u32 = 1;

/// The whole cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LinearCursor {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
}

/// A pass over the issues list, stored page by page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pass {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

impl LinearCursor {
    /// The saved cursor, or a fresh one for a first sync.
    pub(crate) fn decode(saved: Option<Cursor>, source_id: &str) -> Result<Self, SourceError> {
        let saved = Cursor::decode_saved(saved, source_id, u64::from(VERSION))?;
        Ok(saved.unwrap_or(LinearCursor {
            version: VERSION,
            mark: None,
            pass: None,
        }))
    }

    pub(crate) fn encode(&self) -> Cursor {
        Cursor::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> (LinearCursor, String) {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        let cursor = LinearCursor::decode(Some(Cursor::from_json(json)), "lin").unwrap();
        let again = cursor.encode().as_json().to_string();
        (cursor, again)
    }

    #[test]
    fn a_version_1_cursor_with_a_pass_decodes_and_encodes_to_the_same_text() {
        let text = concat!(
            r#"{"version":1,"mark":"2024-05-01T10:00:00.000Z","#,
            r#""pass":{"since":"2024-05-01T09:55:00.000Z","after":"c-17","max":"2024-05-02T08:00:00.000Z"}}"#
        );
        let (cursor, again) = round_trip(text);
        assert_eq!(again, text);
        assert_eq!(cursor.mark.as_deref(), Some("2024-05-01T10:00:00.000Z"));
        let pass = cursor.pass.unwrap();
        assert_eq!(pass.after.as_deref(), Some("c-17"));
        assert_eq!(pass.max.as_deref(), Some("2024-05-02T08:00:00.000Z"));
    }

    #[test]
    fn a_version_1_cursor_of_a_first_pass_and_a_fresh_one() {
        let text = r#"{"version":1,"pass":{"after":"c-3"}}"#;
        let (cursor, again) = round_trip(text);
        assert_eq!(again, text);
        assert!(cursor.mark.is_none() && cursor.pass.unwrap().since.is_none());
        let fresh = LinearCursor::decode(None, "lin").unwrap();
        assert_eq!(fresh.encode().as_json().to_string(), r#"{"version":1}"#);
    }

    #[test]
    fn an_unknown_version_is_a_cursor_error() {
        let json = serde_json::json!({"version": 2});
        let err = LinearCursor::decode(Some(Cursor::from_json(json)), "lin").unwrap_err();
        assert!(err.to_string().contains("unknown cursor version"), "{err}");
    }
}
