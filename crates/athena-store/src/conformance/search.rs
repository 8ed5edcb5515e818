//! Searching by any word: when no event has every word of a plain search, a store finds the
//! events with any of its content words, best match first, on one page, with the other
//! filters applied.

use athena_core::recall::{PageQuery, QueryBudget, Recall};
use athena_core::search::{all_then_any, Matched, SearchMatch};
use athena_core::{EventQuery, Store};

use super::support::{batch, event, ids, info, query_ids, source};
use super::Fixture;

/// A search of natural language ("what changed in the lexer") matches no event whole; any of
/// its words finds the events that mention the lexer, the one with more of them first; stop
/// words alone find nothing; filters still narrow; a page of it is the only page.
pub fn no_event_with_every_word_falls_back_to_any_word_best_first<F: Fixture>(f: &F) {
    let mut store = f.open();
    let with_body = |id: &str, minute, title: &str, body: &str| {
        let mut e = event(id, minute, title, "ann");
        e.body = body.into();
        e
    };
    let events = vec![
        with_body("1", 1, "lexer: handle tabs", ""),
        with_body(
            "2",
            2,
            "parser rewrite",
            "the lexer changed and the lexer grew",
        ),
        with_body("3", 3, "unrelated", "what is in the box"),
        with_body("4", 4, "docs", "nothing to see"),
    ];
    store.commit_batch(&info(), &batch(events, 4)).unwrap();
    let other = vec![with_body("5", 5, "lexer elsewhere", "")];
    store
        .commit_batch(&source("other"), &batch(other, 5))
        .unwrap();
    let recall = f.recall(&store);
    let search = |text: &str, mode: SearchMatch| EventQuery {
        search: Some(text.into()),
        search_match: mode,
        ..EventQuery::default()
    };
    let question = "what changed in the lexer";
    assert!(query_ids(&store, &search(question, SearchMatch::All)).is_empty());
    let any = search(question, SearchMatch::Any);
    let found = query_ids(&store, &any);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0], "2", "the event with both words first: {found:?}");
    let mut rest = found[1..].to_vec();
    rest.sort();
    assert_eq!(rest, ["1", "5"]);
    // A page of it: the best `limit`, and no next page.
    let page = PageQuery {
        filter: any.clone(),
        limit: 2,
        ..PageQuery::default()
    };
    let page = recall.page(&page, &QueryBudget::unlimited()).unwrap();
    assert_eq!(ids(&page.events)[0], "2");
    assert_eq!(page.events.len(), 2);
    assert!(page.next.is_none());
    // Other filters narrow it.
    let mine = EventQuery {
        sources: vec!["other".into()],
        ..any.clone()
    };
    assert_eq!(query_ids(&store, &mine), ["5"]);
    // Through the fallback: said so, with the words looked for.
    let (events, matched) = all_then_any(
        &search(question, SearchMatch::All),
        |q| store.query_events(q),
        Vec::is_empty,
    )
    .unwrap();
    assert_eq!(ids(&events), found);
    assert_eq!(
        matched,
        Matched::Any(vec!["changed".into(), "lexer".into()])
    );
    // Common words alone are not looked for one by one: as written, all of them.
    assert_eq!(
        query_ids(&store, &search("what is the", SearchMatch::Any)),
        ["3"]
    );
    let (events, matched) = all_then_any(
        &search("the what nope", SearchMatch::All),
        |q| store.query_events(q),
        Vec::is_empty,
    )
    .unwrap();
    assert_eq!(matched, Matched::Any(vec!["nope".into()]));
    assert!(events.is_empty());
}
