//! The events insert bound in place: what it stores, what it refuses, and that a refusal
//! leaves it usable.

use rusqlite::Connection;

use crate::sqlite::insert::{Doc, EventInsert, EventRow};

/// A table shaped like `events`, with a CHECK a row can fail.
fn table() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, source_id TEXT NOT NULL,
            source_type TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind <> 'refused'),
            occurred_at INTEGER NOT NULL, ingested_at INTEGER NOT NULL, actor TEXT,
            title TEXT NOT NULL, body TEXT NOT NULL, url TEXT, outcome TEXT,
            context NOT NULL, metadata NOT NULL, UNIQUE (source_id, id));",
    )
    .unwrap();
    conn
}

/// What a test reads back of a row: id, the types of actor, title and url, occurred_at, actor,
/// body, context's type and hex, metadata.
type Stored = (String, String, i64, Option<String>, String, String, String);

fn row<'a>(id: &'a str, kind: &'a str, context: Doc<'a>) -> EventRow<'a> {
    EventRow {
        id,
        source_id: "src",
        source_type: "test",
        kind,
        occurred_at: 1_700_000_000_123,
        ingested_at: 1_700_000_000_999,
        actor: None,
        title: "",
        body: "a body → with more than ASCII",
        url: Some("https://example.org/x"),
        outcome: Some("success"),
        context,
        metadata: Doc::Text("{\"k\":1}"),
    }
}

#[test]
fn values_are_stored_as_given_and_a_duplicate_is_not_stored_again() {
    let conn = table();
    let mut insert = EventInsert::new(&conn).unwrap();
    // Built in a buffer that is dropped right after the call: SQLite must not keep it.
    let id = String::from("first");
    assert!(insert
        .insert(&row(&id, "note", Doc::Blob(&[1, 2, 3])))
        .unwrap());
    drop(id);
    assert!(insert
        .insert(&row("second", "note", Doc::Blob(&[])))
        .unwrap());
    assert!(!insert
        .insert(&row("first", "note", Doc::Text("{}")))
        .unwrap());
    drop(insert);

    let rows: Vec<Stored> = conn
        .prepare(
            "SELECT id, typeof(actor) || typeof(title) || typeof(url), occurred_at, actor, body,
                    typeof(context) || ':' || hex(context), metadata FROM events ORDER BY seq",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "first");
    // No actor is NULL; an empty title is an empty text, not NULL.
    assert_eq!(rows[0].1, "nulltexttext");
    assert_eq!(rows[0].2, 1_700_000_000_123);
    assert_eq!(rows[0].3, None);
    assert_eq!(rows[0].4, "a body → with more than ASCII");
    assert_eq!(rows[0].5, "blob:010203");
    assert_eq!(rows[0].6, "{\"k\":1}");
    // An empty blob is a blob, not NULL.
    assert_eq!(rows[1].5, "blob:");
}

#[test]
fn a_refused_row_is_an_error_with_sqlites_words_and_the_insert_goes_on() {
    let conn = table();
    let mut insert = EventInsert::new(&conn).unwrap();
    let err = insert
        .insert(&row("x", "refused", Doc::Text("{}")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("CHECK constraint failed"), "{err}");
    assert!(insert.insert(&row("y", "note", Doc::Text("{}"))).unwrap());
    let n: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_store_without_the_table_cannot_prepare_it() {
    let conn = Connection::open_in_memory().unwrap();
    let err = EventInsert::new(&conn)
        .err()
        .expect("no events table")
        .to_string();
    assert!(err.contains("no such table: events"), "{err}");
}
