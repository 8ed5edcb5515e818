//! The timeline: counts of events per bucket (hour, day, week from Monday, calendar month;
//! UTC) and source, oldest bucket first, empty buckets left out, filters applied.

use athena_core::recall::{Bucket, QueryBudget, Recall};
use athena_core::{Event, EventQuery, Store};

use super::support::{batch, event, info, source};
use super::Fixture;

fn at(id: &str, time: &str) -> Event {
    let mut e = event(id, 0, "t", "a");
    e.occurred_at = time.parse().unwrap();
    e
}

/// `(bucket start, source, count)` of a timeline, sources sorted within a bucket (the
/// order of sources within a bucket is not part of the contract).
fn counts(recall: &impl Recall, q: &EventQuery, bucket: Bucket) -> Vec<(String, String, u64)> {
    let timeline = recall
        .timeline(q, bucket, &QueryBudget::unlimited())
        .unwrap();
    let starts: Vec<_> = timeline.iter().map(|c| c.start).collect();
    assert!(starts.is_sorted(), "buckets out of order: {starts:?}");
    let mut rows: Vec<_> = (timeline.into_iter())
        .map(|c| (c.start.to_rfc3339(), c.source_id, c.count))
        .collect();
    rows.sort();
    rows
}

fn rows(list: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    (list.iter())
        .map(|(t, s, n)| (format!("{t}+00:00"), s.to_string(), *n))
        .collect()
}

/// Hours, days and weeks (from Monday) count each source's events apart, with the
/// query's filters; an empty store or an empty match has no buckets.
pub fn the_timeline_counts_per_hour_day_and_week_and_source<F: Fixture>(f: &F) {
    let mut store = f.open();
    let recall = f.recall(&store);
    let all = EventQuery::default();
    assert!(
        counts(&recall, &all, Bucket::Day).is_empty(),
        "an empty store"
    );
    // 2024-05-01 12:01..12:05 (a Wednesday), and one a day later.
    let mine: Vec<_> = (1..=5)
        .map(|m| event(&m.to_string(), m, "t", "a"))
        .chain([at("late", "2024-05-02T14:00:00Z")])
        .collect();
    store.commit_batch(&info(), &batch(mine, 1)).unwrap();
    // The last millisecond of Sunday, and the first of the next Monday.
    let theirs = vec![
        at("a", "2024-05-01T12:30:00Z"),
        at("b", "2024-05-05T23:59:59.999Z"),
        at("c", "2024-05-06T00:00:00Z"),
    ];
    store
        .commit_batch(&source("other"), &batch(theirs, 1))
        .unwrap();
    let hours = rows(&[
        ("2024-05-01T12:00:00", "other", 1),
        ("2024-05-01T12:00:00", "src", 5),
        ("2024-05-02T14:00:00", "src", 1),
        ("2024-05-05T23:00:00", "other", 1),
        ("2024-05-06T00:00:00", "other", 1),
    ]);
    assert_eq!(counts(&recall, &all, Bucket::Hour), hours);
    let days = rows(&[
        ("2024-05-01T00:00:00", "other", 1),
        ("2024-05-01T00:00:00", "src", 5),
        ("2024-05-02T00:00:00", "src", 1),
        ("2024-05-05T00:00:00", "other", 1),
        ("2024-05-06T00:00:00", "other", 1),
    ]);
    assert_eq!(counts(&recall, &all, Bucket::Day), days);
    let weeks = rows(&[
        ("2024-04-29T00:00:00", "other", 2),
        ("2024-04-29T00:00:00", "src", 6),
        ("2024-05-06T00:00:00", "other", 1),
    ]);
    assert_eq!(counts(&recall, &all, Bucket::Week), weeks);
    let months = rows(&[
        ("2024-05-01T00:00:00", "other", 3),
        ("2024-05-01T00:00:00", "src", 6),
    ]);
    assert_eq!(counts(&recall, &all, Bucket::Month), months);
    let theirs_since = EventQuery {
        sources: vec!["other".into()],
        since: Some("2024-05-02T00:00:00Z".parse().unwrap()),
        ..EventQuery::default()
    };
    let want = rows(&[
        ("2024-04-29T00:00:00", "other", 1),
        ("2024-05-06T00:00:00", "other", 1),
    ]);
    assert_eq!(counts(&recall, &theirs_since, Bucket::Week), want);
    let nothing = EventQuery {
        kinds: vec!["absent".into()],
        ..EventQuery::default()
    };
    assert!(counts(&recall, &nothing, Bucket::Hour).is_empty());
}

/// Months start on their first day whatever their length (leap years too), also before
/// 1970, and agree with `Bucket::start_of`.
pub fn the_timeline_counts_calendar_months_from_their_first_day<F: Fixture>(f: &F) {
    let mut store = f.open();
    let events = vec![
        at("a", "2014-01-31T23:59:59.999Z"),
        at("b", "2014-02-01T00:00:00Z"),
        at("c", "2024-02-29T12:00:00Z"),
        at("d", "2024-02-01T00:00:00.001Z"),
        at("e", "1969-12-31T23:59:59.999Z"),
        at("f", "2025-12-31T23:00:00Z"),
    ];
    store.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = f.recall(&store);
    let months = counts(&recall, &EventQuery::default(), Bucket::Month);
    let want = rows(&[
        ("1969-12-01T00:00:00", "src", 1),
        ("2014-01-01T00:00:00", "src", 1),
        ("2014-02-01T00:00:00", "src", 1),
        ("2024-02-01T00:00:00", "src", 2),
        ("2025-12-01T00:00:00", "src", 1),
    ]);
    assert_eq!(months, want);
    for (start, _, _) in &months {
        let ms = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .timestamp_millis();
        assert_eq!(Bucket::Month.start_of(ms + 86_399_999), ms, "{start}");
    }
}
