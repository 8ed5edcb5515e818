//! The outbox feeds publish from (`athena_core::outbox`): an entry for every batch that
//! stores events, written with it or not at all; per feed, what is left to publish; what a
//! feed records of its progress and subjects; trimming what every feed has published.

use athena_core::outbox::Outbox;
use athena_core::Store;

use super::support::{batch, event, info, refused_batch, source};
use super::Fixture;

fn outbox<S: Store>(store: &mut S) -> &mut dyn Outbox {
    store.outbox().expect("the store keeps an outbox")
}

/// The ids of the events `feed` has left to publish of `source_id`, batch by batch.
fn left<S: Store>(store: &mut S, feed: &str, source_id: &str) -> Vec<Vec<String>> {
    let batches = outbox(store).unpublished(feed, source_id, 1000).unwrap();
    batches
        .iter()
        .map(|b| b.events.iter().map(|(_, e)| e.id.clone()).collect())
        .collect()
}

/// Each batch that stores events, and only such a batch, leaves an entry naming exactly the
/// events it stored (not the duplicates, not another source's), in storing order; a refused
/// batch leaves none; before `keep_outbox` nothing is kept.
pub fn the_outbox_holds_each_stored_batch_once_with_the_events_it_stored<F: Fixture>(f: &F) {
    let mut store = f.open();
    store
        .commit_batch(&info(), &batch(vec![event("0", 0, "before", "a")], 0))
        .unwrap();
    outbox(&mut store).keep_outbox().unwrap();
    assert!(outbox(&mut store).outbox_sources("f").unwrap().is_empty());
    let first = vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")];
    store.commit_batch(&info(), &batch(first, 1)).unwrap();
    // Two batches staged in one group, one of them all duplicates, another source between.
    let again = vec![event("2", 2, "two", "a"), event("3", 3, "three", "a")];
    store.stage_batch(&info(), &batch(again, 2)).unwrap();
    let other = source("other");
    store
        .stage_batch(&other, &batch(vec![event("x", 1, "x", "b")], 1))
        .unwrap();
    store
        .stage_batch(&info(), &batch(vec![event("3", 3, "three", "a")], 3))
        .unwrap();
    store.commit_staged().unwrap();
    f.refuse_marked_batches(&mut store);
    let refused = refused_batch(vec![event("4", 4, "four", "a")], 4);
    assert!(store.commit_batch(&info(), &refused).is_err());

    assert_eq!(
        outbox(&mut store).outbox_sources("f").unwrap(),
        ["other", "src"]
    );
    assert_eq!(left(&mut store, "f", "src"), [vec!["1", "2"], vec!["3"]]);
    assert_eq!(left(&mut store, "f", "other"), [vec!["x"]]);
    let batches = outbox(&mut store).unpublished("f", "src", 1000).unwrap();
    assert!(batches[0].seq < batches[1].seq);
    let seqs: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.events.iter().map(|(s, _)| *s))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let one = &batches[0].events[0].1;
    assert_eq!((one.source_id.as_str(), one.title.as_str()), ("src", "one"));
    let backlog = outbox(&mut store).backlog("f").unwrap();
    assert_eq!(backlog.events, 4);
    assert!(backlog.oldest.is_some());
    // A handful of events at a time: whole batches, at least one.
    let some = outbox(&mut store).unpublished("f", "src", 1).unwrap();
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].events.len(), 2);
    // Kept across a restart.
    drop(store);
    let mut store = f.open();
    assert_eq!(left(&mut store, "f", "src"), [vec!["1", "2"], vec!["3"]]);
}

/// A feed records how far it published a source and its subjects' last sequences together;
/// another feed's progress is its own; progress never goes back; trimming forgets only what
/// every feed named has published.
pub fn a_feed_records_its_progress_and_subjects_and_the_published_are_trimmed<F: Fixture>(f: &F) {
    let mut store = f.open();
    outbox(&mut store).keep_outbox().unwrap();
    for n in 1..=3u32 {
        let e = event(&n.to_string(), n, "e", "a");
        store
            .commit_batch(&info(), &batch(vec![e], n.into()))
            .unwrap();
    }
    let batches = outbox(&mut store).unpublished("f", "src", 1000).unwrap();
    let second = batches[1].seq;
    assert_eq!(
        outbox(&mut store)
            .subject_sequence("f", "p.src.note")
            .unwrap(),
        0
    );
    let subjects = [("p.src.note".to_string(), 42u64)];
    outbox(&mut store)
        .record_published("f", "src", second, batches[1].events[0].0, &subjects)
        .unwrap();
    assert_eq!(left(&mut store, "f", "src"), [vec!["3"]]);
    assert_eq!(left(&mut store, "g", "src").len(), 3);
    assert_eq!(
        outbox(&mut store)
            .subject_sequence("f", "p.src.note")
            .unwrap(),
        42
    );
    assert_eq!(
        outbox(&mut store)
            .subject_sequence("g", "p.src.note")
            .unwrap(),
        0
    );
    assert_eq!(outbox(&mut store).backlog("f").unwrap().events, 1);
    let published = outbox(&mut store).published_through("f", "src").unwrap();
    assert_eq!(published, batches[1].events[0].0);
    assert_eq!(outbox(&mut store).published_through("g", "src").unwrap(), 0);
    // An older record (a zombie's) does not move it back.
    outbox(&mut store)
        .record_published("f", "src", batches[0].seq, 0, &[])
        .unwrap();
    assert_eq!(left(&mut store, "f", "src"), [vec!["3"]]);
    assert_eq!(
        outbox(&mut store).published_through("f", "src").unwrap(),
        published
    );
    let seq_of_2 = outbox(&mut store).storing_sequence("src", "2").unwrap();
    assert_eq!(seq_of_2, Some(batches[1].events[0].0));
    assert_eq!(
        outbox(&mut store).storing_sequence("src", "nope").unwrap(),
        None
    );

    // "g" has published nothing: nothing is trimmed while it is named.
    assert_eq!(outbox(&mut store).trim_outbox(&["f", "g"]).unwrap(), 0);
    // "h" published the first batch only: unnamed, it still holds the rest back.
    outbox(&mut store)
        .record_published("h", "src", batches[0].seq, 0, &[])
        .unwrap();
    assert_eq!(outbox(&mut store).trim_outbox(&["f"]).unwrap(), 1);
    outbox(&mut store)
        .record_published("h", "src", second, 0, &[])
        .unwrap();
    assert_eq!(outbox(&mut store).trim_outbox(&["f"]).unwrap(), 1);
    assert_eq!(left(&mut store, "f", "src"), [vec!["3"]]);
    // Emptied by trimming, the outbox numbers on: a new batch is not taken as published.
    let third = outbox(&mut store).unpublished("f", "src", 1000).unwrap()[0].seq;
    for feed in ["f", "h"] {
        outbox(&mut store)
            .record_published(feed, "src", third, 0, &[])
            .unwrap();
    }
    assert_eq!(outbox(&mut store).trim_outbox(&["f"]).unwrap(), 1);
    store
        .commit_batch(&info(), &batch(vec![event("4", 4, "e", "a")], 4))
        .unwrap();
    assert_eq!(left(&mut store, "f", "src"), [vec!["4"]]);
    drop(store);
    let mut store = f.open();
    assert_eq!(
        outbox(&mut store)
            .subject_sequence("f", "p.src.note")
            .unwrap(),
        42
    );
}
