//! The `gmail` source's cursor, as versioned JSON.
//!
//! Version 1 (the only one written so far), in one of two phases:
//!
//! ```json
//! {"version":1,"filter":"INBOX,SENT","phase":"full","history_id":"9000","label":"SENT","page_token":"abc"}
//! {"version":1,"filter":"INBOX,SENT","phase":"history","history_id":"9120"}
//! ```
//!
//! `full`: a listing of every message under way; `history_id` is the mailbox's as it was
//! *before* the listing began (so what changes during it is read from the history next), the
//! labels before `label` are listed whole, and `page_token` is where `label`'s listing goes on.
//! `history`: every change up to `history_id` is stored; a `page_token` means a history read
//! from `history_id` is under way. `filter`: the labels and query the cursor belongs to;
//! another filter starts over.

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GmailCursor {
    pub version: u32,
    /// The labels and query the position belongs to.
    pub filter: String,
    #[serde(flatten)]
    pub phase: Phase,
}

/// Where the next read goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub(crate) enum Phase {
    /// Nothing read yet.
    Start,
    /// A full listing under way.
    Full {
        /// The mailbox's history id taken before the listing.
        history_id: String,
        /// The label being listed (those before it in the config are done).
        label: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_token: Option<String>,
    },
    /// Caught up to `history_id`.
    History {
        history_id: String,
        /// A history read from `history_id` under way, at this page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_token: Option<String>,
    },
}

impl GmailCursor {
    /// The saved cursor, or a fresh one (a first sync, or a saved one of another filter).
    pub(crate) fn decode(
        saved: Option<Cursor>,
        source_id: &str,
        filter: &str,
    ) -> Result<Self, SourceError> {
        let saved: Option<GmailCursor> =
            Cursor::decode_saved(saved, source_id, u64::from(VERSION))?;
        Ok(match saved {
            Some(c) if c.filter == filter => c,
            Some(_) => {
                tracing::info!(source = %source_id, "labels or query changed: reading from the start");
                GmailCursor::fresh(filter)
            }
            None => GmailCursor::fresh(filter),
        })
    }

    pub(crate) fn fresh(filter: &str) -> Self {
        GmailCursor {
            version: VERSION,
            filter: filter.to_string(),
            phase: Phase::Start,
        }
    }

    pub(crate) fn encode(&self) -> Cursor {
        Cursor::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"version":1,"filter":"INBOX,SENT","phase":"full","history_id":"9000","label":"SENT","page_token":"abc"}"#;
    const HISTORY: &str =
        r#"{"version":1,"filter":"INBOX,SENT","phase":"history","history_id":"9120"}"#;

    fn decode(text: &str, filter: &str) -> Result<GmailCursor, SourceError> {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        GmailCursor::decode(Some(Cursor::from_json(json)), "g", filter)
    }

    #[test]
    fn version_1_cursors_of_both_phases_decode_and_encode_to_the_same_text() {
        for text in [FULL, HISTORY] {
            let c = decode(text, "INBOX,SENT").unwrap();
            assert_eq!(c.encode().as_json().to_string(), text);
        }
        let c = decode(FULL, "INBOX,SENT").unwrap();
        assert_eq!(
            c.phase,
            Phase::Full {
                history_id: "9000".into(),
                label: "SENT".into(),
                page_token: Some("abc".into())
            }
        );
        let h = decode(HISTORY, "INBOX,SENT").unwrap();
        assert_eq!(
            h.phase,
            Phase::History {
                history_id: "9120".into(),
                page_token: None
            }
        );
    }

    #[test]
    fn another_filter_starts_over_and_an_unknown_version_is_an_error() {
        let c = decode(HISTORY, "INBOX").unwrap();
        assert_eq!(c.phase, Phase::Start);
        assert_eq!(
            c.encode().as_json().to_string(),
            r#"{"version":1,"filter":"INBOX","phase":"start"}"#
        );
        let err = decode(r#"{"version":2}"#, "").unwrap_err();
        assert!(err.to_string().contains("unknown cursor version"), "{err}");
    }
}
