//! The write side: a batch's events, dead letters, state changes and cursor are stored
//! together or not at all, alone or in a group; duplicates are counted and the first kept;
//! what was committed survives a restart, and only that.

use athena_core::recall::{PageQuery, QueryBudget, Recall};
use athena_core::{
    CommitReport, Event, EventQuery, KindCount, Outcome, RunRecord, RunStatus, SourceStatus, Store,
};
use chrono::{DateTime, Utc};

use super::support::{
    all_ids, batch, event, ids, info, letter, put, query_ids, refused_batch, saved_next, source,
    state_of,
};
use super::Fixture;

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    (list.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn origins(store: &impl Store, source_id: Option<&str>) -> Vec<String> {
    let letters = store.dead_letters(source_id, 100).unwrap();
    letters.into_iter().map(|d| d.letter.origin).collect()
}

/// Every field of an event comes back from `query_events`, `Recall::event` and
/// `Recall::page` as it was written (times to the millisecond), with its source's id and
/// type, and the time the store took it.
pub fn an_event_reads_back_as_it_was_written<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut full = Event::new(
        "a/1",
        "pull_request_merged",
        time("2024-05-01T12:34:56.789Z"),
        "Merge #7: ünïcode title",
    );
    full.actor = Some("Ann Lee".into());
    full.body = "line one\nline two, with \"quotes\" and 'apostrophes'".into();
    full.url = Some("https://example.invalid/pr/7".into());
    full.outcome = Some(Outcome::ClientError);
    let json = serde_json::json!({
        "context": {"repo": "r", "branch": "main"},
        "metadata": {"additions": 3, "labels": ["a", "b"], "nested": {"x": null}, "ok": true},
    });
    full.context = json["context"].as_object().unwrap().clone();
    full.metadata = json["metadata"].as_object().unwrap().clone();
    // No actor, url or outcome; an empty body and empty maps.
    let bare = Event::new("a/2", "note", time("1969-07-20T20:17:40Z"), "bare");
    let before = Utc::now() - chrono::TimeDelta::seconds(1);
    store
        .commit_batch(&info(), &batch(vec![full.clone(), bare.clone()], 1))
        .unwrap();
    let after = Utc::now() + chrono::TimeDelta::seconds(1);
    let recall = f.recall(&store);
    let budget = QueryBudget::unlimited();
    let page = recall.page(
        &PageQuery {
            limit: 10,
            ..PageQuery::default()
        },
        &budget,
    );
    let listed = store.query_events(&EventQuery::default()).unwrap();
    for (n, written) in [full, bare].into_iter().enumerate() {
        let by_id = recall.event("src", &written.id, &budget).unwrap();
        let paged = page.as_ref().unwrap().events[n].clone();
        for read in [by_id.unwrap(), paged, listed[n].clone()] {
            let taken = read
                .ingested_at
                .expect("a stored event has its ingested_at");
            assert!(before <= taken && taken <= after, "ingested_at {taken}");
            let want = Event {
                source_id: "src".into(),
                source_type: "test".into(),
                ingested_at: read.ingested_at,
                ..written.clone()
            };
            assert_eq!(read, want);
        }
    }
}

/// A committed batch's events, dead letters, state and cursor are all there, counted in
/// its report and in the source's status, and visible to recall.
pub fn a_batch_stores_its_events_dead_letters_state_and_cursor_together<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut b = batch(
        vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
        2,
    );
    b.dead_letters.push(letter("x.log:3"));
    b.state = vec![put("a.rs", Some("1")), put("b.rs", Some("2"))];
    let report = store.commit_batch(&info(), &b).unwrap();
    let want = CommitReport {
        written: 2,
        duplicates: 0,
        dead_letters: 1,
    };
    assert_eq!(report, want);
    assert_eq!(all_ids(&store), ["2", "1"]);
    assert_eq!(origins(&store, Some("src")), ["x.log:3"]);
    let stored = &store.dead_letters(None, 10).unwrap()[0];
    assert_eq!(
        (stored.source_id.as_str(), stored.letter.clone()),
        ("src", letter("x.log:3"))
    );
    assert_eq!(
        state_of(&mut store, "src"),
        pairs(&[("a.rs", "1"), ("b.rs", "2")])
    );
    assert_eq!(saved_next(&mut store, "src"), Some(2));
    let status = store.sources_status().unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!((status[0].events, status[0].dead_letters), (2, 1));
    assert_eq!(status[0].source_type.as_deref(), Some("test"));
    assert_eq!(
        status[0]
            .cursor
            .as_ref()
            .map(|c| c.as_json()["next"].clone()),
        Some(2.into())
    );
    let recall = f.recall(&store);
    let page = recall
        .page(
            &PageQuery {
                limit: 10,
                ..PageQuery::default()
            },
            &QueryBudget::unlimited(),
        )
        .unwrap();
    assert_eq!(ids(&page.events), ["2", "1"]);
}

/// A batch whose commit fails leaves none of its events, dead letters, state changes or
/// cursor, and what was committed before it is untouched; the store goes on.
pub fn a_refused_batch_leaves_nothing<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut first = batch(
        vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
        1,
    );
    first.dead_letters.push(letter("x:1"));
    first.state = vec![put("a", Some("1")), put("gone", Some("1"))];
    store.commit_batch(&info(), &first).unwrap();
    f.refuse_marked_batches(&mut store);
    let mut refused = refused_batch(
        vec![event("3", 3, "three", "a"), event("4", 4, "four", "a")],
        2,
    );
    refused.dead_letters.push(letter("x:2"));
    refused.state = vec![put("a", Some("2")), put("b", Some("2")), put("gone", None)];
    assert!(
        store.commit_batch(&info(), &refused).is_err(),
        "the marked batch was not refused"
    );
    assert_eq!(all_ids(&store), ["2", "1"]);
    assert_eq!(origins(&store, None), ["x:1"]);
    assert_eq!(
        state_of(&mut store, "src"),
        pairs(&[("a", "1"), ("gone", "1")])
    );
    assert_eq!(saved_next(&mut store, "src"), Some(1));
    let status = store.sources_status().unwrap();
    assert_eq!((status[0].events, status[0].dead_letters), (2, 1));
    let search = EventQuery {
        search: Some("three".into()),
        ..EventQuery::default()
    };
    assert!(
        query_ids(&store, &search).is_empty(),
        "a refused event is searchable"
    );
    // The store goes on, and the refused events can be written by a batch that is taken.
    let report = store
        .commit_batch(&info(), &batch(vec![event("3", 3, "three", "a")], 3))
        .unwrap();
    assert_eq!((report.written, report.duplicates), (1, 0));
    assert_eq!(all_ids(&store), ["3", "2", "1"]);
    assert_eq!(saved_next(&mut store, "src"), Some(3));
}

/// Batches staged together are invisible to readers until `commit_staged` (or the end of the
/// sync, `finish_sync`), then all there; one refused among them leaves nothing of itself and
/// takes nothing of the others.
pub fn staged_batches_commit_together_and_a_refused_one_leaves_the_others<F: Fixture>(f: &F) {
    let mut store = f.open();
    f.refuse_marked_batches(&mut store);
    let recall = f.recall(&store);
    let mut first = batch(vec![event("1", 1, "one", "a")], 1);
    first.state = vec![put("k1", Some("1"))];
    first.dead_letters.push(letter("x:1"));
    let report = store.stage_batch(&info(), &first).unwrap();
    assert_eq!((report.written, report.dead_letters), (1, 1));
    let everything = PageQuery {
        limit: 10,
        ..PageQuery::default()
    };
    let visible = |recall: &F::Recall| {
        let page = recall.page(&everything, &QueryBudget::unlimited()).unwrap();
        ids(&page.events)
    };
    assert!(
        visible(&recall).is_empty(),
        "a staged batch is visible before its commit"
    );
    let mut refused = refused_batch(vec![event("2", 2, "two", "a")], 2);
    refused.state = vec![put("k2", Some("2"))];
    refused.dead_letters.push(letter("x:2"));
    assert!(
        store.stage_batch(&info(), &refused).is_err(),
        "the marked batch was not refused"
    );
    let other = source("other");
    let report = store
        .stage_batch(&other, &batch(vec![event("3", 3, "three", "a")], 3))
        .unwrap();
    assert_eq!(report.written, 1);
    store
        .stage_batch(&info(), &batch(vec![event("4", 4, "four", "a")], 4))
        .unwrap();
    store.commit_staged().unwrap();
    assert_eq!(visible(&recall), ["4", "3", "1"]);
    assert_eq!(saved_next(&mut store, "src"), Some(4));
    assert_eq!(saved_next(&mut store, "other"), Some(3));
    assert_eq!(state_of(&mut store, "src"), pairs(&[("k1", "1")]));
    assert_eq!(origins(&store, None), ["x:1"]);
    // The group's events are searchable once committed.
    let search = EventQuery {
        search: Some("three".into()),
        ..EventQuery::default()
    };
    assert_eq!(query_ids(&store, &search), ["3"]);
    // Nothing staged: committing does nothing.
    store.commit_staged().unwrap();
    assert_eq!(all_ids(&store), ["4", "3", "1"]);
    // The end of a sync commits what is staged.
    store
        .stage_batch(&info(), &batch(vec![event("5", 5, "five", "a")], 5))
        .unwrap();
    store.finish_sync().unwrap();
    assert_eq!(visible(&recall), ["5", "4", "3", "1"]);
    assert_eq!(saved_next(&mut store, "src"), Some(5));
}

/// An id already stored for the source, in an earlier batch, earlier in the same batch or
/// in a batch staged earlier in the same group, is counted as a duplicate and the stored
/// event kept; the same id in another source is another event.
pub fn duplicates_within_and_across_batches_are_counted_and_the_first_is_kept<F: Fixture>(f: &F) {
    let mut store = f.open();
    let events = vec![
        event("1", 1, "one", "a"),
        event("2", 2, "two", "a"),
        event("1", 5, "one again", "b"),
    ];
    let r = store.commit_batch(&info(), &batch(events, 1)).unwrap();
    assert_eq!((r.written, r.duplicates), (2, 1));
    let events = vec![event("2", 2, "two again", "b"), event("3", 3, "three", "a")];
    let r = store.commit_batch(&info(), &batch(events, 2)).unwrap();
    assert_eq!((r.written, r.duplicates), (1, 1));
    let r = store
        .stage_batch(&info(), &batch(vec![event("4", 4, "four", "a")], 3))
        .unwrap();
    assert_eq!((r.written, r.duplicates), (1, 0));
    let events = vec![event("4", 4, "four again", "b"), event("5", 6, "five", "a")];
    let r = store.stage_batch(&info(), &batch(events, 4)).unwrap();
    assert_eq!((r.written, r.duplicates), (1, 1));
    store.commit_staged().unwrap();
    let all = store.query_events(&EventQuery::default()).unwrap();
    assert_eq!(ids(&all), ["5", "4", "3", "2", "1"]);
    let titles: Vec<&str> = all.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        ["five", "four", "three", "two", "one"],
        "a duplicate overwrote"
    );
    assert!(all.iter().all(|e| e.actor.as_deref() == Some("a")));
    let other = source("other");
    let r = store
        .commit_batch(&other, &batch(vec![event("1", 1, "one", "a")], 1))
        .unwrap();
    assert_eq!((r.written, r.duplicates), (1, 0));
    let status = store.sources_status().unwrap();
    let counts: Vec<(&str, u64)> = status
        .iter()
        .map(|s| (s.source_id.as_str(), s.events))
        .collect();
    assert_eq!(sorted(counts), [("other", 1), ("src", 5)]);
}

/// Each source's kinds are counted by the commits that store them (a duplicate is not, a
/// refused batch is not), the most frequent first, in `sources_status` and `kinds` alike; a
/// source that stored nothing yet is known with no kinds.
pub fn the_kinds_of_each_source_are_counted_as_events_are_stored<F: Fixture>(f: &F) {
    let mut store = f.open();
    let of_kind = |id: &str, kind: &str| {
        let mut e = event(id, 1, id, "a");
        e.kind = kind.into();
        e
    };
    let first = vec![
        of_kind("1", "note"),
        of_kind("2", "commit"),
        of_kind("3", "commit"),
    ];
    store.commit_batch(&info(), &batch(first, 1)).unwrap();
    let again = vec![
        of_kind("1", "note"),
        of_kind("4", "note"),
        of_kind("5", "note"),
    ];
    store.stage_batch(&info(), &batch(again, 2)).unwrap();
    store.commit_staged().unwrap();
    f.refuse_marked_batches(&mut store);
    let refused = refused_batch(vec![of_kind("6", "tag")], 3);
    assert!(store.commit_batch(&info(), &refused).is_err());
    let other = source("other");
    store
        .commit_batch(&other, &batch(vec![of_kind("1", "tag")], 1))
        .unwrap();
    store
        .commit_batch(&source("empty"), &batch(vec![], 1))
        .unwrap();
    let counted = |kinds: &[KindCount]| -> Vec<(String, u64)> {
        kinds.iter().map(|k| (k.kind.clone(), k.events)).collect()
    };
    let want = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    let status = by_source(store.sources_status().unwrap());
    let ids: Vec<&str> = status.iter().map(|s| s.source_id.as_str()).collect();
    assert_eq!(ids, ["empty", "other", "src"]);
    assert!(status[0].kinds.is_empty());
    assert_eq!(counted(&status[1].kinds), want(&[("tag", 1)]));
    assert_eq!(
        counted(&status[2].kinds),
        want(&[("note", 3), ("commit", 2)])
    );
    let mut kinds = store.kinds().unwrap();
    kinds.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    for (k, s) in kinds.iter().zip(&status) {
        assert_eq!((&k.source_id, &k.kinds), (&s.source_id, &s.kinds));
    }
    assert_eq!(kinds.len(), 3);
    let recall = f.recall(&store);
    let mut recalled = recall.kinds(&QueryBudget::unlimited()).unwrap();
    recalled.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    assert_eq!(recalled, kinds);
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The same bad input (same source, same origin) read again is not kept twice; the same
/// origin in another source is another dead letter.
pub fn a_dead_letter_read_again_is_kept_once<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut b = batch(vec![event("1", 1, "one", "a")], 1);
    b.dead_letters.push(letter("x.log:3"));
    assert_eq!(store.commit_batch(&info(), &b).unwrap().dead_letters, 1);
    let mut again = batch(vec![], 2);
    again.dead_letters = vec![letter("x.log:3"), letter("x.log:4")];
    assert_eq!(store.commit_batch(&info(), &again).unwrap().dead_letters, 1);
    let mut other = batch(vec![], 1);
    other.dead_letters.push(letter("x.log:3"));
    assert_eq!(
        store
            .commit_batch(&source("other"), &other)
            .unwrap()
            .dead_letters,
        1
    );
    assert_eq!(
        origins(&store, Some("src")),
        ["x.log:4", "x.log:3"],
        "newest first"
    );
    assert_eq!(origins(&store, Some("other")), ["x.log:3"]);
    assert_eq!(origins(&store, None).len(), 3);
    assert_eq!(origins(&store, Some("nobody")), Vec::<String>::new());
    assert_eq!(store.dead_letters(None, 1).unwrap().len(), 1, "the limit");
}

/// State changes set, replace and remove keys (bytes, not text) per source; removing a key
/// that was never set is not an error.
pub fn state_changes_set_replace_and_remove_keys<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut b = batch(vec![event("1", 1, "one", "a")], 1);
    b.state = vec![put("a.rs", Some("1")), put("b.rs", Some("2"))];
    store.commit_batch(&info(), &b).unwrap();
    let mut b = batch(vec![], 2);
    b.state = vec![
        put("a.rs", Some("3")),
        put("b.rs", None),
        put("never", None),
    ];
    store.commit_batch(&info(), &b).unwrap();
    assert_eq!(state_of(&mut store, "src"), pairs(&[("a.rs", "3")]));
    assert!(store.load_state("other").unwrap().is_empty());
    let binary = athena_core::StateChange {
        key: vec![0xff, 0x00, b'k'],
        value: Some(vec![0x00, 0xfe]),
    };
    let mut b = batch(vec![], 3);
    b.state = vec![binary.clone()];
    store.commit_batch(&source("other"), &b).unwrap();
    let state = store.load_state("other").unwrap();
    assert_eq!(state, vec![(binary.key, binary.value.unwrap())]);
    assert_eq!(
        state_of(&mut store, "src"),
        pairs(&[("a.rs", "3")]),
        "another source's state"
    );
}

/// What was committed (events, cursors, state, dead letters, runs) is there after the store
/// is closed and opened again.
pub fn cursors_state_and_events_survive_a_restart<F: Fixture>(f: &F) {
    let finished_at = time("2024-05-01T13:00:00.250Z");
    {
        let mut store = f.open();
        let mut b = batch(
            vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
            7,
        );
        b.state = vec![put("a", Some("1"))];
        b.dead_letters.push(letter("x:1"));
        store.commit_batch(&info(), &b).unwrap();
        store
            .commit_batch(
                &source("other"),
                &batch(vec![event("9", 9, "nine", "b")], 9),
            )
            .unwrap();
        store
            .record_run(&run("src", RunStatus::Ok, finished_at))
            .unwrap();
        store.finish_sync().unwrap();
    }
    let mut store = f.open();
    assert_eq!(saved_next(&mut store, "src"), Some(7));
    assert_eq!(saved_next(&mut store, "other"), Some(9));
    assert_eq!(state_of(&mut store, "src"), pairs(&[("a", "1")]));
    assert_eq!(all_ids(&store), ["9", "2", "1"]);
    assert_eq!(origins(&store, None), ["x:1"]);
    let status = by_source(store.sources_status().unwrap());
    assert_eq!(status[1].source_id, "src");
    assert_eq!(status[1].last_status, Some(RunStatus::Ok));
    assert_eq!(status[1].last_sync, Some(finished_at));
    // And it goes on from there.
    let r = store
        .commit_batch(
            &info(),
            &batch(vec![event("2", 2, "two", "a"), event("3", 3, "t", "a")], 8),
        )
        .unwrap();
    assert_eq!((r.written, r.duplicates), (1, 1));
}

/// A staged batch whose group was never committed (the process died) is gone after a
/// restart, with its cursor and state; what was committed before it stays.
pub fn a_staged_batch_never_committed_is_gone_after_a_restart<F: Fixture>(f: &F) {
    {
        let mut store = f.open();
        let mut b = batch(vec![event("1", 1, "one", "a")], 1);
        b.state = vec![put("a", Some("1"))];
        store.commit_batch(&info(), &b).unwrap();
        let mut staged = batch(vec![event("2", 2, "two", "a")], 2);
        staged.state = vec![put("a", Some("2")), put("b", Some("2"))];
        staged.dead_letters.push(letter("x:2"));
        store.stage_batch(&info(), &staged).unwrap();
        // Dropped without `commit_staged`.
    }
    let mut store = f.open();
    assert_eq!(all_ids(&store), ["1"]);
    assert_eq!(saved_next(&mut store, "src"), Some(1));
    assert_eq!(state_of(&mut store, "src"), pairs(&[("a", "1")]));
    assert!(origins(&store, None).is_empty());
}

/// `reset_cursor` forgets a source's cursor and state (saying whether there was a cursor),
/// keeps its events and leaves other sources alone, also across a restart.
pub fn reset_forgets_the_cursor_and_state_and_keeps_the_events<F: Fixture>(f: &F) {
    {
        let mut store = f.open();
        let mut b = batch(vec![event("1", 1, "one", "a")], 1);
        b.state = vec![put("a", Some("1"))];
        store.commit_batch(&info(), &b).unwrap();
        let mut b = batch(vec![event("2", 2, "two", "a")], 2);
        b.state = vec![put("b", Some("2"))];
        store.commit_batch(&source("other"), &b).unwrap();
        assert!(store.reset_cursor("src").unwrap());
        assert!(!store.reset_cursor("src").unwrap());
        assert!(!store.reset_cursor("nobody").unwrap());
        assert_eq!(store.load_cursor("src").unwrap(), None);
    }
    let mut store = f.open();
    assert_eq!(store.load_cursor("src").unwrap(), None);
    assert!(store.load_state("src").unwrap().is_empty());
    assert_eq!(all_ids(&store), ["2", "1"]);
    assert_eq!(saved_next(&mut store, "other"), Some(2));
    assert_eq!(state_of(&mut store, "other"), pairs(&[("b", "2")]));
    // A full sync after the reset stores nothing twice.
    let r = store
        .commit_batch(&info(), &batch(vec![event("1", 1, "one", "a")], 1))
        .unwrap();
    assert_eq!((r.written, r.duplicates), (0, 1));
}

fn run(source_id: &str, status: RunStatus, finished_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        source_id: source_id.into(),
        source_type: "test".into(),
        finished_at,
        status,
        error: None,
        error_kind: None,
    }
}

fn by_source(mut status: Vec<SourceStatus>) -> Vec<SourceStatus> {
    status.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    status
}

/// Each source's status holds its type, cursor, counts and its last run (a newer record
/// replaces the older); a source known only by a run is listed; `Recall::sources` agrees
/// with `Store::sources_status`.
pub fn runs_and_counts_show_in_the_status<F: Fixture>(f: &F) {
    let mut store = f.open();
    let mut b = batch(
        vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
        2,
    );
    b.dead_letters.push(letter("x:1"));
    store.commit_batch(&info(), &b).unwrap();
    let first = time("2024-05-01T13:00:00Z");
    let failed = RunRecord {
        error: Some("source src: boom".into()),
        error_kind: Some("rate_limited".into()),
        ..run("src", RunStatus::Failed, first)
    };
    store.record_run(&failed).unwrap();
    store
        .record_run(&run("idle", RunStatus::Interrupted, first))
        .unwrap();
    let status = by_source(store.sources_status().unwrap());
    let ids: Vec<&str> = status.iter().map(|s| s.source_id.as_str()).collect();
    assert_eq!(ids, ["idle", "src"]);
    let (idle, src) = (&status[0], &status[1]);
    assert_eq!(
        (idle.events, idle.dead_letters, idle.cursor.is_none()),
        (0, 0, true)
    );
    assert_eq!(idle.last_status, Some(RunStatus::Interrupted));
    assert_eq!(idle.source_type.as_deref(), Some("test"));
    assert_eq!((src.events, src.dead_letters), (2, 1));
    assert_eq!(src.cursor.as_ref().unwrap().as_json()["next"], 2);
    assert_eq!(src.last_sync, Some(first));
    assert_eq!(src.last_status, Some(RunStatus::Failed));
    assert_eq!(src.last_error.as_deref(), Some("source src: boom"));
    assert_eq!(src.last_error_kind.as_deref(), Some("rate_limited"));
    let recalled = f.recall(&store).sources(&QueryBudget::unlimited()).unwrap();
    assert_eq!(by_source(recalled), status);
    let later = time("2024-05-01T14:00:00Z");
    store.record_run(&run("src", RunStatus::Ok, later)).unwrap();
    let status = by_source(store.sources_status().unwrap());
    assert_eq!(status[1].last_status, Some(RunStatus::Ok));
    assert_eq!(status[1].last_sync, Some(later));
    assert_eq!(
        (
            status[1].last_error.as_deref(),
            status[1].last_error_kind.as_deref()
        ),
        (None, None)
    );
}
