//! The `gmail` source's cursor, as versioned JSON.
//!
//! Version 1 (the only one written so far), in one of two phases:
//!
//! ```json
//! {"version":1,"filter":"INBOX,SENT","email":"me@example.com","phase":"full","history_id":"9000","label":"SENT","page_token":"abc"}
//! {"version":1,"filter":"INBOX,SENT","email":"me@example.com","phase":"history","history_id":"9120"}
//! {"version":1,"filter":"INBOX,SENT","email":"me@example.com","phase":"history","history_id":"9120","page_token":"def","until":"9300"}
//! ```
//!
//! `full`: a listing of every message under way; `history_id` is the mailbox's as it was
//! *before* the listing began (so what changes during it is read from the history next), the
//! labels before `label` are listed whole, and `page_token` is where `label`'s listing goes on.
//! `history`: every change up to `history_id` is stored; a `page_token` means a history read
//! from `history_id` is under way, and `until` is the `historyId` its first page answered (where
//! the cursor goes when the read ends). `filter`: the labels, query and user (unless `me`) the
//! cursor belongs to; another filter starts over. `email`: the mailbox's address (from
//! `users.getProfile`) the position belongs to; a sync finding another address starts over.
//! Cursors written before `email` and `until` existed have neither: no `email` matches any
//! mailbox (and is filled in by the next sync), a `page_token` without `until` ends the read at
//! its start `history_id` (read again next time, as duplicates).

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GmailCursor {
    pub version: u32,
    /// The labels and query the position belongs to.
    pub filter: String,
    /// The mailbox's address the position belongs to (`None` in older cursors: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
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
        /// With `page_token`: the `historyId` of the read's first page, where the cursor moves
        /// when the read ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
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
            email: None,
            phase: Phase::Start,
        }
    }

    /// Ties the cursor to the mailbox at `email` (`users.getProfile`'s address): a cursor of
    /// another mailbox starts over; one without an address (written before it was kept) is
    /// taken as this mailbox's. Whether it started over.
    pub(crate) fn for_mailbox(&mut self, email: &str) -> bool {
        if email.is_empty() {
            return false;
        }
        let other = self
            .email
            .as_deref()
            .is_some_and(|e| !e.eq_ignore_ascii_case(email));
        if other {
            *self = GmailCursor::fresh(&self.filter);
        }
        self.email = Some(email.to_string());
        other
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
                page_token: None,
                until: None
            }
        );
    }

    #[test]
    fn a_cursor_is_kept_for_its_own_mailbox_and_starts_over_for_another() {
        // A version-1 cursor without an address: taken as this mailbox's, the address kept.
        let mut c = decode(HISTORY, "INBOX,SENT").unwrap();
        assert!(!c.for_mailbox("me@example.com"));
        assert_eq!(
            c.encode().as_json().to_string(),
            r#"{"version":1,"filter":"INBOX,SENT","email":"me@example.com","phase":"history","history_id":"9120"}"#
        );
        let text = c.encode().as_json().to_string();
        let mut same = decode(&text, "INBOX,SENT").unwrap();
        assert!(!same.for_mailbox("ME@example.com"));
        assert_eq!(same.phase, c.phase);
        let mut other = decode(&text, "INBOX,SENT").unwrap();
        assert!(other.for_mailbox("you@example.com"));
        assert_eq!(other.phase, Phase::Start);
        assert_eq!(other.email.as_deref(), Some("you@example.com"));
        // A history read under way keeps where it ends.
        let mid = r#"{"version":1,"filter":"INBOX","email":"me@example.com","phase":"history","history_id":"9120","page_token":"def","until":"9300"}"#;
        let m = decode(mid, "INBOX").unwrap();
        assert_eq!(m.encode().as_json().to_string(), mid);
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
