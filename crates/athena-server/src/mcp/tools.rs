//! What each tool does, apart from MCP: arguments in, a JSON answer and a one-line summary
//! out, or the reason the arguments were refused. Blocking (they read the store).

use std::collections::BTreeMap;

use athena_core::recall::{Bucket, Order, PageCursor, PageQuery, QueryBudget, QueryKey, Recall};
use athena_core::time::{check_window, parse_time_arg};
use athena_core::{EventQuery, StoreError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::params::{GetEventParams, SearchEventsParams, TimelineParams, DEFAULT_LIMIT, MAX_LIMIT};

/// A tool's result: the structured content, and a line for whoever reads the text.
#[derive(Debug)]
pub(crate) struct Answer {
    pub value: Value,
    pub summary: String,
}

/// Why a call was refused or failed: shown to the agent as the tool's error.
pub(crate) type Refusal = String;

pub(crate) fn search_events(
    recall: &dyn Recall,
    budget: &QueryBudget,
    p: SearchEventsParams,
    now: DateTime<Utc>,
) -> Result<Answer, Refusal> {
    let limit = match p.limit {
        Some(0) => return Err("limit: must be at least 1".into()),
        Some(n) => n.min(MAX_LIMIT),
        None => DEFAULT_LIMIT,
    };
    let (since_text, until_text) = (given(&p.since), given(&p.until));
    let filter = EventQuery {
        sources: p.sources.unwrap_or_default(),
        kinds: p.kinds.unwrap_or_default(),
        actor: p.actor.filter(|a| !a.is_empty()),
        since: time(since_text, "since", now)?,
        until: time(until_text, "until", now)?,
        search: p.query.filter(|q| !q.trim().is_empty()),
        limit: None,
    };
    check_window(filter.since, filter.until, "until").map_err(|e| format!("since: {e}"))?;
    // The cursor is bound to the filters it came with: with others it is refused.
    let key = QueryKey::new(&filter, since_text, until_text);
    let after = p
        .cursor
        .as_deref()
        .map(|c| PageCursor::parse(c, Order::Desc, key).map_err(|e| format!("cursor: {e}")))
        .transpose()?;
    let query = PageQuery {
        filter,
        after,
        limit: limit as usize,
        ..PageQuery::default()
    };
    let page = recall.page(&query, budget).map_err(store_error)?;
    let next = page.next.map(|c| c.to_text(key));
    let mut summary = match (page.events.first(), page.events.last()) {
        (Some(newest), Some(oldest)) => format!(
            "{} from {} to {} (newest first)",
            count(page.events.len(), "event"),
            rfc3339(&oldest.occurred_at),
            rfc3339(&newest.occurred_at),
        ),
        _ => "no events match".to_string(),
    };
    if p.limit.is_some_and(|n| n > MAX_LIMIT) {
        summary.push_str(&format!("; limit lowered to {MAX_LIMIT}"));
    }
    if let Some(next) = &next {
        summary.push_str(&format!("; more with cursor {next}"));
    }
    let events: Vec<Value> = page.events.iter().map(event_json).collect();
    Ok(Answer {
        value: json!({ "events": events, "next_cursor": next }),
        summary,
    })
}

pub(crate) fn get_event(
    recall: &dyn Recall,
    budget: &QueryBudget,
    p: GetEventParams,
) -> Result<Answer, Refusal> {
    match (recall.event(&p.source, &p.id, budget)).map_err(store_error)? {
        Some(event) => Ok(Answer {
            summary: format!(
                "{} {} at {}: {}",
                event.source_id,
                event.kind,
                rfc3339(&event.occurred_at),
                event.title
            ),
            value: json!({ "event": event_json(&event) }),
        }),
        None => Err(format!(
            "no event {:?} in source {:?} (ids come from search_events results; list_sources shows the sources)",
            p.id, p.source
        )),
    }
}

pub(crate) fn list_sources(recall: &dyn Recall, budget: &QueryBudget) -> Result<Answer, Refusal> {
    let status = recall.sources(budget).map_err(store_error)?;
    let total: u64 = status.iter().map(|s| s.events).sum();
    let summary = if status.is_empty() {
        "no source has synced into this store yet".to_string()
    } else {
        format!(
            "{} holding {}: {}",
            count(status.len(), "source"),
            count(total as usize, "event"),
            status
                .iter()
                .map(|s| s.source_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(Answer {
        value: crate::recall::status_json(&status),
        summary,
    })
}

pub(crate) fn timeline(
    recall: &dyn Recall,
    budget: &QueryBudget,
    p: TimelineParams,
    now: DateTime<Utc>,
) -> Result<Answer, Refusal> {
    let bucket = match p.bucket.as_deref() {
        None => Bucket::Day,
        Some(b) => b.parse::<Bucket>().map_err(|e| format!("bucket: {e}"))?,
    };
    let filter = EventQuery {
        sources: p.sources.unwrap_or_default(),
        since: time(given(&p.since), "since", now)?,
        until: time(given(&p.until), "until", now)?,
        ..EventQuery::default()
    };
    check_window(filter.since, filter.until, "until").map_err(|e| format!("since: {e}"))?;
    let counts = (recall.timeline(&filter, bucket, budget)).map_err(store_error)?;
    // One entry per bucket, oldest first, with its count per source.
    let mut buckets: BTreeMap<DateTime<Utc>, BTreeMap<String, u64>> = BTreeMap::new();
    for c in counts {
        *buckets
            .entry(c.start)
            .or_default()
            .entry(c.source_id)
            .or_default() += c.count;
    }
    let total: u64 = buckets.values().flat_map(|s| s.values()).sum();
    let summary = match (buckets.keys().next(), buckets.keys().next_back()) {
        (Some(first), Some(last)) => format!(
            "{} in {} {} buckets, the first starting {}, the last {}",
            count(total as usize, "event"),
            buckets.len(),
            bucket.as_str(),
            rfc3339(first),
            rfc3339(last)
        ),
        _ => "no events in this range".to_string(),
    };
    let buckets: Vec<Value> = buckets
        .into_iter()
        .map(|(start, sources)| {
            json!({
                "start": rfc3339(&start),
                "count": sources.values().sum::<u64>(),
                "sources": sources,
            })
        })
        .collect();
    Ok(Answer {
        value: json!({ "bucket": bucket.as_str(), "total": total, "buckets": buckets }),
        summary,
    })
}

/// A time argument, if one was given: blank is none.
fn given(arg: &Option<String>) -> Option<&str> {
    arg.as_deref().filter(|t| !t.trim().is_empty())
}

fn time(
    arg: Option<&str>,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Refusal> {
    arg.map(|t| parse_time_arg(t, now).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

/// A malformed full-text query is the caller's to fix; anything else is the store's trouble,
/// said as plainly.
fn store_error(e: StoreError) -> Refusal {
    match e {
        StoreError::Query(m) => format!("query: {m}"),
        e @ StoreError::TooCostly(_) => format!("query: {e}"),
        StoreError::Interrupted(spent) => interrupted(spent),
        other => format!("reading the store failed: {other}"),
    }
}

/// A query stopped by its budget: what to do about it.
pub(crate) fn interrupted(spent: athena_core::recall::Spent) -> Refusal {
    match spent {
        athena_core::recall::Spent::TimedOut(_) => format!(
            "{spent}, and was stopped: narrow it (a shorter since/until window, rarer words, fewer terms, a smaller limit)"
        ),
        _ => format!("{spent}: the server is stopping"),
    }
}

/// An event as `events --format jsonl` prints it.
fn event_json(e: &athena_core::Event) -> Value {
    serde_json::to_value(e).unwrap_or_else(|err| json!({ "error": err.to_string() }))
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::recall::{Page, TimelineCount};
    use athena_core::{Event, SourceStatus};

    /// Answers from fixed data, and remembers the last page asked for.
    #[derive(Default)]
    struct Fixed {
        events: Vec<Event>,
        asked: std::sync::Mutex<Option<PageQuery>>,
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
            Ok(vec![
                TimelineCount {
                    start: at("2024-05-01T00:00:00Z"),
                    source_id: "a".into(),
                    count: 2,
                },
                TimelineCount {
                    start: at("2024-05-01T00:00:00Z"),
                    source_id: "b".into(),
                    count: 1,
                },
                TimelineCount {
                    start: at("2024-05-03T00:00:00Z"),
                    source_id: "a".into(),
                    count: 4,
                },
            ])
        }
    }

    fn free() -> QueryBudget {
        QueryBudget::unlimited()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn search_applies_defaults_and_caps_and_hands_back_a_cursor() {
        let recall = Fixed::default();
        let answer = search_events(
            &recall,
            &free(),
            SearchEventsParams {
                since: Some("7d".into()),
                limit: Some(5000),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        let asked = recall.asked.lock().unwrap().clone().unwrap();
        assert_eq!(asked.limit, MAX_LIMIT as usize);
        assert_eq!(
            asked.filter.since.unwrap().to_rfc3339(),
            "2024-05-25T00:00:00+00:00"
        );
        let key = QueryKey::new(&asked.filter, Some("7d"), None);
        let next = answer.value["next_cursor"].as_str().unwrap();
        assert_eq!(
            PageCursor::parse(next, Order::Desc, key).map(|c| (c.occurred_at_ms, c.seq)),
            Ok((1, 2))
        );
        assert!(
            answer.summary.contains("limit lowered to 200"),
            "{}",
            answer.summary
        );

        search_events(&recall, &free(), SearchEventsParams::default(), now()).unwrap();
        let asked = recall.asked.lock().unwrap().clone().unwrap();
        assert_eq!(asked.limit, DEFAULT_LIMIT as usize);
    }

    #[test]
    fn bad_arguments_are_refused_with_the_reason() {
        let recall = Fixed::default();
        let refuse = |p: SearchEventsParams| search_events(&recall, &free(), p, now()).unwrap_err();
        let e = refuse(SearchEventsParams {
            since: Some("yesterday-ish".into()),
            ..Default::default()
        });
        assert!(e.starts_with("since: "), "{e}");
        let e = refuse(SearchEventsParams {
            cursor: Some("garbage".into()),
            ..Default::default()
        });
        assert!(e.starts_with("cursor: "), "{e}");
        let e = refuse(SearchEventsParams {
            query: Some("\"".into()),
            ..Default::default()
        });
        assert_eq!(e, "query: unterminated string");
        let e = refuse(SearchEventsParams {
            limit: Some(0),
            ..Default::default()
        });
        assert!(e.starts_with("limit: "), "{e}");
        let e = timeline(
            &recall,
            &free(),
            TimelineParams {
                bucket: Some("year".into()),
                ..Default::default()
            },
            now(),
        )
        .unwrap_err();
        assert!(e.contains("hour, day, week or month"), "{e}");
        let e = refuse(SearchEventsParams {
            since: Some("2024-05-02".into()),
            until: Some("2024-05-01".into()),
            ..Default::default()
        });
        assert!(e.starts_with("since: ") && e.contains("after until"), "{e}");
        let e = get_event(
            &recall,
            &free(),
            GetEventParams {
                source: "s".into(),
                id: "nope".into(),
            },
        )
        .unwrap_err();
        assert!(e.starts_with("no event \"nope\""), "{e}");
    }

    #[test]
    fn a_timeline_has_one_entry_per_bucket_with_its_sources() {
        let answer =
            timeline(&Fixed::default(), &free(), TimelineParams::default(), now()).unwrap();
        assert_eq!(
            answer.value,
            json!({
                "bucket": "day",
                "total": 7,
                "buckets": [
                    {"start": "2024-05-01T00:00:00Z", "count": 3, "sources": {"a": 2, "b": 1}},
                    {"start": "2024-05-03T00:00:00Z", "count": 4, "sources": {"a": 4}},
                ],
            })
        );
        assert!(
            answer.summary.starts_with("7 events in 2 day buckets"),
            "{}",
            answer.summary
        );
    }
}
