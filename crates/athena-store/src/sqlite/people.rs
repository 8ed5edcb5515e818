//! People in SQLite (schema 7): each stored event's handles written with it, handles joined
//! into people as the events give evidence, the configured people pinned (`set_people`), and
//! the people listed. The rules of who joins whom are `athena_core::people`'s; here they are
//! applied a join at a time (`merge`) or to every handle at once (`set_people`, with the
//! core's resolver).

use athena_core::people::{Claim, Handle, Join, Person, PersonConfig, Resolver};
use athena_core::StoreError;
use rusqlite::{params, Connection};

use super::{backend, SqliteStore};

/// Notes `handle` (a person of its own, or its configured person's), with a name shown with it.
fn add_handle(conn: &Connection, handle: &Handle, name: Option<&str>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO people_handles (handle, person, name)
         VALUES (?1, coalesce((SELECT 'person:' || name FROM people_config WHERE handle = ?1), ?1), ?2)
         ON CONFLICT (handle) DO UPDATE SET name = coalesce(people_handles.name, excluded.name)",
    )?
    .execute(params![handle.0, name])?;
    Ok(())
}

/// Stores event `seq`'s people, and the joins they bring.
pub(super) fn insert(conn: &Connection, seq: i64, claims: &[Claim]) -> rusqlite::Result<()> {
    for claim in claims {
        add_handle(conn, &claim.handle, claim.name.as_deref())?;
        conn.prepare_cached(
            "INSERT INTO event_people (handle, seq, role) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![claim.handle.0, seq, claim.role.code()])?;
        for (other, join) in &claim.joins {
            add_handle(conn, other, None)?;
            let (a, b) = if claim.handle < *other {
                (&claim.handle, other)
            } else {
                (other, &claim.handle)
            };
            let new = conn
                .prepare_cached(
                    "INSERT INTO people_joins (a, b, how, user_controlled) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![a.0, b.0, join.how, join.user_controlled])?;
            if new == 1 {
                merge(conn, a, b)?;
            }
        }
    }
    Ok(())
}

/// Makes the people of `a` and `b` one, unless they are two configured people.
fn merge(conn: &Connection, a: &Handle, b: &Handle) -> rusqlite::Result<()> {
    let person = |h: &Handle| -> rusqlite::Result<String> {
        conn.prepare_cached("SELECT person FROM people_handles WHERE handle = ?1")?
            .query_row([&h.0], |r| r.get(0))
    };
    let (pa, pb) = (person(a)?, person(b)?);
    let Some((keep, drop)) = athena_core::people::merged(&pa, &pb) else {
        return Ok(());
    };
    conn.prepare_cached("UPDATE people_handles SET person = ?1 WHERE person = ?2")?
        .execute(params![keep, drop])?;
    Ok(())
}

/// The configured people the store holds (`people_config`).
pub(super) fn configured_people(conn: &Connection) -> rusqlite::Result<Vec<PersonConfig>> {
    let mut stmt = conn.prepare("SELECT name, handle FROM people_config ORDER BY name, handle")?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(athena_core::people::configured_from_rows(rows))
}

/// Pins the configured people and works out every person again.
pub(super) fn set_people(conn: &Connection, people: &[PersonConfig]) -> Result<(), String> {
    let mut resolver = Resolver::new(people)?;
    let fail = |e: rusqlite::Error| e.to_string();
    conn.execute("DELETE FROM people_config", [])
        .map_err(fail)?;
    for person in people {
        for handle in person.all_handles()? {
            conn.execute(
                "INSERT INTO people_config (handle, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![handle.0, person.name],
            )
            .map_err(fail)?;
            add_handle(conn, &handle, None).map_err(fail)?;
        }
    }
    let handles: Vec<(String, Option<String>)> = conn
        .prepare("SELECT handle, name FROM people_handles")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(fail)?;
    for (handle, name) in &handles {
        resolver.add(&Handle(handle.clone()), name.as_deref());
    }
    let joins: Vec<(String, String)> = conn
        .prepare("SELECT a, b FROM people_joins")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(fail)?;
    for (a, b) in joins {
        resolver.join(&Handle(a), &Handle(b), Join::STORED);
    }
    let mut update = conn
        .prepare("UPDATE people_handles SET person = ?1 WHERE handle = ?2 AND person <> ?1")
        .map_err(fail)?;
    for person in resolver.people() {
        for handle in &person.handles {
            update.execute(params![person.id, handle.0]).map_err(fail)?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// [`Store::set_people`](athena_core::Store::set_people).
    pub(super) fn configure_people(&mut self, people: &[PersonConfig]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| backend(&path, e))?;
        set_people(&tx, people).map_err(|e| StoreError::Query(format!("[[people]]: {e}")))?;
        tx.commit().map_err(|e| backend(&path, e))
    }

    /// [`Store::people`](athena_core::Store::people).
    pub(crate) fn select_people(&self) -> Result<Vec<Person>, StoreError> {
        let be = |e| backend(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT h.person, h.handle, h.name, c.name FROM people_handles h
                 LEFT JOIN people_config c ON c.handle = h.handle ORDER BY h.person, h.handle",
            )
            .map_err(be)?;
        let rows: Vec<(String, String, Option<String>, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(be)?
            .collect::<Result<_, _>>()
            .map_err(be)?;
        Ok(athena_core::people::people_from_rows(rows))
    }
}
