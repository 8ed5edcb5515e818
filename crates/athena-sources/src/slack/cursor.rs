//! The `slack` cursor and Slack's timestamps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version 1:
///
/// ```json
/// {"version":1,"channels":{"C0123":{"latest":"1700000000.000100"}}}
/// ```
///
/// Per channel, the `ts` of the newest top-level message stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SlackCursor {
    pub(super) version: u32,
    pub(super) channels: BTreeMap<String, ChannelCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ChannelCursor {
    pub latest: Option<String>,
}

pub(super) const VERSION: u32 = 1;

/// Slack's `ts`: seconds and microseconds, ordered as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Ts(pub i64, pub u32);

impl Ts {
    pub fn parse(s: &str) -> Option<Ts> {
        let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
        let micros: u32 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
        Some(Ts(secs.parse().ok()?, micros))
    }

    pub fn time(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, self.1 * 1000).unwrap_or_default()
    }

    pub fn text(self) -> String {
        format!("{}.{:06}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_orders_numerically_and_round_trips() {
        let a = Ts::parse("1700000000.000100").unwrap();
        let b = Ts::parse("1700000000.0002").unwrap();
        assert!(a < b);
        assert_eq!(a.text(), "1700000000.000100");
        assert_eq!(b.text(), "1700000000.000200");
        assert_eq!(a.time().timestamp_subsec_micros(), 100);
        assert!(Ts::parse("x.1").is_none());
    }

    #[test]
    fn version_1_reads_from_a_fixed_string() {
        let text = r#"{"version":1,"channels":{"C0123":{"latest":"1700000000.000100"},"C9":{"latest":null}}}"#;
        let c: SlackCursor = serde_json::from_str(text).unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(
            c.channels["C0123"].latest.as_deref(),
            Some("1700000000.000100")
        );
        assert_eq!(c.channels["C9"].latest, None);
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
    }
}
