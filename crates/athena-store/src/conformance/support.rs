//! What the cases share: a source, events at known minutes, batches with a numbered cursor,
//! and reading every page of a query.

use athena_core::recall::{Order, PageQuery, QueryBudget, Recall};
use athena_core::{
    Batch, Cursor, DeadLetter, Event, EventQuery, SourceInfo, SourceState, StateChange, Store,
};
use chrono::{DateTime, TimeZone, Utc};

/// The source most cases write as.
pub(super) fn info() -> SourceInfo {
    source("src")
}

/// A source of type `test` named `id`.
pub(super) fn source(id: &str) -> SourceInfo {
    SourceInfo {
        id: id.into(),
        source_type: "test".into(),
        name: format!("test {id}"),
    }
}

/// 2024-05-01 12:`minute`:00 UTC (minutes past 59 run into the next hours).
pub(super) fn at_minute(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::TimeDelta::minutes(minute.into())
}

/// A `note` event at `minute` with a body naming its id.
pub(super) fn event(id: &str, minute: u32, title: &str, actor: &str) -> Event {
    let mut e = Event::new(id, "note", at_minute(minute), title);
    e.actor = Some(actor.into());
    e.body = format!("body of {id}");
    e.context.insert("repo".into(), "r".into());
    e
}

/// A batch whose cursor is `{"version":1,"next":next}`.
pub(super) fn batch(events: Vec<Event>, next: u64) -> Batch {
    Batch::new(events, cursor(next))
}

/// The cursor [`batch`] gives a batch.
pub(super) fn cursor(next: u64) -> Cursor {
    Cursor::from_json(serde_json::json!({"version":1,"next":next}))
}

/// A batch the fixture's store refuses once told to (see
/// [`Fixture::refuse_marked_batches`](super::Fixture::refuse_marked_batches)): its cursor says
/// `"refuse": true`.
pub(super) fn refused_batch(events: Vec<Event>, next: u64) -> Batch {
    let marked = serde_json::json!({"version":1,"next":next,"refuse":true});
    Batch::new(events, Cursor::from_json(marked))
}

/// A state change: `key` set to `value`, or removed.
pub(super) fn put(key: &str, value: Option<&str>) -> StateChange {
    StateChange {
        key: key.as_bytes().to_vec(),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}

/// A dead letter from `origin`.
pub(super) fn letter(origin: &str) -> DeadLetter {
    DeadLetter {
        origin: origin.into(),
        reason: "bad".into(),
        raw: format!("raw of {origin}"),
    }
}

/// A source's state as sorted text pairs (stores keep it in no particular order).
pub(super) fn state_of(store: &mut impl Store, source_id: &str) -> Vec<(String, String)> {
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let state: SourceState = store.load_state(source_id).unwrap();
    let mut pairs: Vec<_> = state.into_iter().map(|(k, v)| (text(k), text(v))).collect();
    pairs.sort();
    pairs
}

/// The `next` of a source's saved cursor.
pub(super) fn saved_next(store: &mut impl Store, source_id: &str) -> Option<u64> {
    let saved = store.load_cursor(source_id).unwrap()?;
    Some(saved.as_json()["next"].as_u64().unwrap())
}

/// The ids of events, in their order.
pub(super) fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

/// The ids `query_events` answers for `q`, newest first.
pub(super) fn query_ids(store: &impl Store, q: &EventQuery) -> Vec<String> {
    ids(&store.query_events(q).unwrap())
}

/// The ids of every stored event, newest first.
pub(super) fn all_ids(store: &impl Store) -> Vec<String> {
    query_ids(store, &EventQuery::default())
}

/// Reads every page of `filter` in `order`, `limit` at a time, calling `between` after each
/// page; checks that no page is longer than `limit`.
pub(super) fn all_pages(
    recall: &impl Recall,
    filter: &EventQuery,
    order: Order,
    limit: usize,
    mut between: impl FnMut(),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let query = PageQuery {
            filter: filter.clone(),
            order,
            after,
            limit,
        };
        let page = recall.page(&query, &QueryBudget::unlimited()).unwrap();
        assert!(page.events.len() <= limit, "a page longer than its limit");
        seen.extend(ids(&page.events));
        between();
        match page.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}
