//! Tests of recall on SQLite: the search plans page as a full sort would, a plan's reuse,
//! and a query stopped mid-run by its budget (the rest of recall is in the conformance suite).

use std::time::Duration;

use athena_core::recall::{PageQuery, QueryBudget, Spent};
use athena_core::{CancelToken, EventQuery, Store, StoreError};

use super::{batch, event, info};
use crate::SqliteStore;

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
