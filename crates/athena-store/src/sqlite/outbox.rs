//! The outbox for feeds (see [`athena_core::outbox`]): an entry per stored batch, written by
//! `write` in the batch's transaction once [`Outbox::keep_outbox`] was called; here, what the
//! feeds read of it and record.

use athena_core::outbox::{Backlog, Outbox, OutboxBatch};
use athena_core::StoreError;
use chrono::Utc;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, OptionalExtension};

use super::query::EVENT_COLUMNS;
use super::{backend, millis, SqliteStore};
use crate::sql_text::from_millis;

/// The outbox entries after what `?1` (a feed) has published of each source.
const UNPUBLISHED: &str = "FROM outbox o
     LEFT JOIN feed_progress p ON p.feed = ?1 AND p.source_id = o.source_id
     WHERE o.seq > coalesce(p.outbox_seq, 0)";

impl Outbox for SqliteStore {
    fn keep_outbox(&mut self) -> Result<(), StoreError> {
        self.keep_outbox = true;
        Ok(())
    }

    fn outbox_sources(&mut self, feed: &str) -> Result<Vec<String>, StoreError> {
        let be = |e| backend(&self.path, e);
        let sql = format!("SELECT DISTINCT o.source_id {UNPUBLISHED} ORDER BY 1");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(be)?;
        let rows = stmt.query_map([feed], |r| r.get(0)).map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn unpublished(
        &mut self,
        feed: &str,
        source_id: &str,
        max_events: usize,
    ) -> Result<Vec<OutboxBatch>, StoreError> {
        let be = |e| backend(&self.path, e);
        let sql = format!(
            "SELECT o.seq, o.first_seq, o.last_seq, o.events, o.stored_at {UNPUBLISHED}
               AND o.source_id = ?2 ORDER BY o.seq"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(be)?;
        let mut rows = stmt.query(params![feed, source_id]).map_err(be)?;
        let mut entries: Vec<(i64, i64, i64, i64)> = Vec::new();
        let mut events = 0;
        while events < max_events.max(1) {
            let Some(row) = rows.next().map_err(be)? else {
                break;
            };
            let entry = (row.get(0), row.get(1), row.get(2), row.get(4));
            let entry = (
                entry.0.map_err(be)?,
                entry.1.map_err(be)?,
                entry.2.map_err(be)?,
                entry.3.map_err(be)?,
            );
            events += usize::try_from(row.get::<_, i64>(3).map_err(be)?).unwrap_or(0);
            entries.push(entry);
        }
        drop(rows);
        let events_sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE seq BETWEEN ? AND ? AND source_id = ? ORDER BY seq"
        );
        entries
            .into_iter()
            .map(|(seq, first, last, stored_at)| {
                let args = vec![
                    SqlValue::Integer(first),
                    SqlValue::Integer(last),
                    SqlValue::Text(source_id.to_string()),
                ];
                Ok(OutboxBatch {
                    seq,
                    source_id: source_id.to_string(),
                    events: self.select_rows(&events_sql, args, None)?,
                    stored_at: from_millis(stored_at),
                })
            })
            .collect()
    }

    fn subject_sequence(&mut self, feed: &str, subject: &str) -> Result<u64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT stream_seq FROM feed_subjects WHERE feed = ?1 AND subject = ?2",
                params![feed, subject],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend(&self.path, e))?;
        Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
    }

    fn record_published(
        &mut self,
        feed: &str,
        source_id: &str,
        through: i64,
        published: i64,
        subjects: &[(String, u64)],
    ) -> Result<(), StoreError> {
        let be = |e| backend(&self.path, e);
        let tx = self.conn.unchecked_transaction().map_err(be)?;
        tx.prepare_cached(
            "INSERT INTO feed_progress (feed, source_id, outbox_seq, event_seq)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (feed, source_id) DO UPDATE
                SET outbox_seq = max(outbox_seq, excluded.outbox_seq),
                    event_seq = max(event_seq, excluded.event_seq)",
        )
        .map_err(be)?
        .execute(params![feed, source_id, through, published])
        .map_err(be)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO feed_subjects (feed, subject, stream_seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (feed, subject) DO UPDATE SET stream_seq = excluded.stream_seq",
                )
                .map_err(be)?;
            for (subject, seq) in subjects {
                let seq = i64::try_from(*seq).unwrap_or(i64::MAX);
                put.execute(params![feed, subject, seq]).map_err(be)?;
            }
        }
        tx.commit().map_err(be)
    }

    fn published_through(&mut self, feed: &str, source_id: &str) -> Result<i64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT event_seq FROM feed_progress WHERE feed = ?1 AND source_id = ?2",
                params![feed, source_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend(&self.path, e))?;
        Ok(seq.unwrap_or(0))
    }

    fn storing_sequence(&mut self, source_id: &str, id: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT seq FROM events WHERE source_id = ?1 AND id = ?2",
                params![source_id, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend(&self.path, e))
    }

    fn backlog(&mut self, feed: &str) -> Result<Backlog, StoreError> {
        let sql = format!("SELECT coalesce(sum(o.events), 0), min(o.stored_at) {UNPUBLISHED}");
        let (events, oldest): (i64, Option<i64>) = self
            .conn
            .query_row(&sql, [feed], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| backend(&self.path, e))?;
        Ok(Backlog {
            events: u64::try_from(events).unwrap_or(0),
            oldest: oldest.map(from_millis),
        })
    }

    fn trim_outbox(&mut self, feeds: &[&str]) -> Result<u64, StoreError> {
        let be = |e| backend(&self.path, e);
        // Every feed that ever published holds back what it has not, configured now or not.
        let mut known: Vec<String> = {
            let mut stmt = (self.conn)
                .prepare_cached("SELECT DISTINCT feed FROM feed_progress")
                .map_err(be)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)?
        };
        known.extend(feeds.iter().map(|f| f.to_string()));
        known.sort();
        known.dedup();
        let feeds: Vec<&str> = known.iter().map(String::as_str).collect();
        if feeds.is_empty() {
            return Ok(0);
        }
        // Per source, the least any feed has published (a feed that has published nothing of
        // it holds everything back).
        let marks = vec!["?"; feeds.len()].join(", ");
        let sql = format!(
            "DELETE FROM outbox WHERE seq <= (
                SELECT CASE WHEN count(*) < {n} THEN 0 ELSE min(p.outbox_seq) END
                FROM feed_progress p
                WHERE p.source_id = outbox.source_id AND p.feed IN ({marks}))",
            n = feeds.len()
        );
        let tx = self.conn.unchecked_transaction().map_err(be)?;
        let deleted = tx
            .execute(&sql, rusqlite::params_from_iter(feeds.iter().copied()))
            .map_err(be)?;
        tx.commit().map_err(be)?;
        Ok(deleted as u64)
    }
}

/// The outbox entry of a batch that stored events `first..=last` of `source_id` (storing
/// sequences), written inside the batch's transaction.
pub(super) fn write_entry(
    conn: &rusqlite::Connection,
    source_id: &str,
    (first, last): (i64, i64),
    events: u64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (source_id, first_seq, last_seq, events, stored_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        source_id,
        first,
        last,
        i64::try_from(events).unwrap_or(i64::MAX),
        millis(Utc::now())
    ])?;
    Ok(())
}
