//! The reads, as SQLite's (`sqlite/query.rs`): events by filter and full-text search, pages by
//! keyset on `(occurred_at, seq)`, one event, counts per bucket, the sources' status, kinds,
//! dead letters, cursors and state. Each takes the connection it runs on.

use athena_core::known::SourceKinds;
use athena_core::recall::{Bucket, Order, Page, PageCursor, PageQuery, TimelineCount};
use athena_core::search::SearchMatch;
use athena_core::{
    Cursor, DeadLetter, Event, EventQuery, Outcome, RunStatus, SourceState, SourceStatus,
    StoreError, StoredDeadLetter,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use super::tsquery::tsquery;
use super::wait;
use crate::search_cost;
use crate::sql_text::{from_millis, group_kinds, json_object, like_literal, sql_limit};

type Arg = Box<dyn ToSql + Sync + Send>;

fn backend(shown: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("store {shown}: {}", super::explain(&e)).into())
}

pub(super) const EVENT_COLUMNS: &str =
    "id, source_id, source_type, kind, occurred_at, ingested_at, actor, \
     title, body, url, outcome, context, metadata, seq";

pub(super) fn event_of(r: &Row) -> (i64, Event) {
    let event = Event {
        id: r.get(0),
        source_id: r.get(1),
        source_type: r.get(2),
        kind: r.get(3),
        occurred_at: from_millis(r.get(4)),
        ingested_at: Some(from_millis(r.get(5))),
        actor: r.get(6),
        title: r.get(7),
        body: r.get(8),
        url: r.get(9),
        outcome: r
            .get::<_, Option<String>>(10)
            .and_then(|o| Outcome::parse(&o)),
        context: json_object(r.get(11)),
        metadata: json_object(r.get(12)),
    };
    (r.get(13), event)
}

/// A statement being built: its text, and its arguments (`$1`, `$2`, … in order).
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument; returns its placeholder.
    fn arg(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.args.push(Box::new(value));
        format!("${}", self.args.len())
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn run(&self, client: &Client, shown: &str) -> Result<Vec<Row>, StoreError> {
        let args: Vec<&(dyn ToSql + Sync)> = self
            .args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        wait(client.query(&self.text, &args)).map_err(|e| backend(shown, e))
    }
}

/// The full-text condition of `q`, if it has a search: `Err` when the search is refused,
/// `Ok(Some(None))` when it can match nothing.
fn search_of(q: &EventQuery) -> Result<Option<Option<String>>, StoreError> {
    let Some(search) = q.search.as_deref() else {
        return Ok(None);
    };
    search_cost::check(search).map_err(StoreError::TooCostly)?;
    Ok(Some(tsquery(search, q.search_match)?))
}

/// `q`'s conditions (not its limit) after a `WHERE true`; the search's `tsquery` is `search`.
fn push_filter(q: &EventQuery, search: Option<&str>, sql: &mut Sql) {
    fn any_of(sql: &mut Sql, column: &str, values: &[String]) {
        if !values.is_empty() {
            let mark = sql.arg(values.to_vec());
            sql.push(&format!(" AND {column} = ANY({mark}::text[])"));
        }
    }
    any_of(sql, "source_id", &q.sources);
    any_of(sql, "kind", &q.kinds);
    let outcomes: Vec<String> = q.outcomes.iter().map(|o| o.as_str().to_string()).collect();
    any_of(sql, "outcome", &outcomes);
    if let Some(actor) = &q.actor {
        let mark = sql.arg(like_literal(actor));
        sql.push(&format!(
            " AND actor ILIKE '%' || {mark}::text || '%' ESCAPE '\\'"
        ));
    }
    if let Some(who) = &q.person {
        // The person `who` names, by one of their handles, their id, or a configured name.
        let handle = athena_core::people::Handle::parse(who).map_or_else(|| who.clone(), |h| h.0);
        let (h, p) = (sql.arg(handle), sql.arg(who.clone()));
        sql.push(&format!(
            " AND seq IN (SELECT ep.seq FROM event_people ep \
             JOIN people_handles ph ON ph.handle = ep.handle WHERE ph.person IN \
             (SELECT person FROM people_handles WHERE handle = {h}::text OR person = {p}::text \
             OR person = 'person:' || {p}::text))"
        ));
    }
    if let Some(t) = q.since {
        let mark = sql.arg(t.timestamp_millis());
        sql.push(&format!(" AND occurred_at >= {mark}::bigint"));
    }
    if let Some(t) = q.until {
        let mark = sql.arg(t.timestamp_millis());
        sql.push(&format!(" AND occurred_at < {mark}::bigint"));
    }
    if let Some(search) = search {
        let mark = sql.arg(search.to_string());
        sql.push(&format!(" AND tsv @@ {mark}::text::tsquery"));
    }
}

/// The best `limit` events of `q` by relevance (any of its search's words; every word counts
/// the same whether in the title or the body), ties newest first.
fn ranked(
    client: &Client,
    shown: &str,
    q: &EventQuery,
    tsquery: &str,
    limit: usize,
) -> Result<Vec<(i64, Event)>, StoreError> {
    let mut sql = Sql::new("");
    let query = sql.arg(tsquery.to_string());
    sql.push(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE true"));
    push_filter(q, None, &mut sql);
    sql.push(&format!(
        " AND tsv @@ {query}::text::tsquery \
         ORDER BY ts_rank('{{1,1,1,1}}', tsv, {query}::text::tsquery) DESC, occurred_at DESC, seq DESC"
    ));
    let mark = sql.arg(sql_limit(limit));
    sql.push(&format!(" LIMIT {mark}::bigint"));
    Ok(sql.run(client, shown)?.iter().map(event_of).collect())
}

/// [`Store::query_events`](athena_core::Store::query_events).
pub(super) fn events(
    client: &Client,
    shown: &str,
    q: &EventQuery,
) -> Result<Vec<Event>, StoreError> {
    let search = search_of(q)?;
    let limit = q.limit.unwrap_or(usize::MAX);
    match (&search, q.search_match) {
        (Some(None), _) => return Ok(Vec::new()),
        (Some(Some(ts)), SearchMatch::Any) => {
            return Ok(ranked(client, shown, q, ts, limit)?
                .into_iter()
                .map(|(_, e)| e)
                .collect())
        }
        _ => {}
    }
    let mut sql = Sql::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE true"));
    push_filter(q, search.flatten().as_deref(), &mut sql);
    sql.push(" ORDER BY occurred_at DESC, seq DESC");
    if q.limit.is_some() {
        let mark = sql.arg(sql_limit(limit));
        sql.push(&format!(" LIMIT {mark}::bigint"));
    }
    Ok(sql
        .run(client, shown)?
        .iter()
        .map(|r| event_of(r).1)
        .collect())
}

/// [`Recall::page`](athena_core::recall::Recall::page).
pub(super) fn page(client: &Client, shown: &str, q: &PageQuery) -> Result<Page, StoreError> {
    let search = search_of(&q.filter)?;
    match (&search, q.filter.search_match) {
        (Some(None), _) => return Ok(Page::default()),
        (Some(Some(ts)), SearchMatch::Any) => {
            let rows = ranked(client, shown, &q.filter, ts, q.limit)?;
            return Ok(Page {
                events: rows.into_iter().map(|(_, e)| e).collect(),
                next: None,
            });
        }
        _ => {}
    }
    let mut sql = Sql::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE true"));
    push_filter(&q.filter, search.flatten().as_deref(), &mut sql);
    let (cmp, dir) = match q.order {
        Order::Desc => ("<", "DESC"),
        Order::Asc => (">", "ASC"),
    };
    if let Some(after) = q.after {
        let t = sql.arg(after.occurred_at_ms);
        let s = sql.arg(after.seq);
        sql.push(&format!(
            " AND (occurred_at, seq) {cmp} ({t}::bigint, {s}::bigint)"
        ));
    }
    sql.push(&format!(" ORDER BY occurred_at {dir}, seq {dir}"));
    let mark = sql.arg(sql_limit(q.limit.saturating_add(1)));
    sql.push(&format!(" LIMIT {mark}::bigint"));
    let mut rows: Vec<(i64, Event)> = sql.run(client, shown)?.iter().map(event_of).collect();
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|(seq, e)| PageCursor {
            order: q.order,
            occurred_at_ms: e.occurred_at.timestamp_millis(),
            seq: *seq,
        });
    Ok(Page {
        events: rows.into_iter().map(|(_, e)| e).collect(),
        next,
    })
}

/// [`Recall::event`](athena_core::recall::Recall::event).
pub(super) fn event(
    client: &Client,
    shown: &str,
    source_id: &str,
    id: &str,
) -> Result<Option<Event>, StoreError> {
    let mut sql = Sql::new("");
    let s = sql.arg(source_id.to_string());
    let i = sql.arg(id.to_string());
    sql.push(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE source_id = {s}::text AND id = {i}::text"
    ));
    Ok(sql.run(client, shown)?.first().map(|r| event_of(r).1))
}

/// [`Recall::timeline`](athena_core::recall::Recall::timeline): grouped in SQL, each time
/// floored to its bucket's start (also before 1970).
pub(super) fn timeline(
    client: &Client,
    shown: &str,
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
        None => "(extract(epoch FROM date_trunc('month', \
                 to_timestamp(occurred_at / 1000.0) AT TIME ZONE 'UTC')) * 1000)::bigint"
            .to_string(),
    };
    let search = match q.search.as_deref() {
        Some(text) => {
            search_cost::check(text).map_err(StoreError::TooCostly)?;
            match tsquery(text, q.search_match)? {
                Some(ts) => Some(ts),
                None => return Ok(Vec::new()),
            }
        }
        None => None,
    };
    let mut sql = Sql::new(format!(
        "SELECT {start} AS bucket, source_id, count(*) FROM events WHERE true"
    ));
    push_filter(q, search.as_deref(), &mut sql);
    sql.push(" GROUP BY bucket, source_id ORDER BY bucket, source_id");
    Ok(sql
        .run(client, shown)?
        .iter()
        .map(|r| TimelineCount {
            start: from_millis(r.get(0)),
            source_id: r.get(1),
            count: r.get::<_, i64>(2) as u64,
        })
        .collect())
}

/// [`Store::load_cursor`](athena_core::Store::load_cursor).
pub(super) fn cursor(
    client: &Client,
    shown: &str,
    source_id: &str,
) -> Result<Option<Cursor>, StoreError> {
    let row = wait(client.query_opt(
        "SELECT cursor FROM cursors WHERE source_id = $1",
        &[&source_id],
    ))
    .map_err(|e| backend(shown, e))?;
    row.map(|r| {
        let text: String = r.get(0);
        serde_json::from_str(&text)
            .map(Cursor::from_json)
            .map_err(|e| StoreError::Schema {
                path: shown.into(),
                message: format!("cursor of source {source_id} is not JSON: {e}"),
            })
    })
    .transpose()
}

/// [`Store::load_state`](athena_core::Store::load_state).
pub(super) fn state(
    client: &Client,
    shown: &str,
    source_id: &str,
) -> Result<SourceState, StoreError> {
    let rows = wait(client.query(
        "SELECT key, value FROM source_state WHERE source_id = $1",
        &[&source_id],
    ))
    .map_err(|e| backend(shown, e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
        .collect())
}

/// [`Store::sources_status`](athena_core::Store::sources_status). A run recorded as
/// `running` stays so: several workers may be syncing, and none holds the store alone. The
/// worker holding a source's lease (one not run out) is named.
pub(super) fn sources_status(
    client: &Client,
    shown: &str,
) -> Result<Vec<SourceStatus>, StoreError> {
    let rows = wait(client.query(
        "WITH ids AS (
            SELECT source_id FROM cursors UNION SELECT source_id FROM source_runs
            UNION SELECT source_id FROM event_kinds
         )
         SELECT ids.source_id,
                coalesce(r.source_type, c.source_type),
                c.cursor,
                (SELECT count(*) FROM events e WHERE e.source_id = ids.source_id),
                (SELECT count(*) FROM dead_letters d WHERE d.source_id = ids.source_id),
                r.finished_at, r.status, r.error, r.error_kind,
                CASE WHEN l.expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                     THEN l.owner END
         FROM ids
         LEFT JOIN cursors c ON c.source_id = ids.source_id
         LEFT JOIN source_runs r ON r.source_id = ids.source_id
         LEFT JOIN leases l ON l.source_id = ids.source_id
         ORDER BY ids.source_id COLLATE \"C\"",
        &[],
    ))
    .map_err(|e| backend(shown, e))?;
    let mut status: Vec<SourceStatus> = rows
        .iter()
        .map(|r| SourceStatus {
            source_id: r.get(0),
            source_type: r.get(1),
            cursor: r
                .get::<_, Option<String>>(2)
                .and_then(|t| serde_json::from_str(&t).ok())
                .map(Cursor::from_json),
            events: r.get::<_, i64>(3) as u64,
            dead_letters: r.get::<_, i64>(4) as u64,
            last_sync: r.get::<_, Option<i64>>(5).map(from_millis),
            last_status: r
                .get::<_, Option<String>>(6)
                .and_then(|t| RunStatus::parse(&t)),
            last_error: r.get(7),
            last_error_kind: r.get(8),
            worker: r.get(9),
            priority: None,
            kinds: Vec::new(),
        })
        .collect();
    for known in kinds(client, shown)? {
        if let Ok(at) = status.binary_search_by(|s| s.source_id.cmp(&known.source_id)) {
            status[at].kinds = known.kinds;
        }
    }
    Ok(status)
}

/// [`Store::kinds`](athena_core::Store::kinds).
pub(super) fn kinds(client: &Client, shown: &str) -> Result<Vec<SourceKinds>, StoreError> {
    let rows = wait(client.query(
        "WITH ids AS (
            SELECT source_id FROM cursors UNION SELECT source_id FROM source_runs
            UNION SELECT source_id FROM event_kinds
         )
         SELECT ids.source_id, k.kind, k.events
         FROM ids LEFT JOIN event_kinds k ON k.source_id = ids.source_id
         ORDER BY ids.source_id COLLATE \"C\"",
        &[],
    ))
    .map_err(|e| backend(shown, e))?;
    Ok(group_kinds(
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))),
    ))
}

/// [`Store::dead_letters`](athena_core::Store::dead_letters).
pub(super) fn dead_letters(
    client: &Client,
    shown: &str,
    source: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredDeadLetter>, StoreError> {
    let limit = sql_limit(limit);
    let rows = wait(client.query(
        "SELECT source_id, origin, reason, raw, created_at FROM dead_letters
         WHERE $1::text IS NULL OR source_id = $1
         ORDER BY seq DESC LIMIT $2",
        &[&source, &limit],
    ))
    .map_err(|e| backend(shown, e))?;
    Ok(rows
        .iter()
        .map(|r| StoredDeadLetter {
            source_id: r.get(0),
            letter: DeadLetter {
                origin: r.get(1),
                reason: r.get(2),
                raw: r.get(3),
            },
            created_at: from_millis(r.get(4)),
        })
        .collect())
}
