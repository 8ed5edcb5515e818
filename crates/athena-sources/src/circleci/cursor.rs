//! The `circleci` cursor, as versioned JSON.
//!
//! Version 1 (the only one written so far):
//!
//! ```json
//! {"version":1,"branch":"main","mark":{"created_at":"2024-05-01T10:00:00Z","number":812},
//!  "pass":{"top":{"created_at":"…","number":830},"bottom":{"created_at":"…","number":815}},
//!  "pending":[{"id":"5034460f-…","pipeline":829,"branch":"main"}],
//!  "stored":[{"id":"8a1c…","created_at":"2024-05-02T09:00:00Z"}]}
//! ```
//!
//! - `mark`: the newest pipeline of the last complete pass. Pipelines are listed newest first
//!   with no "since" filter, so a pass stops below the mark less the overlap.
//! - `pass`: a pass under way has stored every pipeline from `top` down to `bottom`; a sync
//!   that resumes it lists from the top again, reads what is newer than `top`, skips that
//!   range and goes on below `bottom`.
//! - `pending`: workflows seen not finished, asked for by id on each sync until they are.
//! - `stored`: the finished workflows of the pipelines within the overlap, already stored:
//!   a pass lists these pipelines' workflows again (for re-runs) but not these workflows' jobs.
//! - `branch`: the configured branch the mark belongs to (none: every branch); another branch
//!   starts over.

use athena_core::{Cursor, SourceError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(super) const VERSION: u32 = 1;

/// The whole cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CircleciCursor {
    pub(super) version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) mark: Option<Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) pass: Option<Pass>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) pending: Vec<Pending>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) stored: Vec<Stored>,
}

/// Where a pipeline is in the list: its creation and its number (a project's pipelines are
/// numbered in order; the number breaks ties between equal times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Mark {
    pub created_at: String,
    pub number: u64,
}

/// A [`Mark`] made comparable.
pub(super) type Key = (DateTime<Utc>, u64);

impl Mark {
    pub fn of(key: Key) -> Mark {
        Mark {
            created_at: key.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            number: key.1,
        }
    }

    /// Its key; a time that does not parse (a hand-edited cursor) is the oldest.
    pub fn key(&self) -> Key {
        let t = DateTime::parse_from_rfc3339(&self.created_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        (t, self.number)
    }
}

/// A pass under way: every pipeline from `top` down to `bottom` is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Pass {
    pub top: Mark,
    pub bottom: Mark,
}

/// A workflow seen not finished, with what its events need of its pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Pending {
    pub id: String,
    /// The pipeline's number.
    pub pipeline: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// A finished workflow stored, of a pipeline the next pass lists again (within the overlap):
/// its jobs are not asked for again. `created_at` is its pipeline's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stored {
    pub id: String,
    pub created_at: String,
}

impl CircleciCursor {
    /// The saved cursor, or a fresh one for a first sync (or a changed `branch`).
    pub(super) fn decode(
        saved: Option<Cursor>,
        source_id: &str,
        branch: Option<&str>,
    ) -> Result<Self, SourceError> {
        let saved: Option<CircleciCursor> =
            Cursor::decode_saved(saved, source_id, u64::from(VERSION))?;
        let fresh = CircleciCursor {
            version: VERSION,
            branch: branch.map(str::to_string),
            mark: None,
            pass: None,
            pending: Vec::new(),
            stored: Vec::new(),
        };
        Ok(match saved {
            Some(c) if c.branch.as_deref() == branch => c,
            // Another branch: its pipelines from the start. Workflows followed stay followed.
            Some(c) => CircleciCursor {
                pending: c.pending,
                ..fresh
            },
            None => fresh,
        })
    }

    pub(super) fn encode(&self) -> Cursor {
        Cursor::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = concat!(
        r#"{"version":1,"branch":"main","mark":{"created_at":"2024-05-01T10:00:00Z","number":812},"#,
        r#""pass":{"top":{"created_at":"2024-05-02T10:00:00Z","number":830},"bottom":{"created_at":"2024-05-01T12:00:00Z","number":815}},"#,
        r#""pending":[{"id":"wf-1","pipeline":829,"branch":"main"},{"id":"wf-2","pipeline":828}],"#,
        r#""stored":[{"id":"wf-0","created_at":"2024-05-02T09:00:00Z"}]}"#
    );

    fn decode(text: &str, branch: Option<&str>) -> Result<CircleciCursor, SourceError> {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        CircleciCursor::decode(Some(Cursor::from_json(json)), "ci", branch)
    }

    #[test]
    fn a_version_1_cursor_decodes_and_encodes_to_the_same_text() {
        let c = decode(V1, Some("main")).unwrap();
        assert_eq!(c.encode().as_json().to_string(), V1);
        assert_eq!(c.mark.as_ref().unwrap().number, 812);
        let pass = c.pass.as_ref().unwrap();
        assert!(pass.top.key() > pass.bottom.key());
        assert_eq!(c.pending[1].branch, None);
        assert_eq!(c.stored[0].id, "wf-0");
        let minimal = r#"{"version":1}"#;
        assert_eq!(
            decode(minimal, None)
                .unwrap()
                .encode()
                .as_json()
                .to_string(),
            minimal
        );
    }

    #[test]
    fn another_branch_starts_over_but_keeps_following_workflows() {
        let c = decode(V1, Some("dev")).unwrap();
        assert_eq!((c.mark, c.pass), (None, None));
        assert_eq!(c.pending.len(), 2);
        assert_eq!(c.branch.as_deref(), Some("dev"));
    }

    #[test]
    fn an_unknown_version_is_a_cursor_error() {
        let err = decode(r#"{"version":2}"#, None).unwrap_err();
        assert!(err.to_string().contains("unknown cursor version"), "{err}");
    }

    #[test]
    fn marks_order_by_time_then_number() {
        let a = Mark::of((DateTime::from_timestamp(100, 0).unwrap(), 5));
        let b = Mark::of((DateTime::from_timestamp(100, 0).unwrap(), 6));
        assert!(a.key() < b.key());
        assert_eq!(a.created_at, "1970-01-01T00:01:40Z");
    }
}
