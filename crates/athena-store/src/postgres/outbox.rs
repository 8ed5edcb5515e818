//! The outbox for feeds on PostgreSQL, as the SQLite store's (`sqlite/outbox.rs`): an entry
//! per stored batch, written by `write` in the batch's transaction; what feeds read and record.

use athena_core::outbox::{Backlog, Outbox, OutboxBatch};
use athena_core::StoreError;

use super::query::{event_of, EVENT_COLUMNS};
use super::{wait, PgStore};
use crate::sql_text::from_millis;

/// The outbox entries after what `$1` (a feed) has published of each source.
const UNPUBLISHED: &str = "FROM outbox o
     LEFT JOIN feed_progress p ON p.feed = $1 AND p.source_id = o.source_id
     WHERE o.seq > coalesce(p.outbox_seq, 0)";

impl Outbox for PgStore {
    fn keep_outbox(&mut self) -> Result<(), StoreError> {
        self.keep_outbox = true;
        Ok(())
    }

    fn outbox_sources(&mut self, feed: &str) -> Result<Vec<String>, StoreError> {
        self.reconnect_if_lost()?;
        let sql = format!("SELECT DISTINCT o.source_id {UNPUBLISHED} ORDER BY 1");
        let rows = wait(self.client.query(&sql, &[&feed])).map_err(|e| self.backend(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn unpublished(
        &mut self,
        feed: &str,
        source_id: &str,
        max_events: usize,
    ) -> Result<Vec<OutboxBatch>, StoreError> {
        self.reconnect_if_lost()?;
        let be = |e| self.backend(e);
        let sql = format!(
            "SELECT o.seq, o.first_seq, o.last_seq, o.events, o.stored_at {UNPUBLISHED}
               AND o.source_id = $2 ORDER BY o.seq LIMIT $3"
        );
        // Whole entries until `max_events`: an entry holds at least one event.
        let limit = i64::try_from(max_events.max(1)).unwrap_or(i64::MAX);
        let rows = wait(self.client.query(&sql, &[&feed, &source_id, &limit])).map_err(be)?;
        let mut events = 0;
        let mut batches = Vec::new();
        for row in rows {
            if events >= max_events.max(1) {
                break;
            }
            let (first, last): (i64, i64) = (row.get(1), row.get(2));
            events += usize::try_from(row.get::<_, i64>(3)).unwrap_or(0);
            let found = wait(self.client.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE seq BETWEEN $1 AND $2 AND source_id = $3 ORDER BY seq"
                ),
                &[&first, &last, &source_id],
            ))
            .map_err(be)?;
            batches.push(OutboxBatch {
                seq: row.get(0),
                source_id: source_id.to_string(),
                events: found.iter().map(event_of).collect(),
                stored_at: from_millis(row.get(4)),
            });
        }
        Ok(batches)
    }

    fn subject_sequence(&mut self, feed: &str, subject: &str) -> Result<u64, StoreError> {
        self.reconnect_if_lost()?;
        let row = wait(self.client.query_opt(
            "SELECT stream_seq FROM feed_subjects WHERE feed = $1 AND subject = $2",
            &[&feed, &subject],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(row.map_or(0, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)))
    }

    fn record_published(
        &mut self,
        feed: &str,
        source_id: &str,
        through: i64,
        published: i64,
        subjects: &[(String, u64)],
    ) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        let (names, seqs): (Vec<&str>, Vec<i64>) = subjects
            .iter()
            .map(|(s, q)| (s.as_str(), i64::try_from(*q).unwrap_or(i64::MAX)))
            .unzip();
        let done = wait(async {
            let tx = self.client.transaction().await?;
            tx.execute(
                "INSERT INTO feed_progress (feed, source_id, outbox_seq, event_seq)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (feed, source_id) DO UPDATE
                    SET outbox_seq = greatest(feed_progress.outbox_seq, excluded.outbox_seq),
                        event_seq = greatest(feed_progress.event_seq, excluded.event_seq)",
                &[&feed, &source_id, &through, &published],
            )
            .await?;
            tx.execute(
                "INSERT INTO feed_subjects (feed, subject, stream_seq)
                 SELECT $1, s, q FROM unnest($2::text[], $3::bigint[]) AS x(s, q)
                 ON CONFLICT (feed, subject) DO UPDATE SET stream_seq = excluded.stream_seq",
                &[&feed, &names, &seqs],
            )
            .await?;
            tx.commit().await
        });
        done.map_err(|e| self.backend(e))
    }

    fn published_through(&mut self, feed: &str, source_id: &str) -> Result<i64, StoreError> {
        self.reconnect_if_lost()?;
        let row = wait(self.client.query_opt(
            "SELECT event_seq FROM feed_progress WHERE feed = $1 AND source_id = $2",
            &[&feed, &source_id],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    fn storing_sequence(&mut self, source_id: &str, id: &str) -> Result<Option<i64>, StoreError> {
        self.reconnect_if_lost()?;
        let row = wait(self.client.query_opt(
            "SELECT seq FROM events WHERE source_id = $1 AND id = $2",
            &[&source_id, &id],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn backlog(&mut self, feed: &str) -> Result<Backlog, StoreError> {
        self.reconnect_if_lost()?;
        let sql =
            format!("SELECT coalesce(sum(o.events), 0)::bigint, min(o.stored_at) {UNPUBLISHED}");
        let row = wait(self.client.query_one(&sql, &[&feed])).map_err(|e| self.backend(e))?;
        Ok(Backlog {
            events: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            oldest: row.get::<_, Option<i64>>(1).map(from_millis),
        })
    }

    fn trim_outbox(&mut self, feeds: &[&str]) -> Result<u64, StoreError> {
        self.reconnect_if_lost()?;
        // Every feed that ever published holds back what it has not, configured now or not.
        let rows = wait(
            self.client
                .query("SELECT DISTINCT feed FROM feed_progress", &[]),
        )
        .map_err(|e| self.backend(e))?;
        let mut known: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        known.extend(feeds.iter().map(|f| f.to_string()));
        known.sort();
        known.dedup();
        let feeds: Vec<&str> = known.iter().map(String::as_str).collect();
        if feeds.is_empty() {
            return Ok(0);
        }
        let n = feeds.len() as i64;
        let deleted = wait(self.client.execute(
            "DELETE FROM outbox WHERE seq <= (
                SELECT CASE WHEN count(*) < $2 THEN 0 ELSE min(p.outbox_seq) END
                FROM feed_progress p
                WHERE p.source_id = outbox.source_id AND p.feed = ANY($1::text[]))",
            &[&feeds, &n],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(deleted)
    }
}
