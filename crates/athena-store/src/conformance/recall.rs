//! Recall: pages by keyset in both orders, stable while events arrive; one event by its
//! source and id; every query stopped by a spent budget.

use std::time::Duration;

use athena_core::recall::{Bucket, Order, PageQuery, QueryBudget, Recall, Spent};
use athena_core::{CancelToken, Event, EventQuery, Store, StoreError};

use super::support::{all_pages, batch, event, ids, info, query_ids, source};
use super::Fixture;

/// Pages of any size follow each other without repeats or gaps, newest or oldest first;
/// events of the same instant keep their storing order; a page that ends the answer has no
/// next cursor, even when it is exactly full.
pub fn pages_follow_each_other_in_both_orders_and_ties_keep_storing_order<F: Fixture>(f: &F) {
    let mut store = f.open();
    // Two events share minute 2; "2b" is stored after "2a". Storing order is not time order.
    let events = ["3", "1", "2a", "4", "2b"]
        .iter()
        .map(|id| event(id, id[..1].parse().unwrap(), "t", "a"))
        .collect();
    store.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = f.recall(&store);
    let all = EventQuery::default();
    for limit in [1, 2, 3, 5, 6] {
        let desc = all_pages(&recall, &all, Order::Desc, limit, || {});
        assert_eq!(desc, ["4", "3", "2b", "2a", "1"], "limit {limit}");
        let asc = all_pages(&recall, &all, Order::Asc, limit, || {});
        assert_eq!(asc, ["1", "2a", "2b", "3", "4"], "limit {limit}");
    }
    let exact = PageQuery {
        limit: 5,
        ..PageQuery::default()
    };
    let page = recall.page(&exact, &QueryBudget::unlimited()).unwrap();
    assert_eq!(page.events.len(), 5);
    assert!(
        page.next.is_none(),
        "an exactly full last page has a next cursor"
    );
    let short = PageQuery {
        limit: 4,
        ..PageQuery::default()
    };
    let page = recall.page(&short, &QueryBudget::unlimited()).unwrap();
    assert!(
        page.next.is_some(),
        "a page with more after it has no next cursor"
    );
    // A filtered answer pages the same way.
    let only = EventQuery {
        search: Some("t".into()),
        sources: vec!["src".into()],
        ..EventQuery::default()
    };
    assert_eq!(
        all_pages(&recall, &only, Order::Asc, 2, || {}),
        ["1", "2a", "2b", "3", "4"]
    );
}

/// Paging on while events arrive between pages neither repeats nor skips an event that was
/// there when paging began; newer arrivals show on no later page of a newest-first read, and
/// older ones only after everything the read had before them.
pub fn paging_while_events_arrive_repeats_and_skips_nothing<F: Fixture>(f: &F) {
    let mut store = f.open();
    let events = (10..20)
        .map(|m| event(&m.to_string(), m, "t", "a"))
        .collect();
    store.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = f.recall(&store);
    let mut arrived = 0;
    let all = EventQuery::default();
    let seen = all_pages(&recall, &all, Order::Desc, 3, || {
        // A newer event, one at the minute of the newest (after it in storing order, so
        // before it newest first), and an older one arrive.
        let newer = event(&format!("new{arrived}"), 30 + arrived, "t", "a");
        let tied = event(&format!("tie{arrived}"), 19, "t", "a");
        let older = event(&format!("old{arrived}"), 1, "t", "a");
        let arriving = batch(vec![newer, tied, older], 2 + u64::from(arrived));
        store.commit_batch(&info(), &arriving).unwrap();
        arrived += 1;
    });
    let original: Vec<String> = (10..20).rev().map(|m| m.to_string()).collect();
    assert_eq!(seen[..10], original[..], "{seen:?}");
    assert!(
        seen[10..].iter().all(|id| id.starts_with("old")),
        "{seen:?}"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an event shown twice: {seen:?}");
    // Oldest first, the arrivals after the cursor are read, each once.
    let mut arrived = 0;
    let seen = all_pages(&recall, &all, Order::Asc, 4, || {
        if arrived < 3 {
            let newer = event(&format!("later{arrived}"), 50 + arrived, "t", "a");
            store
                .commit_batch(&info(), &batch(vec![newer], 100 + u64::from(arrived)))
                .unwrap();
            arrived += 1;
        }
    });
    assert!(
        seen.ends_with(&["later0".into(), "later1".into(), "later2".into()]),
        "{seen:?}"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an event shown twice: {seen:?}");
    assert_eq!(seen.len(), store.query_events(&all).unwrap().len());
}

/// One event is found by its source and id, and only by both.
pub fn one_event_by_its_source_and_id<F: Fixture>(f: &F) {
    let mut store = f.open();
    let events = vec![
        event("a/1", 1, "fix parser crash", "ann"),
        event("a/2", 2, "add docs", "bob"),
    ];
    store.commit_batch(&info(), &batch(events, 1)).unwrap();
    let theirs = vec![event("a/1", 3, "another source's a/1", "cy")];
    store
        .commit_batch(&source("other"), &batch(theirs, 1))
        .unwrap();
    let recall = f.recall(&store);
    let get = |s: &str, id: &str| {
        let found = recall.event(s, id, &QueryBudget::unlimited()).unwrap();
        found.map(|e| (e.source_id, e.title))
    };
    assert_eq!(
        get("src", "a/1"),
        Some(("src".into(), "fix parser crash".into()))
    );
    assert_eq!(
        get("other", "a/1"),
        Some(("other".into(), "another source's a/1".into()))
    );
    assert_eq!(get("src", "a/3"), None);
    assert_eq!(get("nobody", "a/2"), None);
    assert_eq!(get("src", "A/1"), None, "ids are case-sensitive");
}

/// A budget spent before the query (past its deadline, or cancelled) stops each recall
/// query with `Interrupted`, saying why; an unspent one answers.
pub fn a_spent_budget_interrupts_every_recall_query<F: Fixture>(f: &F) {
    let mut store = f.open();
    store
        .commit_batch(&info(), &batch(vec![event("1", 1, "one", "a")], 1))
        .unwrap();
    let recall = f.recall(&store);
    let expired = QueryBudget::new(Duration::ZERO, CancelToken::new());
    let cancelled = QueryBudget::new(Duration::from_secs(3600), CancelToken::new());
    cancelled.cancel_token().cancel();
    let page = PageQuery {
        limit: 10,
        ..PageQuery::default()
    };
    let all = EventQuery::default();
    for (budget, why) in [
        (&expired, Spent::TimedOut(Duration::ZERO)),
        (&cancelled, Spent::Cancelled),
    ] {
        let answers = [
            recall.page(&page, budget).map(|p| ids(&p.events).len()),
            recall.event("src", "1", budget).map(|e| e.iter().len()),
            recall.sources(budget).map(|s| s.len()),
            recall.timeline(&all, Bucket::Day, budget).map(|t| t.len()),
        ];
        for (n, answer) in answers.into_iter().enumerate() {
            assert!(
                matches!(&answer, Err(StoreError::Interrupted(w)) if *w == why),
                "query {n} with {why:?}: {answer:?}"
            );
        }
    }
    let fresh = QueryBudget::new(Duration::from_secs(60), CancelToken::new());
    assert_eq!(recall.page(&page, &fresh).unwrap().events.len(), 1);
    assert_eq!(recall.timeline(&all, Bucket::Day, &fresh).unwrap().len(), 1);
}

/// A search paged through ten thousand events, whose times are not in storing order, gives
/// exactly the full sorted answer, in both orders and through `query_events`, whether its
/// word is in half the events, an eighth or a few (a store may plan each differently: SQLite
/// does).
pub fn a_search_pages_through_many_events_as_a_full_sort_would<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut all = Vec::new();
    for chunk in 0..10_u64 {
        let events: Vec<Event> = (chunk * 1000..(chunk + 1) * 1000)
            .map(|i| {
                let mut words = vec!["x"];
                for (word, every) in [("common", 2), ("some", 8), ("rare", 1000)] {
                    if i % every == 0 {
                        words.push(word);
                    }
                }
                // Minutes scattered over three days, a few events to a minute.
                let minute = (i * 7919 % 5000) as u32;
                let mut e = event(&format!("e{i}"), minute, "", "a");
                e.title = words.join(" ");
                e
            })
            .collect();
        all.extend(events.iter().cloned());
        store
            .commit_batch(&info(), &batch(events, chunk + 1))
            .unwrap();
    }
    let recall = f.recall(&store);
    for word in ["common", "some", "rare"] {
        // Storing order is the index in `all`: it breaks ties.
        let mut matching: Vec<(usize, &Event)> = (all.iter().enumerate())
            .filter(|(_, e)| e.title.split(' ').any(|w| w == word))
            .collect();
        matching.sort_by_key(|(i, e)| std::cmp::Reverse((e.occurred_at, *i)));
        let want: Vec<String> = matching.iter().map(|(_, e)| e.id.clone()).collect();
        let q = EventQuery {
            search: Some(word.into()),
            ..EventQuery::default()
        };
        assert_eq!(
            all_pages(&recall, &q, Order::Desc, 100, || {}),
            want,
            "{word}"
        );
        let mut asc = want.clone();
        asc.reverse();
        assert_eq!(
            all_pages(&recall, &q, Order::Asc, 100, || {}),
            asc,
            "{word}"
        );
        let newest = EventQuery {
            limit: Some(50),
            ..q.clone()
        };
        let head = &want[..want.len().min(50)];
        assert_eq!(query_ids(&store, &newest), head, "{word}");
    }
}
