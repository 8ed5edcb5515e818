//! Tests of a bulk load's time indexes: suspended, rebuilt, and left to the next sync by a crash.

use std::time::Duration;

use athena_core::{Event, EventQuery, Store};

use super::{batch, event, info};
use crate::sqlite::bulk::{BULK_MIN_ROWS, TIME_INDEXES};
use crate::SqliteStore;

fn time_indexes(s: &SqliteStore) -> Vec<String> {
    let mut stmt = s
        .conn
        .prepare(
            "SELECT sql FROM sqlite_schema
             WHERE type = 'index' AND name IN ('events_by_time', 'events_by_source_time')
             ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn many(from: usize, n: usize) -> Vec<Event> {
    // Times out of order, as in a log read after a newer one.
    (from..from + n)
        .map(|i| event(&format!("{i:07}"), (i * 7 % 60) as u32, "t", "a"))
        .collect()
}

#[test]
fn a_bulk_load_builds_the_time_indexes_at_the_end_and_a_crash_leaves_them_to_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let fresh = time_indexes(&SqliteStore::open(&path).unwrap());
    assert_eq!(fresh.len(), 2);
    assert_eq!(
        TIME_INDEXES.replace(" IF NOT EXISTS", ""),
        format!("{};\n{};", fresh[1], fresh[0]),
        "TIME_INDEXES must create what migration 1 creates"
    );
    // A bulk sync into the empty store: the indexes go once it has written BULK_MIN_ROWS.
    let step = 10_000;
    {
        let mut s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
        let mut from = 0;
        while (from as i64) < BULK_MIN_ROWS {
            s.stage_batch(&info(), &batch(many(from, step), from as u64))
                .unwrap();
            s.commit_staged().unwrap();
            from += step;
        }
        assert_eq!(time_indexes(&s).len(), 2, "dropped at the next group only");
        s.stage_batch(&info(), &batch(many(from, step), 0)).unwrap();
        s.commit_staged().unwrap();
        assert!(time_indexes(&s).is_empty());
        // Queries are still right without them.
        let newest = s
            .query_events(&EventQuery {
                limit: Some(1),
                ..EventQuery::default()
            })
            .unwrap();
        assert_eq!(newest[0].occurred_at.format("%M").to_string(), "59");
        s.finish_sync().unwrap();
        assert_eq!(time_indexes(&s), fresh);
    }
    // The store now holds more than the next sync will write: no bulk load.
    let rows = (BULK_MIN_ROWS as usize / step + 2) * step;
    {
        let mut s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
        let mut from = rows;
        while from < 2 * rows - step {
            s.stage_batch(&info(), &batch(many(from, step), 0)).unwrap();
            s.commit_staged().unwrap();
            from += step;
        }
        assert_eq!(time_indexes(&s), fresh);
        s.finish_sync().unwrap();
    }
    // A sync that dies during a bulk load (no finish_sync) leaves the indexes to the next.
    let path = dir.path().join("b.db");
    {
        let mut s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
        let mut from = 0;
        while time_indexes(&s).len() == 2 {
            s.stage_batch(&info(), &batch(many(from, step), 0)).unwrap();
            s.commit_staged().unwrap();
            from += step;
        }
    }
    assert!(time_indexes(&SqliteStore::open(&path).unwrap()).is_empty());
    let s = SqliteStore::open_for_sync(&path, Duration::ZERO).unwrap();
    assert_eq!(time_indexes(&s), fresh);
}
