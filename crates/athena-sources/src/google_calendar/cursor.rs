//! The `google_calendar` source's cursor, as versioned JSON, one entry per calendar.
//!
//! Version 1 (the only one written so far):
//!
//! ```json
//! {"version":1,"calendars":{"primary":{"sync_token":"CPDA…","page_token":"EjQ…"}}}
//! ```
//!
//! `sync_token`: Google's `nextSyncToken` of the calendar's last listing read to its end; the
//! next sync asks for what changed since. `page_token`: a listing stopped half-way (a kill, a
//! failure): the next sync goes on from that page with the same query, `sync_token` for an
//! incremental listing, `time_min`/`time_max` for a first (full) one. A token replaces the
//! old one only once the listing's last page is stored.

use std::collections::BTreeMap;

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CalendarCursor {
    pub version: u32,
    pub calendars: BTreeMap<String, CalendarMark>,
}

/// Where one calendar's listing stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CalendarMark {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// A full listing's window (RFC 3339), kept while it is paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_min: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_max: Option<String>,
}

impl CalendarCursor {
    /// The saved cursor, or a fresh one. Calendars no longer configured are dropped.
    pub(crate) fn decode(
        saved: Option<Cursor>,
        source_id: &str,
        calendars: &[String],
    ) -> Result<Self, SourceError> {
        let saved: Option<CalendarCursor> =
            Cursor::decode_saved(saved, source_id, u64::from(VERSION))?;
        let mut c = saved.unwrap_or(CalendarCursor {
            version: VERSION,
            calendars: BTreeMap::new(),
        });
        c.calendars.retain(|k, _| calendars.contains(k));
        Ok(c)
    }

    pub(crate) fn mark(&mut self, calendar: &str) -> &mut CalendarMark {
        self.calendars.entry(calendar.to_string()).or_default()
    }

    pub(crate) fn encode(&self) -> Cursor {
        Cursor::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"version":1,"calendars":{"old":{"sync_token":"t0"},"primary":{"sync_token":"t1","page_token":"p2"},"team":{"page_token":"p1","time_min":"2024-02-01T00:00:00+00:00","time_max":"2024-04-01T00:00:00+00:00"}}}"#;

    fn decode(text: &str, calendars: &[&str]) -> Result<CalendarCursor, SourceError> {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        let calendars: Vec<String> = calendars.iter().map(|c| c.to_string()).collect();
        CalendarCursor::decode(Some(Cursor::from_json(json)), "cal", &calendars)
    }

    #[test]
    fn a_version_1_cursor_decodes_and_an_unconfigured_calendar_is_dropped() {
        let all = decode(V1, &["old", "primary", "team"]).unwrap();
        assert_eq!(all.encode().as_json().to_string(), V1);
        let mut c = decode(V1, &["primary", "team"]).unwrap();
        assert!(!c.calendars.contains_key("old"));
        assert_eq!(c.mark("primary").page_token.as_deref(), Some("p2"));
        assert_eq!(c.mark("new"), &CalendarMark::default());
        let err = decode(r#"{"version":2}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("unknown cursor version"), "{err}");
    }
}
