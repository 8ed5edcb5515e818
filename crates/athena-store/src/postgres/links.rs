//! Links between events in PostgreSQL (`event_links`, migration 4), as SQLite keeps them
//! (`sqlite::links`): written with each stored event, derived again for every event (the
//! migration, `relink`), and read as an event's related events.

use athena_core::links::{self, Link, Linker, Role, Thing};
use athena_core::{Event, StoreError};
use tokio_postgres::GenericClient;

use super::query::{event_of, EVENT_COLUMNS};
use super::{wait, PgStore};
use crate::related::LinkReads;
use crate::sql_text::{from_millis, json_object, sql_limit};

/// Rows of `event_links` to write, column by column.
#[derive(Default)]
pub(super) struct LinkRows {
    things: Vec<String>,
    seqs: Vec<i64>,
    roles: Vec<i16>,
}

impl LinkRows {
    /// Event `seq`'s things.
    pub(super) fn add(&mut self, seq: i64, of: &links::EventLinks) {
        for (thing, role) in &of.things {
            self.things.push(thing.clone());
            self.seqs.push(seq);
            self.roles.push(role.code() as i16);
        }
    }

    /// Writes them in one statement.
    pub(super) async fn write(
        &self,
        client: &impl GenericClient,
    ) -> Result<(), tokio_postgres::Error> {
        if self.things.is_empty() {
            return Ok(());
        }
        client
            .execute(
                "INSERT INTO event_links (thing, seq, role)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[])
                 ON CONFLICT DO NOTHING",
                &[&self.things, &self.seqs, &self.roles],
            )
            .await?;
        Ok(())
    }
}

/// Forgets every link and every person, and finds every stored event's things and people
/// again, a page of events at a time (the configured people pinned as before); returns how
/// many events were read.
pub(super) async fn relink(
    client: &impl GenericClient,
    linker: &Linker,
) -> Result<u64, tokio_postgres::Error> {
    client
        .batch_execute(
            "DELETE FROM event_links; DELETE FROM event_people; DELETE FROM people_joins;
             DELETE FROM people_handles;",
        )
        .await?;
    let (mut after, mut n) = (0i64, 0u64);
    loop {
        let rows = client
            .query(
                "SELECT seq, id, source_type, kind, title, body, url, context, metadata, actor
                 FROM events WHERE seq > $1 ORDER BY seq LIMIT 5000",
                &[&after],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        let mut out = LinkRows::default();
        let mut people = super::people::PeopleRows::default();
        for r in &rows {
            let mut event = Event::new(
                r.get::<_, String>(1),
                r.get::<_, String>(3),
                from_millis(0),
                r.get::<_, String>(4),
            );
            event.source_type = r.get(2);
            event.body = r.get(5);
            event.url = r.get(6);
            event.context = json_object(r.get(7));
            event.metadata = json_object(r.get(8));
            // Some types name people by the actor (a GitHub login).
            event.actor = r.get(9);
            out.add(r.get(0), &links::links_of(&event, &linker.scanner));
            people.add(r.get(0), &linker.people(&event.source_type, &event));
            n += 1;
        }
        out.write(client).await?;
        people.write(client).await?;
    }
    let configured = super::people::configured_people(client).await?;
    match super::people::set_people(client, &configured).await {
        Ok(()) => Ok(n),
        Err(super::people::PeopleError::Db(e)) => Err(e),
        // The configured people were accepted when set: they still are.
        Err(super::people::PeopleError::Config(_)) => Ok(n),
    }
}

/// Rows of `(thing, role)` as links.
fn links_of_rows(rows: &[tokio_postgres::Row]) -> Vec<Link> {
    rows.iter()
        .map(|r| Link {
            thing: r.get(0),
            role: Role::of_code(i64::from(r.get::<_, i16>(1))),
        })
        .collect()
}

/// The reads of [`LinkReads`] on one connection (the store's, or one of recall's).
pub(super) struct PgReads<'a> {
    pub(super) client: &'a tokio_postgres::Client,
    pub(super) shown: &'a str,
}

impl PgReads<'_> {
    fn backend(&self, e: tokio_postgres::Error) -> StoreError {
        StoreError::Backend(format!("store {}: {}", self.shown, super::explain(&e)).into())
    }
}

impl LinkReads for PgReads<'_> {
    fn event(&self, source_id: &str, id: &str) -> Result<Option<(i64, Event)>, StoreError> {
        let rows = wait(self.client.query(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE source_id = $1 AND id = $2"),
            &[&source_id, &id],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(rows.first().map(event_of))
    }

    fn things(&self, seq: i64) -> Result<Vec<Link>, StoreError> {
        let rows = wait(self.client.query(
            "SELECT thing, role FROM event_links WHERE seq = $1 ORDER BY thing COLLATE \"C\"",
            &[&seq],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(links_of_rows(&rows))
    }

    fn with_thing(
        &self,
        thing: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Role)>, StoreError> {
        let rows = wait(self.client.query(
            "SELECT seq, role FROM event_links WHERE thing = $1 AND seq <> $2
             ORDER BY seq DESC LIMIT $3",
            &[&thing, &seq, &sql_limit(limit)],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), Role::of_code(i64::from(r.get::<_, i16>(1)))))
            .collect())
    }

    fn with_longer(
        &self,
        thing: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Role, Thing)>, StoreError> {
        // Byte order (`C`), as SQLite compares: hex digits sort below `g`.
        let rows = wait(self.client.query(
            "SELECT seq, role, thing FROM event_links
             WHERE thing COLLATE \"C\" > $1 AND thing COLLATE \"C\" < $1 || 'g' AND seq <> $2
             ORDER BY seq DESC LIMIT $3",
            &[&thing, &seq, &sql_limit(limit)],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Role::of_code(i64::from(r.get::<_, i16>(1))),
                    r.get(2),
                )
            })
            .collect())
    }

    fn events(&self, seqs: &[i64]) -> Result<Vec<(i64, Event)>, StoreError> {
        let rows = wait(self.client.query(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq = ANY($1)"),
            &[&seqs],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(rows.iter().map(event_of).collect())
    }

    fn things_of(&self, source_id: &str, id: &str) -> Result<Vec<Link>, StoreError> {
        let rows = wait(self.client.query(
            "SELECT l.thing, l.role FROM events e JOIN event_links l ON l.seq = e.seq
             WHERE e.source_id = $1 AND e.id = $2 ORDER BY l.thing COLLATE \"C\"",
            &[&source_id, &id],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(links_of_rows(&rows))
    }

    fn items_about(&self, things: &[Thing]) -> Result<Vec<Link>, StoreError> {
        if things.is_empty() {
            return Ok(Vec::new());
        }
        let shorts: Vec<&str> = (things.iter())
            .filter_map(|t| crate::related::short_sha(t))
            .collect();
        let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&things];
        let mut which = vec!["a.thing = ANY($1)".to_string()];
        // Byte order (`C`): hex digits sort below `g`, a short SHA's longer ones are a range.
        for short in &shorts {
            args.push(short);
            let n = args.len();
            which.push(format!("(a.thing > ${n} AND a.thing < ${n} || 'g')"));
        }
        let rows = wait(self.client.query(
            &format!(
                "SELECT DISTINCT w.thing, w.role FROM event_links a
                 JOIN event_links w ON w.seq = a.seq
                 WHERE a.role = 0 AND ({})
                   AND ((w.thing >= 'gh:' AND w.thing < 'gh;')
                        OR (w.thing >= 'key:' AND w.thing < 'key;'))
                 ORDER BY w.thing LIMIT {}",
                which.join(" OR "),
                crate::related::ITEMS_THROUGH
            ),
            &args,
        ))
        .map_err(|e| self.backend(e))?;
        Ok(links_of_rows(&rows))
    }
}

/// The mark an upgrade leaves when the events it linked still have their people to read.
pub(super) const PEOPLE_UNREAD: &str = "CREATE TABLE IF NOT EXISTS people_unread (n INTEGER)";

impl PgStore {
    /// [`Store::read_unread_people`](athena_core::Store::read_unread_people): a `relink` with
    /// `linker` in the transaction that takes the mark away, if it is there; workers starting
    /// together take turns (an advisory lock), and the later ones find no mark.
    pub(super) fn read_unread_people_once(&mut self, linker: &Linker) -> Result<u64, StoreError> {
        self.reconnect_if_lost()?;
        let result = wait(async {
            let tx = self.client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock(7405125)", &[])
                .await?;
            let marked: bool = tx
                .query_one("SELECT to_regclass('people_unread') IS NOT NULL", &[])
                .await?
                .get(0);
            if !marked {
                return Ok(0);
            }
            let n = relink(&tx, linker).await?;
            tx.batch_execute("DROP TABLE people_unread").await?;
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(n)
        });
        result.map_err(|e| self.backend(e))
    }

    /// [`Store::relink`](athena_core::Store::relink), in one transaction.
    pub(super) fn relink_all(&mut self, linker: &Linker) -> Result<u64, StoreError> {
        self.reconnect_if_lost()?;
        let result = wait(async {
            let tx = self.client.transaction().await?;
            let n = relink(&tx, linker).await?;
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(n)
        });
        result.map_err(|e| self.backend(e))
    }
}
