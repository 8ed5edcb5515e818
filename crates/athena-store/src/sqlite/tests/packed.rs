//! Packed events on SQLite (`sqlite::packed`, `sqlite::compact`): a source's first large batch
//! trains its dictionary and is stored packed, later batches too; every event reads back as it
//! was given; a batch rolled back takes its dictionary with it; `compact` packs what was left
//! as text and the store shrinks.

use athena_core::{Event, EventQuery, SourceInfo, Store};
use serde_json::json;

use super::{batch, event};
use crate::SqliteStore;

/// `n` events of a log-like source from number `first`: the same keys, much the same values.
fn log_events(first: usize, n: usize) -> Vec<Event> {
    (first..first + n)
        .map(|i| {
            let mut e = event(&format!("line:{i:08}"), (i % 60) as u32, &format!("GET /p/{} → 200", i % 89), "10.0.0.1");
            e.context = json!({"file": "/var/log/nginx/access.log", "line": i, "offset": i * 240})
                .as_object()
                .unwrap()
                .clone();
            e.metadata = json!({
                "method": "GET", "path": format!("/p/{}", i % 89), "status": 200, "bytes": 1000 + i % 777,
                "user_agent": format!("Mozilla/5.0 (X11; Linux x86_64; rv:{}) Gecko/20100101 Firefox/{}", 100 + i % 7, 100 + i % 7),
            })
            .as_object()
            .unwrap()
            .clone();
            e
        })
        .collect()
}

fn source(id: &str) -> SourceInfo {
    SourceInfo {
        id: id.into(),
        source_type: "test".into(),
        name: id.into(),
    }
}

/// (packed, text) events of `source`.
fn forms(s: &SqliteStore, source: &str) -> (i64, i64) {
    s.conn
        .query_row(
            "SELECT count(*) FILTER (WHERE typeof(context) = 'blob'), \
             count(*) FILTER (WHERE typeof(context) = 'text') FROM events WHERE source_id = ?1",
            [source],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// Every event of `source` as read back, by id: (context, metadata).
fn read_back(s: &SqliteStore, source: &str) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let q = EventQuery {
        sources: vec![source.into()],
        limit: Some(100_000),
        ..EventQuery::default()
    };
    let mut all: Vec<_> = (s.query_events(&q).unwrap().into_iter())
        .map(|e| (e.id, json!(e.context), json!(e.metadata)))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn given(events: &[Event]) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let mut all: Vec<_> = (events.iter())
        .map(|e| (e.id.clone(), json!(e.context), json!(e.metadata)))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn a_large_batch_trains_its_sources_dictionary_and_every_event_reads_back_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    // A small first batch: text.
    let first = log_events(0, 10);
    s.commit_batch(&source("web"), &batch(first.clone(), 1))
        .unwrap();
    assert_eq!(forms(&s, "web"), (0, 10));
    // A large one trains the dictionary: packed, and the small ones after it too.
    let large = log_events(10, 1500);
    s.commit_batch(&source("web"), &batch(large.clone(), 2))
        .unwrap();
    let small = log_events(1510, 5);
    s.commit_batch(&source("web"), &batch(small.clone(), 3))
        .unwrap();
    assert_eq!(forms(&s, "web"), (1505, 10));
    // Another source with small batches only stays text.
    let other = log_events(0, 20);
    s.commit_batch(&source("other"), &batch(other.clone(), 1))
        .unwrap();
    assert_eq!(forms(&s, "other"), (0, 20));
    let mut all = first;
    all.extend(large);
    all.extend(small);
    assert_eq!(read_back(&s, "web"), given(&all));
    // Read by another connection (recall's), which meets the dictionary first there.
    drop(s);
    let s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    assert_eq!(read_back(&s, "web"), given(&all));
    assert_eq!(read_back(&s, "other"), given(&other));
    // The packed documents are a fraction of the text.
    let (packed, text): (i64, i64) = s
        .conn
        .query_row(
            "SELECT sum(length(context)) FILTER (WHERE typeof(context) = 'blob'), \
             sum(length(context) + length(metadata)) FILTER (WHERE typeof(context) = 'text') \
             FROM events WHERE source_id = 'web'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (per_packed, per_text) = (packed / 1505, text / 10);
    assert!(
        per_packed * 4 < per_text,
        "{per_packed} bytes an event packed, {per_text} as text"
    );
}

#[test]
fn a_batch_rolled_back_takes_the_dictionary_it_trained_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    // The batch fails after its events (and the dictionary) were written.
    s.conn
        .execute_batch(
            "CREATE TRIGGER gone BEFORE INSERT ON cursors BEGIN SELECT RAISE(ABORT, 'no'); END;",
        )
        .unwrap();
    assert!(s
        .commit_batch(&source("web"), &batch(log_events(0, 1200), 1))
        .is_err());
    let dicts: i64 = (s.conn)
        .query_row("SELECT count(*) FROM event_dicts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dicts, 0);
    s.conn.execute_batch("DROP TRIGGER gone").unwrap();
    // The next batch trains again, and what it stores is readable (not packed with the
    // dictionary that was rolled back).
    let events = log_events(0, 1200);
    s.commit_batch(&source("web"), &batch(events.clone(), 1))
        .unwrap();
    assert_eq!(forms(&s, "web"), (1200, 0));
    drop(s);
    let s = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    assert_eq!(read_back(&s, "web"), given(&events));
}

#[test]
fn compact_packs_what_was_text_and_the_store_shrinks_answering_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    // Batches too small to train on: all text, as a store from before packing holds.
    let mut all = Vec::new();
    for (n, chunk) in log_events(0, 3000).chunks(500).enumerate() {
        s.commit_batch(&source("web"), &batch(chunk.to_vec(), n as u64 + 1))
            .unwrap();
        all.extend_from_slice(chunk);
    }
    let few = log_events(0, 30);
    s.commit_batch(&source("few"), &batch(few.clone(), 1))
        .unwrap();
    assert_eq!(forms(&s, "web"), (0, 3000));
    let done = s.compact().unwrap();
    assert_eq!(done.events_packed, 3000);
    assert_eq!(done.dictionaries_trained, 1);
    assert!(done.bytes_after * 2 < done.bytes_before, "{done:?}");
    assert_eq!(forms(&s, "web"), (3000, 0));
    // Too few to train on: left as text.
    assert_eq!(forms(&s, "few"), (0, 30));
    assert_eq!(read_back(&s, "web"), given(&all));
    assert_eq!(read_back(&s, "few"), given(&few));
    // Again: nothing left to pack.
    assert_eq!(s.compact().unwrap().events_packed, 0);
    // Through the SQL view tools use.
    let conn = rusqlite::Connection::open(&path).unwrap();
    crate::readable_events(&conn).unwrap();
    let path_of_7: String = conn
        .query_row(
            "SELECT json_extract(metadata, '$.path') FROM events WHERE id = 'line:00000007'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(path_of_7, "/p/7");
}

/// `batch` as the engine hands it over: its JSON encoded, packed by the store's packer.
fn packed_by(
    packer: &dyn athena_core::BatchPacker,
    source: &str,
    mut batch: athena_core::Batch,
) -> athena_core::Batch {
    batch.encode_json();
    packer.pack(source, &mut batch);
    batch
}

#[test]
fn batches_packed_on_the_sources_task_are_stored_as_packed_and_read_back_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = SqliteStore::open(&path).unwrap();
    let packer = s.batch_packer().expect("SQLite packs");
    // A small batch: not packed (nothing to train on yet), stored as text.
    let first = log_events(0, 10);
    let b = packed_by(&*packer, "web", batch(first.clone(), 1));
    assert!(b.packed.is_none());
    s.commit_batch(&source("web"), &b).unwrap();
    // A large one trains the source's dictionary on the source's side; the batch carries it,
    // and it is stored with the batch. The batch fails (a trigger): the dictionary goes with it.
    s.conn
        .execute_batch(
            "CREATE TRIGGER gone BEFORE INSERT ON cursors BEGIN SELECT RAISE(ABORT, 'no'); END;",
        )
        .unwrap();
    let large = log_events(10, 1500);
    let b = packed_by(&*packer, "web", batch(large.clone(), 2));
    let id = b.packed.as_ref().expect("packed").dictionary.id;
    assert!(s.commit_batch(&source("web"), &b).is_err());
    let dicts = |s: &SqliteStore| -> i64 {
        (s.conn)
            .query_row("SELECT count(*) FROM event_dicts", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(dicts(&s), 0);
    s.conn.execute_batch("DROP TRIGGER gone").unwrap();
    // The next batches (the same again, then a small one) carry the same dictionary: stored.
    let b = packed_by(&*packer, "web", batch(large.clone(), 2));
    assert_eq!(b.packed.as_ref().unwrap().dictionary.id, id);
    s.commit_batch(&source("web"), &b).unwrap();
    let small = log_events(1510, 3);
    let b = packed_by(&*packer, "web", batch(small.clone(), 3));
    assert!(
        b.packed.is_some(),
        "a small batch packs once the source has a dictionary"
    );
    s.commit_batch(&source("web"), &b).unwrap();
    assert_eq!(dicts(&s), 1);
    assert_eq!(forms(&s, "web"), (1503, 10));
    let mut all = first;
    all.extend(large);
    all.extend(small);
    assert_eq!(read_back(&s, "web"), given(&all));
    // A packer made later knows the dictionary; a batch packed for another source is not
    // stored with this one's dictionary.
    drop(s);
    let mut s = SqliteStore::open(&path).unwrap();
    let later = s.batch_packer().unwrap();
    let more = log_events(2000, 5);
    let b = packed_by(&*later, "web", batch(more.clone(), 4));
    assert_eq!(b.packed.as_ref().unwrap().dictionary.id, id);
    s.commit_batch(&source("web"), &b).unwrap();
    let mut stray = packed_by(&*later, "web", batch(log_events(3000, 5), 1));
    stray
        .events
        .iter_mut()
        .for_each(|e| e.id = format!("other-{}", e.id));
    s.commit_batch(&source("other"), &stray).unwrap();
    assert_eq!(forms(&s, "other"), (0, 5));
    all.extend(more);
    assert_eq!(read_back(&s, "web"), given(&all));
}
