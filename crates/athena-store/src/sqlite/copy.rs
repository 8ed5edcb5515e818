//! Moving a store (`athena-ingest copy`): its events in storing order, with their
//! `ingested_at`, and the rest (cursors, runs, dead letters, state), each batch of events
//! written in one transaction with its full-text index and kind counts.

use athena_core::{
    Cursor, DeadLetter, Event, Outcome, RunRecord, RunStatus, StoreError, StoreRest,
    StoredDeadLetter,
};
use rusqlite::params;
use rusqlite::types::Value as SqlValue;

use super::query::EVENT_COLUMNS;
use super::{backend, millis, SqliteStore};
use crate::sql_text::{from_millis, sql_limit};

impl SqliteStore {
    /// [`Store::export_events`](athena_core::Store::export_events).
    pub(super) fn select_export(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
        self.select_rows(
            &sql,
            vec![
                SqlValue::Integer(after),
                SqlValue::Integer(sql_limit(limit)),
            ],
            None,
        )
    }

    /// [`Store::import_events`](athena_core::Store::import_events).
    pub(super) fn insert_imported(&mut self, events: &[Event]) -> Result<u64, StoreError> {
        let be = |e| backend(&self.path, e);
        let tx = self.conn.unchecked_transaction().map_err(be)?;
        let last: i64 = tx
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(be)?;
        let mut written = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (id, source_id, source_type, kind, occurred_at, ingested_at,
                        actor, title, body, url, outcome, context, metadata)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (source_id, id) DO NOTHING",
                )
                .map_err(be)?;
            let mut count = tx
                .prepare_cached(
                    "INSERT INTO event_kinds (source_id, kind, events) VALUES (?1, ?2, 1)
                     ON CONFLICT (source_id, kind) DO UPDATE SET events = events + 1",
                )
                .map_err(be)?;
            for e in events {
                let n = insert
                    .execute(params![
                        e.id,
                        e.source_id,
                        e.source_type,
                        e.kind,
                        millis(e.occurred_at),
                        e.ingested_at.map_or(0, millis),
                        e.actor,
                        e.title,
                        e.body,
                        e.url,
                        e.outcome.map(Outcome::as_str),
                        serde_json::to_string(&e.context).unwrap_or_else(|_| "{}".into()),
                        serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()),
                    ])
                    .map_err(be)?;
                if n == 1 {
                    written += 1;
                    count.execute(params![e.source_id, e.kind]).map_err(be)?;
                }
            }
        }
        tx.execute(
            "INSERT INTO events_fts (rowid, title, body) SELECT seq, title, body FROM events WHERE seq > ?1",
            [last],
        )
        .map_err(be)?;
        tx.commit().map_err(be)?;
        Ok(written)
    }

    /// [`Store::export_rest`](athena_core::Store::export_rest).
    pub(super) fn select_rest(&self) -> Result<StoreRest, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut rest = StoreRest::default();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_id, source_type, cursor, updated_at FROM cursors ORDER BY source_id",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| {
                let text: String = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?, text, r.get::<_, i64>(3)?))
            })
            .map_err(be)?;
        for row in rows {
            let (id, kind, text, at): (String, String, String, i64) = row.map_err(be)?;
            let cursor = serde_json::from_str(&text).map_err(|e| StoreError::Schema {
                path: self.path.clone(),
                message: format!("cursor of source {id} is not JSON: {e}"),
            })?;
            rest.cursors
                .push((id, kind, Cursor::from_json(cursor), from_millis(at)));
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_id, source_type, finished_at, status, error, error_kind
                 FROM source_runs ORDER BY source_id",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RunRecord {
                    source_id: r.get(0)?,
                    source_type: r.get(1)?,
                    finished_at: from_millis(r.get(2)?),
                    status: RunStatus::parse(&r.get::<_, String>(3)?).unwrap_or(RunStatus::Failed),
                    error: r.get(4)?,
                    error_kind: r.get(5)?,
                })
            })
            .map_err(be)?;
        rest.runs = rows.collect::<Result<_, _>>().map_err(be)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_id, origin, reason, raw, created_at FROM dead_letters ORDER BY seq",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredDeadLetter {
                    source_id: r.get(0)?,
                    letter: DeadLetter {
                        origin: r.get(1)?,
                        reason: r.get(2)?,
                        raw: r.get(3)?,
                    },
                    created_at: from_millis(r.get(4)?),
                })
            })
            .map_err(be)?;
        rest.dead_letters = rows.collect::<Result<_, _>>().map_err(be)?;
        let mut stmt = self
            .conn
            .prepare("SELECT source_id, key, value FROM source_state ORDER BY source_id, key")
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(be)?;
        rest.state = rows.collect::<Result<_, _>>().map_err(be)?;
        Ok(rest)
    }

    /// [`Store::import_rest`](athena_core::Store::import_rest).
    pub(super) fn insert_rest(&mut self, rest: &StoreRest) -> Result<(), StoreError> {
        let be = |e| backend(&self.path, e);
        let tx = self.conn.unchecked_transaction().map_err(be)?;
        for (id, kind, cursor, at) in &rest.cursors {
            let text = serde_json::to_string(cursor.as_json()).unwrap_or_else(|_| "null".into());
            tx.execute(
                "INSERT INTO cursors (source_id, source_type, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source_id) DO UPDATE SET source_type = excluded.source_type,
                    cursor = excluded.cursor, updated_at = excluded.updated_at",
                params![id, kind, text, millis(*at)],
            )
            .map_err(be)?;
        }
        for run in &rest.runs {
            tx.execute(
                "INSERT INTO source_runs (source_id, source_type, finished_at, status, error, error_kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source_id) DO UPDATE SET source_type = excluded.source_type,
                    finished_at = excluded.finished_at, status = excluded.status,
                    error = excluded.error, error_kind = excluded.error_kind",
                params![
                    run.source_id,
                    run.source_type,
                    millis(run.finished_at),
                    run.status.as_str(),
                    run.error,
                    run.error_kind
                ],
            )
            .map_err(be)?;
        }
        for d in &rest.dead_letters {
            tx.execute(
                "INSERT INTO dead_letters (source_id, origin, reason, raw, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (source_id, origin) DO NOTHING",
                params![
                    d.source_id,
                    d.letter.origin,
                    d.letter.reason,
                    d.letter.raw,
                    millis(d.created_at)
                ],
            )
            .map_err(be)?;
        }
        for (id, key, value) in &rest.state {
            tx.execute(
                "INSERT INTO source_state (source_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                params![id, key, value],
            )
            .map_err(be)?;
        }
        tx.commit().map_err(be)
    }
}
