//! Filters and full-text search: each filter narrows `query_events`, recall's pages and the
//! timeline alike; search semantics as the docs promise them (every plain word, a phrase,
//! `OR`, `NOT`, a prefix), and a search that cannot run is refused as the caller's fault.

use athena_core::recall::{Bucket, Order, PageQuery, QueryBudget, Recall};
use athena_core::{DeadLetter, Event, EventQuery, Outcome, Store, StoreError};

use super::support::{all_pages, at_minute, batch, event, info, query_ids, source};
use super::Fixture;

/// Six events of three sources, four kinds, several actors (one none) and two hours.
fn fill<S: Store>(store: &mut S) {
    let with = |id: &str, minute, kind: &str, actor: Option<&str>, title: &str, body: &str| {
        let mut e = event(id, minute, title, "");
        e.kind = kind.into();
        e.actor = actor.map(str::to_string);
        e.body = body.into();
        e
    };
    let src = vec![
        with(
            "1",
            1,
            "commit",
            Some("Ann Lee"),
            "fix parser crash",
            "the lexer overflowed",
        ),
        with(
            "2",
            2,
            "note",
            Some("bob"),
            "add docs",
            "explain the parser",
        ),
        with(
            "3",
            3,
            "commit",
            Some("ann lee"),
            "parser: speed up",
            "faster tokens",
        ),
    ];
    store.commit_batch(&info(), &batch(src, 3)).unwrap();
    let other = vec![
        with(
            "4",
            4,
            "issue_opened",
            Some("Cy"),
            "crash on start",
            "rate limit exceeded",
        ),
        with(
            "5",
            5,
            "note",
            None,
            "Rate limiting notes",
            "the limit of the rate",
        ),
    ];
    store
        .commit_batch(&source("other"), &batch(other, 5))
        .unwrap();
    let web = vec![with(
        "6",
        65,
        "http_request",
        Some("bob"),
        "GET /health",
        "",
    )];
    store.commit_batch(&source("web"), &batch(web, 6)).unwrap();
}

/// Checks that `q` selects `want` (newest first) through `query_events`, through recall's
/// pages in both orders, and in the timeline's counts.
fn check<S: Store, R: Recall>(store: &S, recall: &R, q: &EventQuery, want: &[&str]) {
    assert_eq!(query_ids(store, q), want, "query_events {q:?}");
    assert_eq!(
        all_pages(recall, q, Order::Desc, 2, || {}),
        want,
        "pages {q:?}"
    );
    let mut asc = want.to_vec();
    asc.reverse();
    assert_eq!(
        all_pages(recall, q, Order::Asc, 2, || {}),
        asc,
        "pages {q:?}"
    );
    let counts = recall
        .timeline(q, Bucket::Day, &QueryBudget::unlimited())
        .unwrap();
    let counted: u64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(counted, want.len() as u64, "timeline {q:?}");
}

/// A query with `edit` applied to the empty filter.
fn query(edit: impl FnOnce(&mut EventQuery)) -> EventQuery {
    let mut q = EventQuery::default();
    edit(&mut q);
    q
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// Sources, kinds, actor, since (inclusive), until (exclusive), search and their
/// combinations select the same events in every query; `limit` cuts `query_events`.
pub fn every_filter_narrows_queries_pages_and_the_timeline_alike<F: Fixture>(f: &F) {
    let mut store = f.open();
    fill(&mut store);
    let recall = f.recall(&store);
    let cases: Vec<(EventQuery, &[&str])> = vec![
        (query(|_| {}), &["6", "5", "4", "3", "2", "1"]),
        (query(|q| q.sources = strings(&["src"])), &["3", "2", "1"]),
        (
            query(|q| q.sources = strings(&["web", "other"])),
            &["6", "5", "4"],
        ),
        (query(|q| q.sources = strings(&["nobody"])), &[]),
        (query(|q| q.kinds = strings(&["commit"])), &["3", "1"]),
        (
            query(|q| q.kinds = strings(&["note", "http_request"])),
            &["6", "5", "2"],
        ),
        (query(|q| q.actor = Some("ANN".into())), &["3", "1"]),
        (query(|q| q.actor = Some("ob".into())), &["6", "2"]),
        (
            query(|q| q.since = Some(at_minute(2))),
            &["6", "5", "4", "3", "2"],
        ),
        (query(|q| q.until = Some(at_minute(2))), &["1"]),
        (query(|q| q.until = Some(at_minute(1))), &[]),
        (query(|q| q.search = Some("crash".into())), &["4", "1"]),
        (
            query(|q| (q.since, q.until) = (Some(at_minute(2)), Some(at_minute(4)))),
            &["3", "2"],
        ),
        (
            query(|q| (q.since, q.until) = (Some(at_minute(3)), Some(at_minute(3)))),
            &[],
        ),
        (
            query(|q| (q.sources, q.search) = (strings(&["other"]), Some("crash".into()))),
            &["4"],
        ),
        (
            EventQuery {
                sources: strings(&["src", "other"]),
                kinds: strings(&["commit", "issue_opened"]),
                actor: Some("lee".into()),
                since: Some(at_minute(2)),
                until: Some(at_minute(60)),
                search: Some("parser".into()),
                ..EventQuery::default()
            },
            &["3"],
        ),
    ];
    for (q, want) in &cases {
        check(&store, &recall, q, want);
    }
    let limited = query(|q| q.limit = Some(2));
    assert_eq!(query_ids(&store, &limited), ["6", "5"]);
    assert!(query_ids(&store, &query(|q| q.limit = Some(0))).is_empty());
}

/// The actor filter finds the text anywhere in the actor, ignoring ASCII case; `%`, `_` and
/// `\` in it are plain characters; events without an actor never match.
pub fn the_actor_filter_is_a_case_insensitive_substring_without_wildcards<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut nobody = event("6", 6, "six", "");
    nobody.actor = None;
    let events = vec![
        event("1", 1, "one", "ann"),
        event("2", 2, "two", "100% bob"),
        event("3", 3, "three", "a_b"),
        event("4", 4, "four", "axb"),
        event("5", 5, "five", "c\\d"),
        nobody,
    ];
    store.commit_batch(&info(), &batch(events, 5)).unwrap();
    let recall = f.recall(&store);
    let by = |actor: &str, want: &[&str]| {
        let q = EventQuery {
            actor: Some(actor.into()),
            ..Default::default()
        };
        check(&store, &recall, &q, want);
    };
    by("%", &["2"]);
    by("a_b", &["3"]);
    by("\\", &["5"]);
    by("B", &["4", "3", "2"]);
    by("0% B", &["2"]);
    by("ANN", &["1"]);
    by("zed", &[]);
}

/// A limit larger than any count (`usize::MAX`) means all of them, in `query_events`,
/// `dead_letters` and a page.
pub fn a_limit_beyond_any_count_returns_everything<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut b = batch(
        vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
        2,
    );
    b.dead_letters.push(DeadLetter {
        origin: "x:1".into(),
        reason: "bad".into(),
        raw: "?".into(),
    });
    store.commit_batch(&info(), &b).unwrap();
    let all = EventQuery {
        limit: Some(usize::MAX),
        ..Default::default()
    };
    assert_eq!(query_ids(&store, &all), ["2", "1"]);
    assert_eq!(store.dead_letters(None, usize::MAX).unwrap().len(), 1);
    let recall = f.recall(&store);
    let page = PageQuery {
        limit: usize::MAX,
        ..PageQuery::default()
    };
    let page = recall.page(&page, &QueryBudget::unlimited()).unwrap();
    assert_eq!(page.events.len(), 2);
    assert!(page.next.is_none());
}

fn search<S: Store, R: Recall>(store: &S, recall: &R, text: &str, want: &[&str]) {
    let q = EventQuery {
        search: Some(text.into()),
        ..Default::default()
    };
    check(store, recall, &q, want);
}

/// Plain words must all match, each in the title or the body, in any order and case.
pub fn full_text_plain_words_must_all_match<F: Fixture>(f: &F) {
    let mut store = f.open();
    fill(&mut store);
    let recall = f.recall(&store);
    search(&store, &recall, "parser", &["3", "2", "1"]);
    search(&store, &recall, "parser crash", &["1"]);
    search(&store, &recall, "crash parser", &["1"]);
    search(&store, &recall, "lexer crash", &["1"]);
    search(&store, &recall, "PARSER Crash", &["1"]);
    search(&store, &recall, "rate limit", &["5", "4"]);
    search(&store, &recall, "tokens", &["3"]);
    search(&store, &recall, "parser absent", &[]);
    search(&store, &recall, "absent", &[]);
}

/// A quoted phrase matches its words next to each other in that order; `OR` either side;
/// `a NOT b` what has `a` and not `b`; `word*` every word it begins.
pub fn full_text_phrases_or_not_and_prefixes<F: Fixture>(f: &F) {
    let mut store = f.open();
    fill(&mut store);
    let recall = f.recall(&store);
    search(&store, &recall, "\"rate limit\"", &["4"]);
    search(&store, &recall, "\"limit rate\"", &[]);
    search(&store, &recall, "\"parser crash\"", &["1"]);
    search(&store, &recall, "docs OR lexer", &["2", "1"]);
    search(&store, &recall, "\"rate limit\" OR docs", &["4", "2"]);
    search(&store, &recall, "parser NOT crash", &["3", "2"]);
    search(&store, &recall, "pars*", &["3", "2", "1"]);
    search(&store, &recall, "limit*", &["5", "4"]);
    search(&store, &recall, "lex* OR tok*", &["3", "1"]);
}

/// Search text that is not valid syntax is a `SearchSyntax` error (advice naming the text),
/// one over the cost bounds (`athena_store::search_cost`) is `TooCostly`, from every query
/// that takes a search; text that only looks like syntax (`status:500`) is words.
pub fn a_malformed_or_too_costly_search_is_refused<F: Fixture>(f: &F) {
    let mut store = f.open();
    let events = vec![event("1", 1, "get it", "ann")];
    store.commit_batch(&info(), &batch(events, 1)).unwrap();
    let recall = f.recall(&store);
    let answers = |text: String| {
        let q = EventQuery {
            search: Some(text),
            ..Default::default()
        };
        let page = PageQuery {
            filter: q.clone(),
            limit: 10,
            ..PageQuery::default()
        };
        let budget = QueryBudget::unlimited();
        let n = |r: Result<Vec<Event>, StoreError>| r.map(|v| v.len());
        [
            n(store.query_events(&q)),
            n(recall.page(&page, &budget).map(|p| p.events)),
            recall.timeline(&q, Bucket::Day, &budget).map(|t| t.len()),
        ]
    };
    for text in ["\"unclosed", "get AND", "NOT get", "(get"] {
        for answer in answers(text.into()) {
            match answer {
                Err(StoreError::SearchSyntax(e)) => {
                    assert_eq!(e.text, text);
                    let advice = e.to_string();
                    assert!(advice.contains("is not valid search syntax"), "{advice}");
                    assert!(!advice.to_lowercase().contains("fts5"), "{advice}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
    for answer in answers("get:it".into()) {
        assert_eq!(answer.unwrap(), 1, "a word, not a field");
    }
    for answer in answers(vec!["get"; 100].join(" OR ")) {
        assert!(
            matches!(answer, Err(StoreError::TooCostly(_))),
            "{answer:?}"
        );
    }
    for answer in answers("get OR it".into()) {
        assert_eq!(answer.unwrap(), 1);
    }
}

/// The outcome filter keeps the events that ended one of the ways asked; events without an
/// outcome never match it; it combines with the other filters.
pub fn the_outcome_filter_keeps_events_that_ended_so<F: Fixture>(f: &F) {
    let mut store = f.open();
    let ended = |id: &str, minute, outcome: Option<Outcome>| {
        let mut e = event(id, minute, "GET /search", "web");
        e.outcome = outcome;
        e
    };
    let events = vec![
        ended("1", 1, Some(Outcome::Success)),
        ended("2", 2, Some(Outcome::Failure)),
        ended("3", 3, Some(Outcome::ClientError)),
        ended("4", 4, Some(Outcome::ServerError)),
        ended("5", 5, None),
    ];
    store.commit_batch(&info(), &batch(events, 5)).unwrap();
    let recall = f.recall(&store);
    let by = |outcomes: Vec<Outcome>, want: &[&str]| {
        let q = query(|q| q.outcomes = outcomes);
        check(&store, &recall, &q, want);
    };
    by(vec![Outcome::Failure], &["2"]);
    by(
        vec![Outcome::ServerError, Outcome::ClientError],
        &["4", "3"],
    );
    by(vec![Outcome::Success], &["1"]);
    by(vec![], &["5", "4", "3", "2", "1"]);
    let q = query(|q| {
        q.outcomes = vec![Outcome::Failure, Outcome::ServerError];
        q.since = Some(at_minute(3));
        q.search = Some("search".into());
    });
    check(&store, &recall, &q, &["4"]);
}
