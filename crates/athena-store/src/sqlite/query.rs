//! The reads: events by filter and full-text search, sources' status, dead letters, cursors.
//! `query_events`, `sources_status` and `dead_letters` never write: they run on a read-only store.

use athena_core::known::SourceKinds;
use athena_core::recall::{Bucket, Order, Page, PageCursor, PageQuery, TimelineCount};
use athena_core::search::SearchMatch;
use athena_core::{
    Cursor, DeadLetter, Event, EventQuery, Outcome, RunStatus, SourceState, SourceStatus,
    StoreError, StoredDeadLetter,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension};

use super::fts::{fts_query, syntax_error};
use super::search::SearchPlan;
use super::search_cost;
use super::{backend, millis, SqliteStore};
use crate::lock;
use crate::sql_text::{from_millis, group_kinds, json_object, like_literal, sql_limit};

/// The columns [`SqliteStore::select_rows`] reads, in its order.
pub(super) const EVENT_COLUMNS: &str =
    "id, source_id, source_type, kind, occurred_at, ingested_at, actor, \
     title, body, url, outcome, context, metadata, seq";

/// A full-text condition: the FTS5 query, and how it joins the events (see `search`).
struct Search {
    plan: SearchPlan,
    fts: String,
}

/// Appends `q`'s conditions (not its limit) to a `WHERE 1 = 1`, with their arguments; the
/// full-text condition is `search`'s (none: the caller matches the search itself).
fn push_filter(
    q: &EventQuery,
    search: Option<&Search>,
    sql: &mut String,
    args: &mut Vec<SqlValue>,
) {
    let mut any_of = |sql: &mut String, column: &str, values: &[String]| {
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(", ");
            sql.push_str(&format!(" AND {column} IN ({marks})"));
            args.extend(values.iter().cloned().map(SqlValue::Text));
        }
    };
    any_of(sql, "source_id", &q.sources);
    any_of(sql, "kind", &q.kinds);
    let outcomes: Vec<String> = q.outcomes.iter().map(|o| o.as_str().to_string()).collect();
    any_of(sql, "outcome", &outcomes);
    if let Some(actor) = &q.actor {
        // The actor is text to find, not a pattern: `%` and `_` in it match themselves.
        sql.push_str(" AND actor LIKE '%' || ? || '%' ESCAPE '\\'");
        args.push(SqlValue::Text(like_literal(actor)));
    }
    if let Some(who) = &q.person {
        // The person `who` names, by one of their handles, their id, or a configured name.
        sql.push_str(
            " AND seq IN (SELECT ep.seq FROM event_people ep \
             JOIN people_handles ph ON ph.handle = ep.handle \
             WHERE ph.person IN (SELECT person FROM people_handles \
             WHERE handle = ? OR person = ? OR person = 'person:' || ?))",
        );
        let handle = athena_core::people::Handle::parse(who).map_or_else(|| who.clone(), |h| h.0);
        args.push(SqlValue::Text(handle));
        args.push(SqlValue::Text(who.clone()));
        // A configured person's name alone (`Ada` for `person:Ada`).
        args.push(SqlValue::Text(who.clone()));
    }
    if let Some(t) = q.since {
        sql.push_str(" AND occurred_at >= ?");
        args.push(SqlValue::Integer(millis(t)));
    }
    if let Some(t) = q.until {
        sql.push_str(" AND occurred_at < ?");
        args.push(SqlValue::Integer(millis(t)));
    }
    if let Some(search) = search {
        sql.push_str(search.plan.condition());
        args.push(SqlValue::Text(search.fts.clone()));
    }
}

/// The FTS5 query of `q`'s search when it is to be ranked (any of its words).
fn ranked<'a>(q: &EventQuery, search: &'a Option<Search>) -> Option<&'a str> {
    match (q.search_match, search) {
        (SearchMatch::Any, Some(s)) => Some(&s.fts),
        _ => None,
    }
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
        let search = self.plan_for(q)?;
        if let Some(fts) = ranked(q, &search) {
            let rows = self.select_ranked(q, fts, q.limit.unwrap_or(usize::MAX))?;
            return Ok(rows.into_iter().map(|(_, e)| e).collect());
        }
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1");
        let mut args = Vec::new();
        push_filter(q, search.as_ref(), &mut sql, &mut args);
        sql.push_str(" ORDER BY occurred_at DESC, seq DESC");
        if let Some(limit) = q.limit {
            sql.push_str(" LIMIT ?");
            args.push(SqlValue::Integer(sql_limit(limit)));
        }
        let rows = self.select_rows(&sql, args, q.search.as_deref())?;
        Ok(rows.into_iter().map(|(_, e)| e).collect())
    }

    /// [`Recall::page`](athena_core::recall::Recall::page): the filter, then keyset on
    /// `(occurred_at, seq)` after the cursor, one row more than asked to know if more follow.
    /// A page of any of a search's words is the best `limit` matches, with no next page.
    pub(crate) fn select_page(&self, q: &PageQuery) -> Result<Page, StoreError> {
        let search = self.plan_for(&q.filter)?;
        if let Some(fts) = ranked(&q.filter, &search) {
            let rows = self.select_ranked(&q.filter, fts, q.limit)?;
            return Ok(Page {
                events: rows.into_iter().map(|(_, e)| e).collect(),
                next: None,
            });
        }
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1");
        let mut args = Vec::new();
        push_filter(&q.filter, search.as_ref(), &mut sql, &mut args);
        let (cmp, dir) = match q.order {
            Order::Desc => ("<", "DESC"),
            Order::Asc => (">", "ASC"),
        };
        if let Some(after) = q.after {
            sql.push_str(&format!(
                " AND (occurred_at {cmp} ? OR (occurred_at = ? AND seq {cmp} ?))"
            ));
            args.push(SqlValue::Integer(after.occurred_at_ms));
            args.push(SqlValue::Integer(after.occurred_at_ms));
            args.push(SqlValue::Integer(after.seq));
        }
        sql.push_str(&format!(" ORDER BY occurred_at {dir}, seq {dir} LIMIT ?"));
        args.push(SqlValue::Integer(sql_limit(q.limit.saturating_add(1))));
        let mut rows = self.select_rows(&sql, args, q.filter.search.as_deref())?;
        let more = rows.len() > q.limit;
        rows.truncate(q.limit);
        let next = more
            .then(|| rows.last())
            .flatten()
            .map(|(seq, e)| PageCursor {
                order: q.order,
                occurred_at_ms: millis(e.occurred_at),
                seq: *seq,
            });
        Ok(Page {
            events: rows.into_iter().map(|(_, e)| e).collect(),
            next,
        })
    }

    /// [`Recall::event`](athena_core::recall::Recall::event).
    pub(crate) fn select_event(
        &self,
        source_id: &str,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE source_id = ? AND id = ?");
        let args = vec![
            SqlValue::Text(source_id.to_string()),
            SqlValue::Text(id.to_string()),
        ];
        let rows = self.select_rows(&sql, args, None)?;
        Ok(rows.into_iter().next().map(|(_, e)| e))
    }

    /// [`Recall::timeline`](athena_core::recall::Recall::timeline): grouped in SQL, each time
    /// floored to its bucket's start (also before 1970: SQLite's `%` keeps the sign).
    pub(crate) fn select_timeline(
        &self,
        q: &EventQuery,
        bucket: Bucket,
    ) -> Result<Vec<TimelineCount>, StoreError> {
        let start = match bucket.fixed_millis() {
            Some(width) => {
                let offset = bucket.offset_millis();
                format!(
                    "(occurred_at + {offset}) - (((occurred_at + {offset}) % {width}) + {width}) % {width} - {offset}"
                )
            }
            // Months are of four lengths: SQLite's calendar finds their first day. Seconds as
            // a real number, so that 1969-12-31T23:59:59.999Z stays in December.
            None => "CAST(strftime('%s', occurred_at / 1000.0, 'unixepoch', 'start of month') \
                     AS INTEGER) * 1000"
                .to_string(),
        };
        let mut sql =
            format!("SELECT {start} AS bucket, source_id, count(*) FROM events WHERE 1 = 1");
        let mut args = Vec::new();
        // Every match is counted: reading them in any order is the cheapest.
        let search = match q.search.as_deref() {
            Some(text) => {
                search_cost::check(text).map_err(StoreError::TooCostly)?;
                Some(Search {
                    plan: SearchPlan::SortMatches,
                    fts: fts_query(text, q.search_match)?,
                })
            }
            None => None,
        };
        push_filter(q, search.as_ref(), &mut sql, &mut args);
        sql.push_str(" GROUP BY bucket, source_id ORDER BY bucket, source_id");
        let query_error = |e| self.query_error(e, q.search.as_deref());
        let mut stmt = self.conn.prepare(&sql).map_err(query_error)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok(TimelineCount {
                    start: from_millis(r.get(0)?),
                    source_id: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })
            .map_err(query_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
    }

    /// How `q`'s full-text condition, if any, is best written; a search over the bounds of
    /// `search_cost` is refused here, before it runs.
    fn plan_for(&self, q: &EventQuery) -> Result<Option<Search>, StoreError> {
        let Some(search) = q.search.as_deref() else {
            return Ok(None);
        };
        search_cost::check(search).map_err(StoreError::TooCostly)?;
        let fts = fts_query(search, q.search_match)?;
        let plan = match q.search_match {
            // Ranked: every match is read, whatever the plan says.
            SearchMatch::Any => SearchPlan::SortMatches,
            _ => self.search_plan(&fts),
        };
        Ok(Some(Search { plan, fts }))
    }

    /// The best `limit` events of `q` (its search matched by `fts`, any word of it), best
    /// match first (bm25, FTS5's `rank`; ties newest first): the matches joined to their
    /// events.
    fn select_ranked(
        &self,
        q: &EventQuery,
        fts: &str,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let mut sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             JOIN (SELECT rowid AS hit, rank FROM events_fts WHERE events_fts MATCH ?) AS m \
             ON events.seq = m.hit WHERE 1 = 1"
        );
        let mut args = vec![SqlValue::Text(fts.to_string())];
        push_filter(q, None, &mut sql, &mut args);
        sql.push_str(" ORDER BY m.rank, occurred_at DESC, seq DESC LIMIT ?");
        args.push(SqlValue::Integer(sql_limit(limit)));
        self.select_rows(&sql, args, q.search.as_deref())
    }

    /// Runs a `SELECT {EVENT_COLUMNS}` statement: each row's `seq` and event.
    pub(super) fn select_rows(
        &self,
        sql: &str,
        args: Vec<SqlValue>,
        search: Option<&str>,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let query_error = |e| self.query_error(e, search);
        let mut stmt = self.conn.prepare(sql).map_err(query_error)?;
        let mut codec = self.codec.lock().unwrap_or_else(|p| p.into_inner());
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                let (context, metadata) = codec
                    .unpack(&self.conn, r.get_ref(11)?, r.get_ref(12)?)
                    .map_err(|e| unreadable(r, e))?;
                let event = Event {
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
                    context: json_object(&context),
                    metadata: json_object(&metadata),
                };
                Ok((r.get(13)?, event))
            })
            .map_err(query_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
    }

    /// A malformed full-text query surfaces as a generic SQLITE_ERROR: named as the search's
    /// fault (a bad request), not the store's.
    fn query_error(&self, e: rusqlite::Error, search: Option<&str>) -> StoreError {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::OperationInterrupted {
                // Stopped by its budget: the caller says why (see `SqliteStore::within`).
                return backend(&self.path, e);
            }
        }
        let generic = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::Unknown
        );
        // FTS5's refusals of the query text: advice in our words, not the database's.
        let fts5 = match &e {
            rusqlite::Error::SqliteFailure(_, Some(m)) if m.starts_with("fts5:") => Some(m.clone()),
            _ => None,
        };
        match (search, fts5) {
            (Some(search), Some(message)) if generic => {
                StoreError::SearchSyntax(syntax_error(search, &message))
            }
            (Some(search), None) if generic => StoreError::Query(format!("search {search:?}: {e}")),
            _ => backend(&self.path, e),
        }
    }

    /// [`Store::sources_status`](athena_core::Store::sources_status).
    pub(crate) fn select_sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let be = |e| backend(&self.path, e);
        // A reader does not migrate: a store from before schema 3 has no error kinds.
        let version = self.schema_version()?;
        let error_kind = if version >= 3 { "r.error_kind" } else { "NULL" };
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
                    worker: None,
                    priority: None,
                    kinds: Vec::new(),
                })
            })
            .map_err(be)?;
        let mut status = rows.collect::<Result<Vec<_>, _>>().map_err(be)?;
        self.add_kinds(&mut status, version)?;
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

    /// Each source's kinds (see [`Self::select_kinds`]), into `status` (ordered by source id).
    fn add_kinds(&self, status: &mut [SourceStatus], version: i64) -> Result<(), StoreError> {
        for known in self.kinds_of_version(version)? {
            if let Ok(at) = status.binary_search_by(|s| s.source_id.cmp(&known.source_id)) {
                status[at].kinds = known.kinds;
            }
        }
        Ok(())
    }

    /// [`Store::kinds`](athena_core::Store::kinds): every source the store knows, with the
    /// kinds of its events.
    pub(crate) fn select_kinds(&self) -> Result<Vec<SourceKinds>, StoreError> {
        self.kinds_of_version(self.schema_version()?)
    }

    /// From the counts the commits kept (schema 4); a store from before them is counted
    /// event by event, as a reader does not migrate.
    fn kinds_of_version(&self, version: i64) -> Result<Vec<SourceKinds>, StoreError> {
        let be = |e| backend(&self.path, e);
        let counts = if version >= 4 {
            "SELECT source_id, kind, events FROM event_kinds"
        } else {
            "SELECT source_id, kind, count(*) AS events FROM events GROUP BY source_id, kind"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "WITH k AS ({counts}),
                 ids AS (
                    SELECT source_id FROM cursors UNION SELECT source_id FROM source_runs
                    UNION SELECT source_id FROM k
                 )
                 SELECT ids.source_id, k.kind, k.events
                 FROM ids LEFT JOIN k ON k.source_id = ids.source_id
                 ORDER BY ids.source_id"
            ))
            .map_err(be)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(be)?;
        let rows = rows.collect::<Result<Vec<_>, _>>().map_err(be)?;
        Ok(group_kinds(rows))
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

/// A stored event whose context and metadata cannot be read back, as the row's error.
fn unreadable(r: &rusqlite::Row<'_>, e: super::packed::Unreadable) -> rusqlite::Error {
    let seq: i64 = r.get(13).unwrap_or_default();
    rusqlite::Error::ToSqlConversionFailure(
        format!(
            "the event at position {seq} has unreadable context and metadata: {}",
            e.0
        )
        .into(),
    )
}
