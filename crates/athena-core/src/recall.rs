//! Recall: reading the store back the way agents, programs and people ask — a page of events
//! by when they happened, with a cursor that stays valid while new events arrive; one event by
//! its source and id; counts per time bucket.
//!
//! A page is cut by keyset on `(occurred_at, seq)`: the cursor names the last event returned,
//! and the next page starts strictly after it in the page's order. An event stored later with
//! an `occurred_at` before the cursor shows on no page already handed out, and shifts none.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::store::{EventQuery, SourceStatus, StoreError};

pub use crate::query_budget::{QueryBudget, Spent};

/// The order of a page, on `occurred_at` (ties broken by storing order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first.
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

impl Order {
    /// `desc` or `asc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Desc => "desc",
            Order::Asc => "asc",
        }
    }
}

impl FromStr for Order {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "desc" => Ok(Order::Desc),
            "asc" => Ok(Order::Asc),
            _ => Err(format!("{s:?} is not an order: use desc or asc")),
        }
    }
}

/// Where a page ends: the last event it returned, and the order it was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// The order of the pages this cursor continues.
    pub order: Order,
    /// The last event's `occurred_at`, in milliseconds since the Unix epoch.
    pub occurred_at_ms: i64,
    /// The last event's position in the store (its storing order).
    pub seq: i64,
}

/// Opaque to callers; the text is `<d|a><occurred_at_ms hex>.<seq hex>`, stable across
/// releases of one store format.
impl fmt::Display for PageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            Order::Desc => 'd',
            Order::Asc => 'a',
        };
        // Signed, so that times before 1970 survive the trip.
        write!(f, "{order}{:x}.{:x}", self.occurred_at_ms, self.seq)
    }
}

impl FromStr for PageCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a cursor this server handed out");
        let order = match s.as_bytes().first() {
            Some(b'd') => Order::Desc,
            Some(b'a') => Order::Asc,
            _ => return Err(bad()),
        };
        let (time, seq) = s[1..].split_once('.').ok_or_else(bad)?;
        let hex = |t: &str| {
            u64::from_str_radix(t, 16)
                .ok()
                .filter(|_| !t.is_empty() && t.len() <= 16)
                .map(|n| n as i64)
        };
        Ok(PageCursor {
            order,
            occurred_at_ms: hex(time).ok_or_else(bad)?,
            seq: hex(seq).ok_or_else(bad)?,
        })
    }
}

/// What a page asks for.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// Which events (its `limit` is ignored: see [`Self::limit`]).
    pub filter: EventQuery,
    /// Newest or oldest first.
    pub order: Order,
    /// Continue after this cursor (its order must be [`Self::order`]).
    pub after: Option<PageCursor>,
    /// At most this many events.
    pub limit: usize,
}

/// A page of events and the cursor of the next one (`None`: this was the last).
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The events, in the page's order.
    pub events: Vec<Event>,
    /// Where the next page starts, if there are more events.
    pub next: Option<PageCursor>,
}

/// The width of a timeline's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucket {
    /// Hours (UTC).
    Hour,
    /// Days (UTC).
    #[default]
    Day,
    /// Weeks starting on Monday (UTC).
    Week,
}

impl Bucket {
    /// `hour`, `day` or `week`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }

    /// The bucket's length in milliseconds.
    pub fn millis(self) -> i64 {
        const HOUR: i64 = 3_600_000;
        match self {
            Bucket::Hour => HOUR,
            Bucket::Day => 24 * HOUR,
            Bucket::Week => 7 * 24 * HOUR,
        }
    }

    /// How far the epoch lies after a bucket's start, in milliseconds: weeks start on
    /// Monday, and the epoch was a Thursday, three days after one.
    pub fn offset_millis(self) -> i64 {
        match self {
            Bucket::Week => 3 * Bucket::Day.millis(),
            _ => 0,
        }
    }

    /// The start of the bucket holding `ms` (milliseconds since the epoch).
    pub fn start_of(self, ms: i64) -> i64 {
        let offset = self.offset_millis();
        (ms + offset).div_euclid(self.millis()) * self.millis() - offset
    }
}

impl FromStr for Bucket {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hour" => Ok(Bucket::Hour),
            "day" => Ok(Bucket::Day),
            "week" => Ok(Bucket::Week),
            _ => Err(format!("{s:?} is not a bucket: use hour, day or week")),
        }
    }
}

/// How many events of one source happened in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineCount {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// The source.
    pub source_id: String,
    /// Its events in the bucket.
    pub count: u64,
}

/// The read side of a store, for recall. Implementations are shared between request handlers.
///
/// Every query runs within a [`QueryBudget`]: once it is spent the query stops and answers
/// [`StoreError::Interrupted`], whatever it was doing.
pub trait Recall: Send + Sync {
    /// A page of the events `query` asks for.
    fn page(&self, query: &PageQuery, budget: &QueryBudget) -> Result<Page, StoreError>;

    /// The event `id` of `source_id`, if stored.
    fn event(
        &self,
        source_id: &str,
        id: &str,
        budget: &QueryBudget,
    ) -> Result<Option<Event>, StoreError>;

    /// Every source the store knows, as `status` shows them.
    fn sources(&self, budget: &QueryBudget) -> Result<Vec<SourceStatus>, StoreError>;

    /// Counts per bucket and source of the events `filter` matches (its `limit` is ignored),
    /// oldest bucket first.
    fn timeline(
        &self,
        filter: &EventQuery,
        bucket: Bucket,
        budget: &QueryBudget,
    ) -> Result<Vec<TimelineCount>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_text_and_garbage_is_refused() {
        for c in [
            PageCursor {
                order: Order::Desc,
                occurred_at_ms: 1_700_000_000_123,
                seq: 42,
            },
            PageCursor {
                order: Order::Asc,
                occurred_at_ms: -86_400_000,
                seq: 0,
            },
        ] {
            assert_eq!(c.to_string().parse::<PageCursor>(), Ok(c));
        }
        for bad in [
            "",
            "x1.2",
            "d",
            "d1",
            "d.2",
            "d1.",
            "dzz.1",
            "d1.2.3",
            "d11111111111111111.1",
        ] {
            assert!(bad.parse::<PageCursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets_start_at_the_hour_the_day_and_monday() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-02T13:45:10Z")
            .unwrap()
            .timestamp_millis();
        let at = |b: Bucket| {
            DateTime::<Utc>::from_timestamp_millis(b.start_of(t))
                .unwrap()
                .to_rfc3339()
        };
        assert_eq!(at(Bucket::Hour), "2024-05-02T13:00:00+00:00");
        assert_eq!(at(Bucket::Day), "2024-05-02T00:00:00+00:00");
        // 2024-05-02 was a Thursday.
        assert_eq!(at(Bucket::Week), "2024-04-29T00:00:00+00:00");
        assert_eq!(
            Bucket::Day.start_of(-1),
            -Bucket::Day.millis(),
            "before 1970 rounds down"
        );
    }

    #[test]
    fn orders_and_buckets_parse_their_names_only() {
        assert_eq!("asc".parse(), Ok(Order::Asc));
        assert!("ASC".parse::<Order>().is_err());
        assert_eq!("week".parse(), Ok(Bucket::Week));
        assert!("month".parse::<Bucket>().is_err());
    }
}
