//! The `jira` source's cursor, as versioned JSON.
//!
//! Version 1 (the only one written so far):
//!
//! ```json
//! {"version":1,"filter":"project in (\"ABC\")","updated_ms":1700000000000,"overlap_ms":600000}
//! ```
//!
//! `updated_ms`: the latest `updated` (epoch milliseconds) of an issue whose events are all
//! stored; issues are read in `updated` order, so every issue updated before it was stored.
//! The next sync searches from `updated_ms - overlap_ms` (the overlap the mark was written
//! with, or the config's if larger), reading again what the search index may have shown late.
//! `filter`: the projects and JQL the mark was reached with; another filter starts over.

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JiraCursor {
    pub version: u32,
    /// The JQL filter (without the time bound and the order) the mark belongs to.
    pub filter: String,
    /// The high-water mark, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<i64>,
    /// The overlap the mark was written with, milliseconds.
    pub overlap_ms: i64,
}

impl JiraCursor {
    /// The saved cursor, or a fresh one (a first sync, or a saved one of another filter).
    pub(crate) fn decode(
        saved: Option<Cursor>,
        source_id: &str,
        filter: &str,
        overlap_ms: i64,
    ) -> Result<Self, SourceError> {
        let saved: Option<JiraCursor> = Cursor::decode_saved(saved, source_id, u64::from(VERSION))?;
        let fresh = JiraCursor {
            version: VERSION,
            filter: filter.to_string(),
            updated_ms: None,
            overlap_ms,
        };
        Ok(match saved {
            Some(c) if c.filter == filter => JiraCursor {
                overlap_ms: c.overlap_ms.max(overlap_ms),
                ..c
            },
            Some(_) => {
                tracing::info!(source = %source_id, "projects or jql changed: reading from the start");
                fresh
            }
            None => fresh,
        })
    }

    /// Where the search starts: the mark less the overlap (0 on a first sync).
    pub(crate) fn since_ms(&self) -> i64 {
        self.updated_ms
            .map_or(0, |m| m.saturating_sub(self.overlap_ms).max(0))
    }

    /// The mark moves to `updated_ms` if later.
    pub(crate) fn advance(&mut self, updated_ms: i64) {
        self.updated_ms = Some(self.updated_ms.map_or(updated_ms, |m| m.max(updated_ms)));
    }

    pub(crate) fn encode(&self) -> Cursor {
        Cursor::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"version":1,"filter":"project in (\"ABC\")","updated_ms":1700000000000,"overlap_ms":600000}"#;

    fn decode(text: &str, filter: &str, overlap: i64) -> Result<JiraCursor, SourceError> {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        JiraCursor::decode(Some(Cursor::from_json(json)), "j", filter, overlap)
    }

    #[test]
    fn a_version_1_cursor_decodes_and_encodes_to_the_same_text() {
        let c = decode(V1, r#"project in ("ABC")"#, 60_000).unwrap();
        assert_eq!(c.updated_ms, Some(1_700_000_000_000));
        assert_eq!(
            c.since_ms(),
            1_700_000_000_000 - 600_000,
            "the larger overlap"
        );
        assert_eq!(c.encode().as_json().to_string(), V1);
        let wider = decode(V1, r#"project in ("ABC")"#, 900_000).unwrap();
        assert_eq!(wider.overlap_ms, 900_000);
    }

    #[test]
    fn another_filter_starts_over_and_an_unknown_version_is_an_error() {
        let c = decode(V1, r#"project in ("XYZ")"#, 60_000).unwrap();
        assert_eq!((c.updated_ms, c.since_ms()), (None, 0));
        let err = decode(r#"{"version":2}"#, "", 0).unwrap_err();
        assert!(err.to_string().contains("unknown cursor version"), "{err}");
        let mut fresh = JiraCursor::decode(None, "j", "", 1000).unwrap();
        assert_eq!(
            fresh.encode().as_json().to_string(),
            r#"{"version":1,"filter":"","overlap_ms":1000}"#
        );
        fresh.advance(5000);
        fresh.advance(4000);
        assert_eq!((fresh.updated_ms, fresh.since_ms()), (Some(5000), 4000));
    }
}
