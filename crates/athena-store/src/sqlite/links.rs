//! Links between events in SQLite (`event_links`, schema 6): written with each stored event,
//! derived again for every event (the migration, `relink`), and read as an event's related
//! events.

use athena_core::links::{self, Link, Linker, Role, Thing};
use athena_core::{Event, StoreError};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};

use super::query::EVENT_COLUMNS;
use super::{backend, SqliteStore};
use crate::related::LinkReads;
use crate::sql_text::{from_millis, json_object, sql_limit};

/// Stores event `seq`'s things.
pub(super) fn insert(
    conn: &Connection,
    seq: i64,
    things: &links::EventLinks,
) -> rusqlite::Result<()> {
    // Most events name no thing: no statement to look up for them.
    if things.things.is_empty() {
        return Ok(());
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO event_links (thing, seq, role) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for (thing, role) in &things.things {
        put.execute(params![thing, seq, role.code()])?;
    }
    Ok(())
}

/// Forgets every link and every person, and finds every stored event's things and people
/// again (the configured people pinned as before); returns how many events were read.
pub(super) fn relink(conn: &Connection, linker: &Linker) -> rusqlite::Result<u64> {
    conn.execute_batch(
        "DELETE FROM event_links; DELETE FROM event_people; DELETE FROM people_joins;
         DELETE FROM people_handles;",
    )?;
    let mut read = conn.prepare(
        "SELECT seq, id, source_type, kind, title, body, url, context, metadata, actor \
         FROM events ORDER BY seq",
    )?;
    let mut rows = read.query([])?;
    let mut codec = super::packed::Codec::default();
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let mut event = Event::new(
            r.get::<_, String>(1)?,
            r.get::<_, String>(3)?,
            from_millis(0),
            r.get::<_, String>(4)?,
        );
        event.source_type = r.get(2)?;
        event.body = r.get(5)?;
        event.url = r.get(6)?;
        let (context, metadata) = codec
            .unpack(conn, r.get_ref(7)?, r.get_ref(8)?)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.0.into()))?;
        event.context = json_object(&context);
        event.metadata = json_object(&metadata);
        // Some types name people by the actor (a GitHub login).
        event.actor = r.get(9)?;
        let seq = r.get(0)?;
        insert(conn, seq, &links::links_of(&event, &linker.scanner))?;
        let claims = linker.people(&event.source_type, &event);
        super::people::insert(conn, seq, &claims)?;
        n += 1;
    }
    let configured = super::people::configured_people(conn)?;
    super::people::set_people(conn, &configured).map_err(|e| {
        rusqlite::Error::ToSqlConversionFailure(format!("the configured people: {e}").into())
    })?;
    Ok(n)
}

/// The mark an upgrade leaves when the events it linked still have their people to read.
pub(super) const PEOPLE_UNREAD: &str = "CREATE TABLE IF NOT EXISTS people_unread (n INTEGER)";

impl SqliteStore {
    /// [`Store::read_unread_people`](athena_core::Store::read_unread_people): a `relink`
    /// with `linker` in the transaction that takes the mark away, if it is there.
    pub(super) fn read_unread_people(&mut self, linker: &Linker) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let be = |e| backend(&path, e);
        let tx = (self.conn)
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(be)?;
        let marked: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'people_unread'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )
            .map_err(be)?;
        if !marked {
            return Ok(0);
        }
        let n = relink(&tx, linker).map_err(be)?;
        tx.execute_batch("DROP TABLE people_unread").map_err(be)?;
        tx.commit().map_err(be)?;
        Ok(n)
    }
}

impl LinkReads for SqliteStore {
    fn event(&self, source_id: &str, id: &str) -> Result<Option<(i64, Event)>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE source_id = ?1 AND id = ?2");
        let args = vec![SqlValue::Text(source_id.into()), SqlValue::Text(id.into())];
        Ok(self.select_rows(&sql, args, None)?.pop())
    }

    fn things(&self, seq: i64) -> Result<Vec<Link>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT thing, role FROM event_links WHERE seq = ?1 ORDER BY thing")
            .map_err(be)?;
        let rows = stmt
            .query_map([seq], |r| {
                Ok(Link {
                    thing: r.get(0)?,
                    role: Role::of_code(r.get(1)?),
                })
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn with_thing(
        &self,
        thing: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Role)>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, role FROM event_links WHERE thing = ?1 AND seq <> ?2 \
                 ORDER BY seq DESC LIMIT ?3",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map(params![thing, seq, sql_limit(limit)], |r| {
                Ok((r.get(0)?, Role::of_code(r.get(1)?)))
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn with_longer(
        &self,
        thing: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Role, Thing)>, StoreError> {
        let be = |e| backend(&self.path, e);
        // Hex digits sort below `g`: every longer key that begins with `thing` is in range.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, role, thing FROM event_links WHERE thing > ?1 AND thing < ?1 || 'g' \
                 AND seq <> ?2 ORDER BY seq DESC LIMIT ?3",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map(params![thing, seq, sql_limit(limit)], |r| {
                Ok((r.get(0)?, Role::of_code(r.get(1)?), r.get(2)?))
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn events(&self, seqs: &[i64]) -> Result<Vec<(i64, Event)>, StoreError> {
        let marks = vec!["?"; seqs.len()].join(", ");
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq IN ({marks})");
        let args = seqs.iter().map(|s| SqlValue::Integer(*s)).collect();
        self.select_rows(&sql, args, None)
    }

    fn things_of(&self, source_id: &str, id: &str) -> Result<Vec<Link>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.thing, l.role FROM events e JOIN event_links l ON l.seq = e.seq \
                 WHERE e.source_id = ?1 AND e.id = ?2 ORDER BY l.thing",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map([source_id, id], |r| {
                Ok(Link {
                    thing: r.get(0)?,
                    role: Role::of_code(r.get(1)?),
                })
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn items_about(&self, things: &[Thing]) -> Result<Vec<Link>, StoreError> {
        if things.is_empty() {
            return Ok(Vec::new());
        }
        let be = |e| backend(&self.path, e);
        let mut args: Vec<SqlValue> = things.iter().map(|t| SqlValue::Text(t.clone())).collect();
        let mut which = vec![format!(
            "a.thing IN ({})",
            vec!["?"; things.len()].join(", ")
        )];
        // Hex digits sort below `g`: a short SHA's longer ones are a range.
        for short in things.iter().filter_map(|t| crate::related::short_sha(t)) {
            args.push(SqlValue::Text(short.to_string()));
            let n = args.len();
            which.push(format!("(a.thing > ?{n} AND a.thing < ?{n} || 'g')"));
        }
        let sql = format!(
            "SELECT DISTINCT w.thing, w.role FROM event_links a \
             JOIN event_links w ON w.seq = a.seq \
             WHERE a.role = 0 AND ({}) \
             AND ((w.thing >= 'gh:' AND w.thing < 'gh;') OR (w.thing >= 'key:' AND w.thing < 'key;')) \
             ORDER BY w.thing LIMIT {}",
            which.join(" OR "),
            crate::related::ITEMS_THROUGH
        );
        let mut stmt = self.conn.prepare(&sql).map_err(be)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(Link {
                    thing: r.get(0)?,
                    role: Role::of_code(r.get(1)?),
                })
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }
}

impl SqliteStore {
    /// [`Store::relink`](athena_core::Store::relink).
    pub(super) fn relink_all(&mut self, linker: &Linker) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| backend(&path, e))?;
        let n = relink(&tx, linker).map_err(|e| backend(&path, e))?;
        tx.commit().map_err(|e| backend(&path, e))?;
        Ok(n)
    }
}
