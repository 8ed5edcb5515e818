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
use crate::known::SourceKinds;
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

impl PageCursor {
    /// The cursor's text, bound to the query it continues: `<d|a><occurred_at_ms hex>.<seq
    /// hex>.<query key hex>`. Opaque to callers; the same query hands out the same text.
    pub fn to_text(&self, key: QueryKey) -> String {
        let order = match self.order {
            Order::Desc => 'd',
            Order::Asc => 'a',
        };
        // Signed, so that times before 1970 survive the trip.
        format!(
            "{order}{:x}.{:x}.{:08x}",
            self.occurred_at_ms, self.seq, key.0
        )
    }

    /// Reads a cursor's text for a page in `order` of the query whose key is `key`: a cursor
    /// of the other order or of another query is refused, not read as a place in this one.
    pub fn parse(text: &str, order: Order, key: QueryKey) -> Result<PageCursor, PageCursorError> {
        let bad = || PageCursorError::Malformed(text.to_string());
        let cursor_order = match text.as_bytes().first() {
            Some(b'd') => Order::Desc,
            Some(b'a') => Order::Asc,
            _ => return Err(bad()),
        };
        let mut parts = text[1..].split('.');
        let (Some(time), Some(seq), Some(bound), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let hex = |t: &str, digits: usize| {
            u64::from_str_radix(t, 16)
                .ok()
                .filter(|_| !t.is_empty() && t.len() <= digits && !t.starts_with('+'))
        };
        let cursor = PageCursor {
            order: cursor_order,
            occurred_at_ms: hex(time, 16).ok_or_else(bad)? as i64,
            seq: hex(seq, 16).ok_or_else(bad)? as i64,
        };
        let bound = hex(bound, 8).filter(|_| bound.len() == 8).ok_or_else(bad)? as u32;
        if cursor.order != order {
            return Err(PageCursorError::Order(cursor.order));
        }
        if bound != key.0 {
            return Err(PageCursorError::OtherQuery);
        }
        Ok(cursor)
    }
}

/// Why a cursor's text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageCursorError {
    /// The text is not a cursor's (it was never handed out, or was cut).
    Malformed(String),
    /// A cursor of pages in this other order.
    Order(Order),
    /// A cursor of another query: other filters than the page it came from.
    OtherQuery,
}

impl fmt::Display for PageCursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageCursorError::Malformed(text) => {
                write!(f, "{text:?} is not a cursor this server handed out")
            }
            PageCursorError::Order(order) => write!(
                f,
                "this cursor continues a page in {} order: ask in that order with it",
                order.as_str()
            ),
            PageCursorError::OtherQuery => f.write_str(
                "this cursor belongs to a different query: pass it with the filters of the page it came from, or leave it out to start again",
            ),
        }
    }
}

/// What a cursor is bound to: a short hash of the query it pages through (its filter; not
/// its limit, and not its order, which the cursor names itself). A cursor handed back with
/// other filters would cut some other query's pages at an arbitrary place, skipping or
/// repeating events; bound, it is refused instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryKey(u32);

impl QueryKey {
    /// The key of `filter`. `since` and `until` are the caller's text for them, if any: a
    /// time counted back from now (`7d`) is keyed as written, so the query is the same one a
    /// moment later though its instant has moved; an absolute time is keyed by its instant,
    /// however it was written. Sources and kinds are sets: their order does not matter.
    pub fn new(filter: &EventQuery, since: Option<&str>, until: Option<&str>) -> QueryKey {
        fn set(values: &[String]) -> Vec<&str> {
            let mut v: Vec<&str> = values.iter().map(String::as_str).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        let time = |text: Option<&str>, at: Option<DateTime<Utc>>| match text {
            Some(t) if crate::time::is_relative_time_arg(t) => {
                serde_json::json!(["ago", t.trim()])
            }
            _ => serde_json::json!(at.map(|t| t.timestamp_millis())),
        };
        let mut canonical = serde_json::json!([
            set(&filter.sources),
            set(&filter.kinds),
            filter.actor,
            filter.search,
            time(since, filter.since),
            time(until, filter.until),
        ]);
        // Appended only when given, so the cursors of queries without it keep their keys.
        if !filter.outcomes.is_empty() {
            let mut outcomes: Vec<&str> = filter.outcomes.iter().map(|o| o.as_str()).collect();
            outcomes.sort_unstable();
            outcomes.dedup();
            if let Some(all) = canonical.as_array_mut() {
                all.push(serde_json::json!({ "outcome": outcomes }));
            }
        }
        if let (Some(person), Some(all)) = (&filter.person, canonical.as_array_mut()) {
            all.push(serde_json::json!({ "person": person }));
        }
        let canonical = canonical.to_string();
        // FNV-1a: stable across releases and platforms (std's hasher is neither), and a
        // collision only lets through a cursor that was already the caller's mistake.
        let hash = canonical.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        QueryKey(hash)
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
    /// Calendar months (UTC): of 28 to 31 days, so years of history are a few dozen bars.
    Month,
}

impl Bucket {
    /// `hour`, `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The bucket's length in milliseconds; `None` for months, whose lengths vary.
    pub fn fixed_millis(self) -> Option<i64> {
        const HOUR: i64 = 3_600_000;
        match self {
            Bucket::Hour => Some(HOUR),
            Bucket::Day => Some(24 * HOUR),
            Bucket::Week => Some(7 * 24 * HOUR),
            Bucket::Month => None,
        }
    }

    /// How far the epoch lies after a bucket's start, in milliseconds: weeks start on
    /// Monday, and the epoch was a Thursday, three days after one.
    pub fn offset_millis(self) -> i64 {
        match self {
            Bucket::Week => 3 * 24 * 3_600_000,
            _ => 0,
        }
    }

    /// The start of the bucket holding `ms` (milliseconds since the epoch).
    pub fn start_of(self, ms: i64) -> i64 {
        let Some(width) = self.fixed_millis() else {
            return month_start(ms);
        };
        let offset = self.offset_millis();
        (ms + offset).div_euclid(width) * width - offset
    }
}

impl FromStr for Bucket {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hour" => Ok(Bucket::Hour),
            "day" => Ok(Bucket::Day),
            "week" => Ok(Bucket::Week),
            "month" => Ok(Bucket::Month),
            _ => Err(format!(
                "{s:?} is not a bucket: use hour, day, week or month"
            )),
        }
    }
}

/// The first instant of the calendar month (UTC) holding `ms`; times chrono cannot hold are
/// left where they are.
fn month_start(ms: i64) -> i64 {
    use chrono::Datelike;
    DateTime::<Utc>::from_timestamp_millis(ms)
        .and_then(|t| t.date_naive().with_day(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(ms, |t| t.and_utc().timestamp_millis())
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

    /// Every source the store knows, with the kinds of its events (see [`crate::Store::kinds`]).
    fn kinds(&self, budget: &QueryBudget) -> Result<Vec<SourceKinds>, StoreError> {
        let status = self.sources(budget)?;
        Ok(status.iter().map(Into::into).collect())
    }

    /// Counts per bucket and source of the events `filter` matches (its `limit` is ignored),
    /// oldest bucket first.
    fn timeline(
        &self,
        filter: &EventQuery,
        bucket: Bucket,
        budget: &QueryBudget,
    ) -> Result<Vec<TimelineCount>, StoreError>;

    /// Every person the stored events name (see [`Store::people`](crate::Store::people)).
    fn people(&self, budget: &QueryBudget) -> Result<Vec<crate::people::Person>, StoreError> {
        let _ = budget;
        Err(StoreError::Query("this store keeps no people".into()))
    }

    /// The work item naming each event's episode (see
    /// [`Store::sessions`](crate::Store::sessions)).
    fn sessions(
        &self,
        events: &[crate::Event],
        budget: &QueryBudget,
    ) -> Result<Vec<Option<String>>, StoreError> {
        let _ = budget;
        Ok(vec![None; events.len()])
    }

    /// The event `id` of `source_id` (`None`: not stored) and up to `limit` events related to
    /// it (see [`Store::related`](crate::Store::related)).
    fn related(
        &self,
        source_id: &str,
        id: &str,
        limit: usize,
        budget: &QueryBudget,
    ) -> Result<Option<crate::links::Related>, StoreError> {
        let _ = (source_id, id, limit, budget);
        Err(StoreError::Query(
            "this store keeps no links between events".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(q: &str) -> EventQuery {
        EventQuery {
            sources: vec!["b".into(), "a".into()],
            search: Some(q.into()),
            ..EventQuery::default()
        }
    }

    #[test]
    fn a_cursor_survives_its_text_and_garbage_is_refused() {
        let key = QueryKey::new(&filter("fix"), None, None);
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
            assert_eq!(PageCursor::parse(&c.to_text(key), c.order, key), Ok(c));
        }
        let good = PageCursor {
            order: Order::Desc,
            occurred_at_ms: 1,
            seq: 2,
        }
        .to_text(key);
        let (head, bound) = good.rsplit_once('.').unwrap();
        for bad in [
            "",
            "x1.2",
            "d",
            "d1",
            "d1.2",
            "d.2.0",
            "d1..0",
            "dzz.1.0",
            "d1.2.3.4",
            "d11111111111111111.1.0",
            "d+1.2.0",
            &format!("{head}.{}", &bound[1..]),
            &format!("{good}0"),
        ] {
            assert!(
                matches!(
                    PageCursor::parse(bad, Order::Desc, key),
                    Err(PageCursorError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            PageCursor::parse(&good, Order::Asc, key),
            Err(PageCursorError::Order(Order::Desc))
        );
    }

    /// A cursor was taken for any query: `source=web`'s next page read with `source=api`.
    #[test]
    fn regression_a_cursor_of_another_query_is_refused() {
        let key = |f: &EventQuery, since: Option<&str>| QueryKey::new(f, since, None);
        let base = filter("fix");
        let cursor = PageCursor {
            order: Order::Desc,
            occurred_at_ms: 5,
            seq: 6,
        }
        .to_text(key(&base, None));
        let same = EventQuery {
            sources: vec!["a".into(), "b".into(), "a".into()],
            ..base.clone()
        };
        assert!(PageCursor::parse(&cursor, Order::Desc, key(&same, None)).is_ok());
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let others = [
            filter("bug"),
            EventQuery {
                sources: vec!["a".into()],
                ..base.clone()
            },
            EventQuery {
                kinds: vec!["commit".into()],
                ..base.clone()
            },
            EventQuery {
                actor: Some("ada".into()),
                ..base.clone()
            },
            EventQuery {
                since: at("2024-05-01T00:00:00Z"),
                ..base.clone()
            },
            EventQuery {
                until: at("2024-05-01T00:00:00Z"),
                ..base.clone()
            },
            EventQuery {
                outcomes: vec![crate::Outcome::Failure],
                ..base.clone()
            },
        ];
        for other in &others {
            assert_eq!(
                PageCursor::parse(&cursor, Order::Desc, key(other, None)),
                Err(PageCursorError::OtherQuery),
                "{other:?}"
            );
        }
        // `7d` is the same query a moment later; an absolute time is its instant.
        let week = |now: &str| EventQuery {
            since: at(now),
            ..base.clone()
        };
        assert_eq!(
            key(&week("2024-05-01T00:00:00Z"), Some("7d")),
            key(&week("2024-05-01T00:00:09Z"), Some(" 7d"))
        );
        assert_ne!(
            key(&week("2024-05-01T00:00:00Z"), Some("7d")),
            key(&week("2024-05-01T00:00:00Z"), Some("8d"))
        );
        assert_eq!(
            key(&week("2024-05-01T00:00:00Z"), Some("2024-05-01")),
            key(
                &week("2024-05-01T00:00:00Z"),
                Some("2024-05-01T02:00:00+02:00")
            )
        );
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
        assert_eq!(at(Bucket::Month), "2024-05-01T00:00:00+00:00");
        assert_eq!(
            Bucket::Day.start_of(-1),
            -Bucket::Day.fixed_millis().unwrap(),
            "before 1970 rounds down"
        );
        assert_eq!(
            Bucket::Month.start_of(-1),
            -31 * Bucket::Day.fixed_millis().unwrap(),
            "December 1969"
        );
    }

    #[test]
    fn orders_and_buckets_parse_their_names_only() {
        assert_eq!("asc".parse(), Ok(Order::Asc));
        assert!("ASC".parse::<Order>().is_err());
        assert_eq!("week".parse(), Ok(Bucket::Week));
        assert_eq!("month".parse(), Ok(Bucket::Month));
        assert!("year".parse::<Bucket>().is_err());
    }
}
