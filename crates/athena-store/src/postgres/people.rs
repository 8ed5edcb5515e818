//! People in PostgreSQL (migration 5), as SQLite keeps them (`sqlite::people`): a batch's
//! handles, event rows and joins written with one statement each, a new join merging two
//! people by `athena_core::people::merged`, the configured people pinned by `set_people`
//! with the core's resolver.

use std::collections::BTreeMap;

use athena_core::people::{self, Claim, Handle, Join, Person, PersonConfig, Resolver};
use athena_core::StoreError;
use tokio_postgres::GenericClient;

use super::{wait, PgStore};

/// A batch's people, column by column.
#[derive(Default)]
pub(super) struct PeopleRows {
    /// Each handle once, with a name shown with it.
    handles: BTreeMap<String, Option<String>>,
    events: (Vec<String>, Vec<i64>, Vec<i16>),
    /// Each join once: (a, b) with a < b, and how.
    joins: BTreeMap<(String, String), Join>,
}

impl PeopleRows {
    /// Event `seq`'s people.
    pub(super) fn add(&mut self, seq: i64, claims: &[Claim]) {
        for claim in claims {
            let name = self.handles.entry(claim.handle.0.clone()).or_default();
            if name.is_none() {
                name.clone_from(&claim.name);
            }
            self.events.0.push(claim.handle.0.clone());
            self.events.1.push(seq);
            self.events.2.push(claim.role.code() as i16);
            for (other, join) in &claim.joins {
                self.handles.entry(other.0.clone()).or_default();
                let (a, b) = if claim.handle < *other {
                    (&claim.handle, other)
                } else {
                    (other, &claim.handle)
                };
                self.joins
                    .entry((a.0.clone(), b.0.clone()))
                    .or_insert(*join);
            }
        }
    }

    /// Writes them: the handles, the event rows, the joins, and the merges new joins bring.
    pub(super) async fn write(
        &self,
        client: &impl GenericClient,
    ) -> Result<(), tokio_postgres::Error> {
        if self.handles.is_empty() {
            return Ok(());
        }
        let (names, shown): (Vec<&str>, Vec<Option<&str>>) = self
            .handles
            .iter()
            .map(|(h, n)| (h.as_str(), n.as_deref()))
            .unzip();
        add_handles(client, &names, &shown).await?;
        client
            .execute(
                "INSERT INTO event_people (handle, seq, role)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[])
                 ON CONFLICT DO NOTHING",
                &[&self.events.0, &self.events.1, &self.events.2],
            )
            .await?;
        if self.joins.is_empty() {
            return Ok(());
        }
        let (mut a, mut b, mut how, mut user) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((x, y), join) in &self.joins {
            a.push(x.as_str());
            b.push(y.as_str());
            how.push(join.how);
            user.push(join.user_controlled);
        }
        let new = client
            .query(
                "INSERT INTO people_joins (a, b, how, user_controlled)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])
                 ON CONFLICT DO NOTHING RETURNING a, b",
                &[&a, &b, &how, &user],
            )
            .await?;
        for row in new {
            merge(client, row.get(0), row.get(1)).await?;
        }
        Ok(())
    }
}

/// Notes `handles` (each a person of its own, or its configured person's) with `names`.
async fn add_handles(
    client: &impl GenericClient,
    handles: &[&str],
    names: &[Option<&str>],
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO people_handles (handle, person, name)
             SELECT h, coalesce((SELECT 'person:' || c.name FROM people_config c WHERE c.handle = h), h), n
             FROM unnest($1::text[], $2::text[]) AS x(h, n)
             ON CONFLICT (handle) DO UPDATE SET name = coalesce(people_handles.name, excluded.name)",
            &[&handles, &names],
        )
        .await?;
    Ok(())
}

/// Makes the people of handles `a` and `b` one, unless they are two configured people.
async fn merge(client: &impl GenericClient, a: &str, b: &str) -> Result<(), tokio_postgres::Error> {
    let person = |h: &str| {
        let h = h.to_string();
        async move {
            client
                .query_one("SELECT person FROM people_handles WHERE handle = $1", &[&h])
                .await
                .map(|r| r.get::<_, String>(0))
        }
    };
    let (pa, pb) = (person(a).await?, person(b).await?);
    if let Some((keep, drop)) = people::merged(&pa, &pb) {
        client
            .execute(
                "UPDATE people_handles SET person = $1 WHERE person = $2",
                &[&keep, &drop],
            )
            .await?;
    }
    Ok(())
}

/// The configured people the store holds.
pub(super) async fn configured_people(
    client: &impl GenericClient,
) -> Result<Vec<PersonConfig>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT name, handle FROM people_config ORDER BY name, handle",
            &[],
        )
        .await?;
    Ok(people::configured_from_rows(
        rows.iter().map(|r| (r.get(0), r.get(1))),
    ))
}

/// Why `set_people` failed: the config, or the server.
pub(super) enum PeopleError {
    Config(String),
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for PeopleError {
    fn from(e: tokio_postgres::Error) -> Self {
        PeopleError::Db(e)
    }
}

/// Pins the configured people and works out every person again.
pub(super) async fn set_people(
    client: &impl GenericClient,
    configured: &[PersonConfig],
) -> Result<(), PeopleError> {
    let mut resolver = Resolver::new(configured).map_err(PeopleError::Config)?;
    // Workers starting together: one at a time (the lock ends with the transaction).
    client
        .batch_execute("SELECT pg_advisory_xact_lock(7405124)")
        .await?;
    client.execute("DELETE FROM people_config", &[]).await?;
    for person in configured {
        let handles = person.all_handles().map_err(PeopleError::Config)?;
        let names: Vec<&str> = handles.iter().map(|h| h.0.as_str()).collect();
        client
            .execute(
                "INSERT INTO people_config (handle, name) SELECT h, $2 FROM unnest($1::text[]) AS x(h)
                 ON CONFLICT DO NOTHING",
                &[&names, &person.name],
            )
            .await?;
        add_handles(client, &names, &vec![None; names.len()]).await?;
    }
    for r in client
        .query("SELECT handle, name FROM people_handles", &[])
        .await?
    {
        resolver.add(&Handle(r.get(0)), r.get::<_, Option<&str>>(1));
    }
    for r in client.query("SELECT a, b FROM people_joins", &[]).await? {
        resolver.join(&Handle(r.get(0)), &Handle(r.get(1)), Join::STORED);
    }
    for person in resolver.people() {
        let handles: Vec<&str> = person.handles.iter().map(|h| h.0.as_str()).collect();
        client
            .execute(
                "UPDATE people_handles SET person = $1 WHERE handle = ANY($2) AND person <> $1",
                &[&person.id, &handles],
            )
            .await?;
    }
    Ok(())
}

impl PgStore {
    /// [`Store::set_people`](athena_core::Store::set_people), in one transaction.
    pub(super) fn configure_people(
        &mut self,
        configured: &[PersonConfig],
    ) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        let result = wait(async {
            let tx = self.client.transaction().await?;
            if let Err(e) = set_people(&tx, configured).await {
                return Ok(Err(e));
            }
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(Ok(()))
        });
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(PeopleError::Config(e))) => Err(StoreError::Query(format!("[[people]]: {e}"))),
            Ok(Err(PeopleError::Db(e))) | Err(e) => Err(self.backend(e)),
        }
    }

    /// [`Store::people`](athena_core::Store::people).
    pub(super) fn select_people(&self) -> Result<Vec<Person>, StoreError> {
        people(&self.client, &self.shown)
    }
}

/// Every person, on `client`.
pub(super) fn people(
    client: &tokio_postgres::Client,
    shown: &str,
) -> Result<Vec<Person>, StoreError> {
    let rows = wait(client.query(
        "SELECT h.person, h.handle, h.name, c.name FROM people_handles h
         LEFT JOIN people_config c ON c.handle = h.handle
         ORDER BY h.person COLLATE \"C\", h.handle COLLATE \"C\"",
        &[],
    ))
    .map_err(|e| StoreError::Backend(format!("store {shown}: {}", super::explain(&e)).into()))?;
    Ok(people::people_from_rows(
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))),
    ))
}
