//! The tools' questions through the recall service, over a store of fixed answers: the
//! defaults, limits and refusals they share with the HTTP API, and the lines they add.

use std::sync::{Arc, Mutex};

use athena_core::recall::{
    Bucket, Order, Page, PageCursor, PageQuery, QueryBudget, QueryKey, Recall, TimelineCount,
};
use athena_core::{CancelToken, Event, EventQuery, SourceStatus, StoreError};
use serde_json::json;

use super::*;
use crate::recall::params::{EventParams, EventsParams, TimelineParams};
use crate::recall::{Limits, RecallError, RecallService};

/// Answers from fixed data, and remembers the last page asked for.
#[derive(Default)]
struct Fixed {
    events: Vec<Event>,
    asked: Mutex<Option<PageQuery>>,
}

impl Recall for Fixed {
    fn page(&self, query: &PageQuery, _: &QueryBudget) -> Result<Page, StoreError> {
        if query.filter.search.as_deref() == Some("\"") {
            return Err(StoreError::Query("unterminated string".into()));
        }
        *self.asked.lock().unwrap() = Some(query.clone());
        Ok(Page {
            events: self.events.clone(),
            next: Some(PageCursor {
                order: query.order,
                occurred_at_ms: 1,
                seq: 2,
            }),
        })
    }
    fn event(&self, _: &str, id: &str, _: &QueryBudget) -> Result<Option<Event>, StoreError> {
        Ok(self.events.iter().find(|e| e.id == id).cloned())
    }
    fn sources(&self, _: &QueryBudget) -> Result<Vec<SourceStatus>, StoreError> {
        Ok(Vec::new())
    }
    fn timeline(
        &self,
        _: &EventQuery,
        _: Bucket,
        _: &QueryBudget,
    ) -> Result<Vec<TimelineCount>, StoreError> {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let row = |start: &str, source: &str, count| TimelineCount {
            start: at(start),
            source_id: source.into(),
            count,
        };
        Ok(vec![
            row("2024-05-01T00:00:00Z", "a", 2),
            row("2024-05-01T00:00:00Z", "b", 1),
            row("2024-05-03T00:00:00Z", "a", 4),
        ])
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

fn service(store: Arc<Fixed>) -> RecallService {
    RecallService::new(store, Arc::default(), Limits::default(), CancelToken::new())
}

fn events_at(times: &[&str]) -> Vec<Event> {
    (times.iter().enumerate())
        .map(|(i, t)| {
            let mut e = Event::new(format!("e{i}"), "commit", t.parse().unwrap(), "fix");
            e.source_id = "s".into();
            e
        })
        .collect()
}

#[tokio::test]
async fn search_takes_the_http_default_and_hands_back_a_bound_cursor() {
    let store = Arc::new(Fixed {
        events: events_at(&["2024-05-02T00:00:00Z", "2024-05-01T00:00:00Z"]),
        ..Fixed::default()
    });
    let params: EventsParams = serde_json::from_value(json!({"since": "7d"})).unwrap();
    let (page, summary) = service(store.clone())
        .events(&params, now(), |p| {
            let p = p.map(|e| crate::mcp::brief::Listed::new(e, false));
            let summary = events(&p);
            (p, summary)
        })
        .await
        .unwrap();
    let asked = store.asked.lock().unwrap().clone().unwrap();
    assert_eq!(asked.limit, 50, "the HTTP API's default");
    assert_eq!(
        asked.filter.since.unwrap().to_rfc3339(),
        "2024-05-25T00:00:00+00:00"
    );
    let key = QueryKey::new(&asked.filter, Some("7d"), None);
    let next = page.next_cursor.as_deref().unwrap();
    assert_eq!(
        PageCursor::parse(next, Order::Desc, key).map(|c| (c.occurred_at_ms, c.seq)),
        Ok((1, 2))
    );
    assert_eq!(
        summary,
        format!("2 events from 2024-05-01T00:00:00Z to 2024-05-02T00:00:00Z (newest first); more with cursor {next}")
    );
}

#[tokio::test]
async fn refusals_are_the_http_apis_words() {
    let recall = service(Arc::new(Fixed::default()));
    let refuse = |args: serde_json::Value| {
        let recall = recall.clone();
        async move {
            let params: EventsParams = serde_json::from_value(args).unwrap();
            recall
                .events(&params, now(), drop)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert!(refuse(json!({"since": "yesterday-ish"}))
        .await
        .starts_with("parameter since: "));
    assert!(refuse(json!({"cursor": "garbage"}))
        .await
        .starts_with("parameter cursor: "));
    assert_eq!(
        refuse(json!({"q": "\""})).await,
        "parameter q: not a full-text query SQLite accepts: unterminated string"
    );
    let missing = EventParams {
        source: "s".into(),
        id: "nope".into(),
        format: Default::default(),
    };
    let e = recall.event(&missing, drop).await.unwrap_err();
    assert!(matches!(e, RecallError::NotFound { .. }));
    assert_eq!(
        e.to_string(),
        "no event \"nope\" of source \"s\" in the store"
    );
}

#[tokio::test]
async fn a_timeline_is_the_http_apis_rows_with_a_line_that_counts_them() {
    let recall = service(Arc::new(Fixed::default()));
    let (value, summary) = recall
        .timeline(&TimelineParams::default(), now(), |t| {
            (serde_json::to_value(&t).unwrap(), timeline(&t))
        })
        .await
        .unwrap();
    assert_eq!(value["bucket"], "day");
    assert_eq!(value["counts"].as_array().unwrap().len(), 3);
    assert_eq!(
        value["counts"][0],
        json!({"start": "2024-05-01T00:00:00Z", "source": "a", "count": 2})
    );
    assert_eq!(
        summary,
        "7 events in 2 day buckets, the first starting 2024-05-01T00:00:00Z, the last 2024-05-03T00:00:00Z"
    );
}

#[tokio::test]
async fn an_event_in_either_shape_has_its_line() {
    let store = Arc::new(Fixed {
        events: events_at(&["2024-05-02T00:00:00Z"]),
        ..Fixed::default()
    });
    for format in ["jsonl", "athena"] {
        let params: EventParams =
            serde_json::from_value(json!({"source": "s", "id": "e0", "format": format})).unwrap();
        let line = service(store.clone())
            .event(&params, |e| event(&e))
            .await
            .unwrap();
        assert_eq!(line, "s commit at 2024-05-02T00:00:00Z: fix", "{format}");
    }
}
