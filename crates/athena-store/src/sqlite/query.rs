//! The reads: events by filter and full-text search, sources' status, dead letters, cursors.
//! `query_events`, `sources_status` and `dead_letters` never write: they run on a read-only store.

use athena_core::{
    Cursor, DeadLetter, Event, EventQuery, Outcome, RunStatus, SourceState, SourceStatus,
    StoreError, StoredDeadLetter,
};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde_json::{Map, Value};

use super::{backend, millis, SqliteStore};
use crate::lock;

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn json_object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A `LIMIT` for SQLite, whose integers are i64: any larger count means "all of them".
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `text` as a `LIKE` pattern (with `ESCAPE '\'`) that matches exactly that text.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Makes a user's search text safe for FTS5: plain words become quoted terms that must all
/// match; text that already uses FTS5 syntax (quotes, `*`, `AND`/`OR`/`NOT`, `NEAR`, `col:`) is
/// passed through.
pub(super) fn fts_query(q: &str) -> String {
    let advanced = q.contains(['"', '*', '(', ')', ':', '^'])
        || q.split_whitespace()
            .any(|w| matches!(w, "AND" | "OR" | "NOT") || w.starts_with("NEAR"));
    if advanced {
        return q.to_string();
    }
    q.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl SqliteStore {
    /// Total number of stored events.
    pub fn count_events(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| backend(&self.path, e))
    }

    /// [`Store::load_cursor`](athena_core::Store::load_cursor).
    pub(super) fn select_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT cursor FROM cursors WHERE source_id = ?1",
                [source_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend(&self.path, e))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map(Cursor::from_json)
                .map_err(|e| StoreError::Schema {
                    path: self.path.clone(),
                    message: format!("cursor of source {source_id} is not JSON: {e}"),
                })
        })
        .transpose()
    }

    /// [`Store::load_state`](athena_core::Store::load_state).
    pub(super) fn select_state(&mut self, source_id: &str) -> Result<SourceState, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM source_state WHERE source_id = ?1")
            .map_err(be)?;
        let rows = stmt
            .query_map([source_id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(be)?;
        rows.collect::<Result<SourceState, _>>().map_err(be)
    }

    /// [`Store::query_events`](athena_core::Store::query_events).
    pub(super) fn select_events(&self, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from(
            "SELECT id, source_id, source_type, kind, occurred_at, ingested_at, actor, title, body,
                    url, outcome, context, metadata
             FROM events WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut any_of = |sql: &mut String, column: &str, values: &[String]| {
            if !values.is_empty() {
                let marks = vec!["?"; values.len()].join(", ");
                sql.push_str(&format!(" AND {column} IN ({marks})"));
                args.extend(values.iter().cloned().map(rusqlite::types::Value::Text));
            }
        };
        any_of(&mut sql, "source_id", &q.sources);
        any_of(&mut sql, "kind", &q.kinds);
        if let Some(actor) = &q.actor {
            // The actor is text to find, not a pattern: `%` and `_` in it match themselves.
            sql.push_str(" AND actor LIKE '%' || ? || '%' ESCAPE '\\'");
            args.push(rusqlite::types::Value::Text(like_literal(actor)));
        }
        if let Some(t) = q.since {
            sql.push_str(" AND occurred_at >= ?");
            args.push(rusqlite::types::Value::Integer(millis(t)));
        }
        if let Some(t) = q.until {
            sql.push_str(" AND occurred_at < ?");
            args.push(rusqlite::types::Value::Integer(millis(t)));
        }
        if let Some(search) = &q.search {
            sql.push_str(" AND seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)");
            args.push(rusqlite::types::Value::Text(fts_query(search)));
        }
        sql.push_str(" ORDER BY occurred_at DESC, seq DESC");
        if let Some(limit) = q.limit {
            sql.push_str(" LIMIT ?");
            args.push(rusqlite::types::Value::Integer(sql_limit(limit)));
        }
        let query_error = |e: rusqlite::Error| {
            // A malformed MATCH expression surfaces as a generic SQLITE_ERROR.
            let generic = matches!(
                &e,
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::Unknown
            );
            if q.search.is_some() && generic {
                StoreError::Query(format!(
                    "search {:?}: {e}",
                    q.search.as_deref().unwrap_or("")
                ))
            } else {
                backend(&self.path, e)
            }
        };
        let mut stmt = self.conn.prepare(&sql).map_err(query_error)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok(Event {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    source_type: r.get(2)?,
                    kind: r.get(3)?,
                    occurred_at: from_millis(r.get(4)?),
                    ingested_at: Some(from_millis(r.get(5)?)),
                    actor: r.get(6)?,
                    title: r.get(7)?,
                    body: r.get(8)?,
                    url: r.get(9)?,
                    outcome: r
                        .get::<_, Option<String>>(10)?
                        .and_then(|o| Outcome::parse(&o)),
                    context: json_object(&r.get::<_, String>(11)?),
                    metadata: json_object(&r.get::<_, String>(12)?),
                })
            })
            .map_err(query_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
    }

    /// [`Store::sources_status`](athena_core::Store::sources_status).
    pub(super) fn select_sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let be = |e| backend(&self.path, e);
        // A reader does not migrate: a store from before schema 3 has no error kinds.
        let error_kind = if self.schema_version()? >= 3 {
            "r.error_kind"
        } else {
            "NULL"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "WITH ids AS (
                    SELECT source_id FROM cursors UNION SELECT source_id FROM source_runs
                    UNION SELECT DISTINCT source_id FROM events
                 )
                 SELECT ids.source_id,
                        coalesce(r.source_type, c.source_type),
                        c.cursor,
                        (SELECT count(*) FROM events e WHERE e.source_id = ids.source_id),
                        (SELECT count(*) FROM dead_letters d WHERE d.source_id = ids.source_id),
                        r.finished_at, r.status, r.error, {error_kind}
                 FROM ids
                 LEFT JOIN cursors c ON c.source_id = ids.source_id
                 LEFT JOIN source_runs r ON r.source_id = ids.source_id
                 ORDER BY ids.source_id"
            ))
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceStatus {
                    source_id: r.get(0)?,
                    source_type: r.get(1)?,
                    cursor: r
                        .get::<_, Option<String>>(2)?
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .map(Cursor::from_json),
                    events: r.get::<_, i64>(3)? as u64,
                    dead_letters: r.get::<_, i64>(4)? as u64,
                    last_sync: r.get::<_, Option<i64>>(5)?.map(from_millis),
                    last_status: r
                        .get::<_, Option<String>>(6)?
                        .and_then(|t| RunStatus::parse(&t)),
                    last_error: r.get(7)?,
                    last_error_kind: r.get(8)?,
                })
            })
            .map_err(be)?;
        let mut status = rows.collect::<Result<Vec<_>, _>>().map_err(be)?;
        // A run is recorded as `running` when it starts; if no sync holds the store now, that
        // run never recorded its end, and saying so is the truth the store still has.
        let mut sync_running = None;
        for s in &mut status {
            if s.last_status == Some(RunStatus::Running) {
                if *sync_running.get_or_insert_with(|| lock::held(&self.resolved)) {
                    continue;
                }
                s.last_status = Some(RunStatus::Unfinished);
                s.last_error = Some(format!(
                    "the sync that started at {} did not record how it ended: it was killed, or the store could not be written (a full disk?)",
                    s.last_sync
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_default()
                ));
            }
        }
        Ok(status)
    }

    /// [`Store::dead_letters`](athena_core::Store::dead_letters).
    pub(super) fn select_dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_id, origin, reason, raw, created_at FROM dead_letters
                 WHERE ?1 IS NULL OR source_id = ?1
                 ORDER BY seq DESC LIMIT ?2",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map(params![source, sql_limit(limit)], |r| {
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
        rows.collect::<Result<Vec<_>, _>>().map_err(be)
    }
}
