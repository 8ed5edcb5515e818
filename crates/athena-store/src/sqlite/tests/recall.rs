//! Tests of recall: pages by keyset in both orders, a cursor stable while events arrive, one
//! event by id, timeline buckets, a malformed search named as the search's fault, a query
//! stopped by its budget, and a search over the cost bounds refused before it runs.

use std::time::Duration;

use athena_core::recall::{Bucket, Order, PageQuery, QueryBudget, Recall, Spent};
use athena_core::{CancelToken, EventQuery, Store, StoreError};

use super::{batch, event, info};
use crate::{SqliteRecall, SqliteStore};

fn ids(events: &[athena_core::Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

/// Reads every page of `order`, `limit` at a time, calling `between` after each page.
fn all_pages(
    recall: &SqliteRecall,
    order: Order,
    limit: usize,
    mut between: impl FnMut(),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = recall
            .page(
                &PageQuery {
                    order,
                    after,
                    limit,
                    ..PageQuery::default()
                },
                &QueryBudget::unlimited(),
            )
            .unwrap();
        assert!(page.events.len() <= limit);
        seen.extend(page.events.iter().map(|e| e.id.clone()));
        between();
        match page.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}

#[test]
fn pages_follow_each_other_in_both_orders_and_ties_keep_storing_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    // Two events share minute 2: storing order breaks the tie.
    let events = ["1", "2a", "2b", "3", "4"]
        .iter()
        .map(|id| event(id, id[..1].parse().unwrap(), "t", "a"))
        .collect();
    s.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = SqliteRecall::open(&path, 2).unwrap();
    assert_eq!(
        all_pages(&recall, Order::Desc, 2, || {}),
        ["4", "3", "2b", "2a", "1"]
    );
    assert_eq!(
        all_pages(&recall, Order::Asc, 2, || {}),
        ["1", "2a", "2b", "3", "4"]
    );
    // An exact fit has no next page.
    let page = recall
        .page(
            &PageQuery {
                limit: 5,
                ..PageQuery::default()
            },
            &QueryBudget::unlimited(),
        )
        .unwrap();
    assert_eq!(page.events.len(), 5);
    assert!(page.next.is_none());
}

#[test]
fn a_cursor_stays_valid_while_new_events_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    let events = (10..20)
        .map(|m| event(&m.to_string(), m, "t", "a"))
        .collect();
    s.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = SqliteRecall::open(&path, 1).unwrap();
    let mut next_id = 50;
    let seen = all_pages(&recall, Order::Desc, 3, || {
        // Newer events, and one older than everything, arrive between pages.
        let newer = event(&next_id.to_string(), 30 + next_id % 10, "t", "a");
        let older = event(&format!("old{next_id}"), 1, "t", "a");
        s.commit_batch(&info(), &batch(vec![newer, older], 2))
            .unwrap();
        next_id += 1;
    });
    let first_page_then_rest: Vec<String> = (10..20).rev().map(|m| m.to_string()).collect();
    // The original ten in order, none twice, none skipped; older arrivals may follow them.
    assert_eq!(seen[..10], first_page_then_rest[..]);
    assert!(
        seen[10..].iter().all(|id| id.starts_with("old")),
        "{seen:?}"
    );
}

#[test]
fn one_event_by_source_and_id_and_a_filtered_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    let events = vec![
        event("a/1", 1, "fix parser crash", "ann"),
        event("a/2", 2, "add docs", "bob"),
    ];
    s.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = SqliteRecall::open(&path, 1).unwrap();
    let e = recall
        .event("src", "a/1", &QueryBudget::unlimited())
        .unwrap()
        .unwrap();
    assert_eq!(e.title, "fix parser crash");
    assert!(recall
        .event("src", "a/3", &QueryBudget::unlimited())
        .unwrap()
        .is_none());
    assert!(recall
        .event("other", "a/1", &QueryBudget::unlimited())
        .unwrap()
        .is_none());
    let page = recall
        .page(
            &PageQuery {
                filter: EventQuery {
                    search: Some("docs".into()),
                    ..EventQuery::default()
                },
                limit: 10,
                ..PageQuery::default()
            },
            &QueryBudget::unlimited(),
        )
        .unwrap();
    assert_eq!(ids(&page.events), ["a/2"]);
    let bad = recall.page(
        &PageQuery {
            filter: EventQuery {
                search: Some("\"unclosed".into()),
                ..EventQuery::default()
            },
            limit: 10,
            ..PageQuery::default()
        },
        &QueryBudget::unlimited(),
    );
    assert!(matches!(bad, Err(StoreError::Query(_))), "{bad:?}");
    assert_eq!(
        recall.sources(&QueryBudget::unlimited()).unwrap()[0].events,
        2
    );
}

#[test]
fn the_timeline_counts_per_bucket_and_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    // 2024-05-01 12:01..12:05, and one a day later.
    let mut events: Vec<_> = (1..=5)
        .map(|m| event(&m.to_string(), m, "t", "a"))
        .collect();
    let mut late = event("late", 0, "t", "a");
    late.occurred_at += chrono::TimeDelta::days(1) + chrono::TimeDelta::hours(2);
    events.push(late);
    s.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = SqliteRecall::open(&path, 1).unwrap();
    let counts = |bucket| {
        recall
            .timeline(&EventQuery::default(), bucket, &QueryBudget::unlimited())
            .unwrap()
            .into_iter()
            .map(|c| (c.start.to_rfc3339(), c.source_id, c.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counts(Bucket::Day),
        [
            (
                "2024-05-01T00:00:00+00:00".to_string(),
                "src".to_string(),
                5
            ),
            (
                "2024-05-02T00:00:00+00:00".to_string(),
                "src".to_string(),
                1
            ),
        ]
    );
    assert_eq!(counts(Bucket::Hour)[1].0, "2024-05-02T14:00:00+00:00");
    // 2024-05-01 was a Wednesday: its week began on Monday the 29th of April.
    assert_eq!(
        counts(Bucket::Week),
        [(
            "2024-04-29T00:00:00+00:00".to_string(),
            "src".to_string(),
            6
        )]
    );
}

#[test]
fn the_timeline_counts_calendar_months_from_their_first_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    let at = |id: &str, t: &str| {
        let mut e = event(id, 0, "t", "a");
        e.occurred_at = t.parse().unwrap();
        e
    };
    let events = vec![
        at("a", "2014-01-31T23:59:59.999Z"),
        at("b", "2014-02-01T00:00:00Z"),
        at("c", "2024-02-29T12:00:00Z"),
        at("d", "2024-02-01T00:00:00.001Z"),
        at("e", "1969-12-31T23:59:59.999Z"),
        at("f", "2025-12-31T23:00:00Z"),
    ];
    s.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = SqliteRecall::open(&path, 1).unwrap();
    let months: Vec<(String, u64)> = recall
        .timeline(
            &EventQuery::default(),
            Bucket::Month,
            &QueryBudget::unlimited(),
        )
        .unwrap()
        .into_iter()
        .map(|c| (c.start.to_rfc3339(), c.count))
        .collect();
    let want = [
        ("1969-12-01T00:00:00+00:00", 1),
        ("2014-01-01T00:00:00+00:00", 1),
        ("2014-02-01T00:00:00+00:00", 1),
        ("2024-02-01T00:00:00+00:00", 2),
        ("2025-12-01T00:00:00+00:00", 1),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    assert_eq!(months, want);
    // The store and the core agree on where a month starts.
    for (start, _) in &months {
        let ms = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .timestamp_millis();
        assert_eq!(Bucket::Month.start_of(ms + 86_399_999), ms, "{start}");
    }
}

#[test]
fn every_search_plan_pages_exactly_as_a_full_sort_would() {
    use crate::sqlite::search::SearchPlan;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    // 60,000 events whose times are not in storing order: "common" in half (probed row by
    // row), "medium" in a tenth (the walk testing a set), "rare" in 60 (sorted).
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut all = Vec::new();
    for chunk in 0..60 {
        let events: Vec<_> = (chunk * 1000..(chunk + 1) * 1000)
            .map(|i: u64| {
                let mut words = vec!["x"];
                if i.is_multiple_of(2) {
                    words.push("common");
                }
                if i.is_multiple_of(10) {
                    words.push("medium");
                }
                if i.is_multiple_of(1000) {
                    words.push("rare");
                }
                // Minutes scattered over a year, several events to a minute.
                let minute = (i.wrapping_mul(7919) % 20_000) as i64;
                let mut e = athena_core::Event::new(
                    format!("e{i}"),
                    "note",
                    base + chrono::TimeDelta::minutes(minute),
                    words.join(" "),
                );
                e.body = String::new();
                e
            })
            .collect();
        all.extend(events.iter().cloned());
        s.commit_batch(&info(), &batch(events, chunk + 1)).unwrap();
    }
    for (word, plan) in [
        ("common", SearchPlan::WalkProbing),
        ("medium", SearchPlan::WalkTestingSet),
        ("rare", SearchPlan::SortMatches),
    ] {
        assert_eq!(s.search_plan(&format!("\"{word}\"")), plan, "{word}");
        // Storing order is the index in `all`, which breaks ties as seq does.
        let mut expected: Vec<(usize, &athena_core::Event)> = (all.iter().enumerate())
            .filter(|(_, e)| e.title.split(' ').any(|w| w == word))
            .collect();
        expected.sort_by_key(|(i, e)| std::cmp::Reverse((e.occurred_at, *i)));
        let expected: Vec<&str> = expected
            .iter()
            .take(150)
            .map(|(_, e)| e.id.as_str())
            .collect();
        let mut seen = Vec::new();
        let mut after = None;
        for _ in 0..3 {
            let page = s
                .select_page(&PageQuery {
                    filter: EventQuery {
                        search: Some(word.into()),
                        ..EventQuery::default()
                    },
                    after,
                    limit: 50,
                    ..PageQuery::default()
                })
                .unwrap();
            seen.extend(page.events.iter().map(|e| e.id.clone()));
            after = page.next;
            if after.is_none() {
                break;
            }
        }
        assert_eq!(seen, expected, "{word}");
    }
}

#[test]
fn a_search_plan_is_kept_until_the_store_has_grown_by_a_tenth() {
    use crate::sqlite::search::SearchPlan;
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    let add = |s: &mut SqliteStore, from: u64, n: u64, title: &str, next: u64| {
        let events = (from..from + n)
            .map(|i| event(&format!("e{i}"), (i % 60) as u32, title, "a"))
            .collect();
        s.commit_batch(&info(), &batch(events, next)).unwrap();
    };
    // 1,500 events, all matching: most rows match, so rows are probed.
    add(&mut s, 0, 1_500, "word", 1);
    assert_eq!(s.search_plan("\"word\""), SearchPlan::WalkProbing);
    // 100 more that do not match: the store grew by less than a tenth, the plan stays.
    add(&mut s, 1_500, 100, "other", 2);
    assert_eq!(s.search_plan("\"word\""), SearchPlan::WalkProbing);
    // Many more: counted again, the matches are now a few percent, walked against a set.
    add(&mut s, 1_600, 20_000, "other", 3);
    assert_eq!(s.search_plan("\"word\""), SearchPlan::WalkTestingSet);
}

/// Counts to a billion: minutes of work, unless stopped.
const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
     SELECT count(*) FROM (SELECT x FROM c LIMIT 1000000000)";

fn count_endlessly(s: &SqliteStore) -> Result<i64, StoreError> {
    (s.connection_handle().query_row(ENDLESS, [], |r| r.get(0)))
        .map_err(|e| StoreError::Backend(e.into()))
}

#[test]
fn a_query_past_its_time_limit_is_stopped_and_the_connection_reads_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    let budget = QueryBudget::new(Duration::from_millis(50), CancelToken::new());
    let stopped = s.within(&budget, count_endlessly);
    assert!(
        matches!(
            stopped,
            Err(StoreError::Interrupted(Spent::TimedOut(limit))) if limit == Duration::from_millis(50)
        ),
        "{stopped:?}"
    );
    // The handler went with the query: the next one runs to its end.
    let one = s.within(&QueryBudget::unlimited(), |s| {
        (s.connection_handle()
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
        .map_err(|e| StoreError::Backend(e.into()))
    });
    assert_eq!(one.unwrap(), 1);
}

#[test]
fn a_query_whose_caller_went_away_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    let budget = QueryBudget::new(Duration::from_secs(3600), CancelToken::new());
    let cancel = budget.cancel_token().clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        cancel.cancel();
    });
    let stopped = s.within(&budget, count_endlessly);
    canceller.join().unwrap();
    assert!(
        matches!(stopped, Err(StoreError::Interrupted(Spent::Cancelled))),
        "{stopped:?}"
    );
}

#[test]
fn a_search_over_the_cost_bounds_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.commit_batch(&info(), &batch(vec![event("a/1", 1, "get it", "ann")], 1))
        .unwrap();
    let recall = SqliteRecall::open(&path, 1).unwrap();
    let search = |q: String| PageQuery {
        filter: EventQuery {
            search: Some(q),
            ..EventQuery::default()
        },
        limit: 10,
        ..PageQuery::default()
    };
    let many = vec!["get"; 100].join(" OR ");
    let refused = recall.page(&search(many), &QueryBudget::unlimited());
    assert!(
        matches!(&refused, Err(StoreError::TooCostly(m)) if m.starts_with("100 terms")),
        "{refused:?}"
    );
    let fine = recall.page(&search("get OR it".into()), &QueryBudget::unlimited());
    assert_eq!(fine.unwrap().events.len(), 1);
}
