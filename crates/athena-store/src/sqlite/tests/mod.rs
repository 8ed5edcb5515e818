//! Unit tests of the SQLite store, one file per module of `sqlite/` but `checkpoint`, and the
//! store conformance suite run against it (`conformance.rs`). The tests here are those only
//! SQLite can be held to (its files, locks, triggers, query plans, bulk loads); what every
//! store must do is in the suite. A test that needs a store opens a fresh one in its own
//! temporary directory.

use athena_core::{Batch, Cursor, Event, SourceInfo};
use chrono::{TimeZone, Utc};

mod bulk;
mod conformance;
mod insert;
mod open;
mod packed;
mod query;
mod recall;
mod write;

fn info() -> SourceInfo {
    SourceInfo {
        id: "src".into(),
        source_type: "test".into(),
        name: "test".into(),
    }
}

fn event(id: &str, minute: u32, title: &str, actor: &str) -> Event {
    let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, minute, 0).unwrap();
    let mut e = Event::new(id, "note", at, title);
    e.actor = Some(actor.into());
    e.body = format!("body of {id}");
    e.context.insert("repo".into(), "r".into());
    e
}

fn batch(events: Vec<Event>, next: u64) -> Batch {
    Batch::new(
        events,
        Cursor::from_json(serde_json::json!({"version":1,"next":next})),
    )
}

fn put(key: &str, value: Option<&str>) -> athena_core::StateChange {
    athena_core::StateChange {
        key: key.as_bytes().to_vec(),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}
