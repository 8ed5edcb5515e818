//! Moving a store (`athena-ingest copy`) into or out of PostgreSQL: events in storing order
//! with their `ingested_at`, and the rest, as SQLite's `copy` does.

use athena_core::{
    Cursor, DeadLetter, Event, Outcome, RunRecord, RunStatus, StoreError, StoreRest,
    StoredDeadLetter,
};

use super::query::{event_of, EVENT_COLUMNS};
use super::{wait, PgStore};
use crate::sql_text::{from_millis, sql_limit};

impl PgStore {
    /// [`Store::export_events`](athena_core::Store::export_events).
    pub(super) fn select_export(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let limit = sql_limit(limit);
        let rows = wait(self.client.query(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &limit],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(rows.iter().map(event_of).collect())
    }

    /// [`Store::import_events`](athena_core::Store::import_events).
    pub(super) fn insert_imported(&mut self, events: &[Event]) -> Result<u64, StoreError> {
        self.reconnect_if_lost()?;
        let n = events.len();
        let mut cols: (Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut occurred, mut ingested) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut actors, mut titles, mut bodies, mut urls, mut outcomes) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut contexts, mut metadata) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for e in events {
            cols.0.push(e.id.as_str());
            cols.1.push(e.source_id.as_str());
            cols.2.push(e.source_type.as_str());
            cols.3.push(e.kind.as_str());
            occurred.push(e.occurred_at.timestamp_millis());
            ingested.push(e.ingested_at.map_or(0, |t| t.timestamp_millis()));
            actors.push(e.actor.as_deref());
            titles.push(e.title.as_str());
            bodies.push(e.body.as_str());
            urls.push(e.url.as_deref());
            outcomes.push(e.outcome.map(Outcome::as_str));
            contexts.push(serde_json::to_string(&e.context).unwrap_or_else(|_| "{}".into()));
            metadata.push(serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()));
        }
        let written = wait(async {
            let tx = self.client.transaction().await?;
            let rows = tx
                .query(
                    "INSERT INTO events (id, source_id, source_type, kind, occurred_at, ingested_at,
                        actor, title, body, url, outcome, context, metadata)
                     SELECT i, s, st, k, o, ing, a, t, b, u, oc, c, m
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                                 $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[],
                                 $11::text[], $12::text[], $13::text[])
                          WITH ORDINALITY AS x(i, s, st, k, o, ing, a, t, b, u, oc, c, m, ord)
                     ORDER BY ord
                     ON CONFLICT (source_id, id) DO NOTHING
                     RETURNING source_id, kind",
                    &[
                        &cols.0, &cols.1, &cols.2, &cols.3, &occurred, &ingested, &actors,
                        &titles, &bodies, &urls, &outcomes, &contexts, &metadata,
                    ],
                )
                .await?;
            // Counted here, one statement for the batch: a statement per event made a copy
            // into PostgreSQL run at 5,000 events/s.
            let mut kinds: std::collections::BTreeMap<(String, String), i64> = Default::default();
            for row in &rows {
                *kinds.entry((row.get(0), row.get(1))).or_default() += 1;
            }
            let (mut sources, mut names, mut counts) = (Vec::new(), Vec::new(), Vec::new());
            for ((source, kind), count) in kinds {
                sources.push(source);
                names.push(kind);
                counts.push(count);
            }
            tx.execute(
                "INSERT INTO event_kinds (source_id, kind, events)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                 ON CONFLICT (source_id, kind) DO UPDATE SET events = event_kinds.events + EXCLUDED.events",
                &[&sources, &names, &counts],
            )
            .await?;
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(rows.len() as u64)
        });
        written.map_err(|e| self.backend(e))
    }

    /// [`Store::export_rest`](athena_core::Store::export_rest).
    pub(super) fn select_rest(&self) -> Result<StoreRest, StoreError> {
        let be = |e| self.backend(e);
        let mut rest = StoreRest::default();
        let rows = wait(self.client.query(
            "SELECT source_id, source_type, cursor, updated_at FROM cursors ORDER BY source_id",
            &[],
        ))
        .map_err(be)?;
        for r in &rows {
            let (id, text): (String, String) = (r.get(0), r.get(2));
            let cursor = serde_json::from_str(&text).map_err(|e| StoreError::Schema {
                path: self.shown.clone().into(),
                message: format!("cursor of source {id} is not JSON: {e}"),
            })?;
            rest.cursors.push((
                id,
                r.get(1),
                Cursor::from_json(cursor),
                from_millis(r.get(3)),
            ));
        }
        let rows = wait(self.client.query(
            "SELECT source_id, source_type, finished_at, status, error, error_kind
             FROM source_runs ORDER BY source_id",
            &[],
        ))
        .map_err(be)?;
        rest.runs = (rows.iter())
            .map(|r| RunRecord {
                source_id: r.get(0),
                source_type: r.get(1),
                finished_at: from_millis(r.get(2)),
                status: RunStatus::parse(r.get(3)).unwrap_or(RunStatus::Failed),
                error: r.get(4),
                error_kind: r.get(5),
            })
            .collect();
        let rows = wait(self.client.query(
            "SELECT source_id, origin, reason, raw, created_at FROM dead_letters ORDER BY seq",
            &[],
        ))
        .map_err(be)?;
        rest.dead_letters = (rows.iter())
            .map(|r| StoredDeadLetter {
                source_id: r.get(0),
                letter: DeadLetter {
                    origin: r.get(1),
                    reason: r.get(2),
                    raw: r.get(3),
                },
                created_at: from_millis(r.get(4)),
            })
            .collect();
        let rows = wait(self.client.query(
            "SELECT source_id, key, value FROM source_state ORDER BY source_id, key",
            &[],
        ))
        .map_err(be)?;
        rest.state = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(rest)
    }

    /// [`Store::import_rest`](athena_core::Store::import_rest).
    pub(super) fn insert_rest(&mut self, rest: &StoreRest) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        let done = wait(async {
            let tx = self.client.transaction().await?;
            for (id, kind, cursor, at) in &rest.cursors {
                let text =
                    serde_json::to_string(cursor.as_json()).unwrap_or_else(|_| "null".into());
                tx.execute(
                    "INSERT INTO cursors (source_id, source_type, cursor, updated_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (source_id) DO UPDATE SET source_type = excluded.source_type,
                        cursor = excluded.cursor, updated_at = excluded.updated_at",
                    &[id, kind, &text, &at.timestamp_millis()],
                )
                .await?;
            }
            for run in &rest.runs {
                tx.execute(
                    "INSERT INTO source_runs (source_id, source_type, finished_at, status, error, error_kind)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (source_id) DO UPDATE SET source_type = excluded.source_type,
                        finished_at = excluded.finished_at, status = excluded.status,
                        error = excluded.error, error_kind = excluded.error_kind",
                    &[
                        &run.source_id,
                        &run.source_type,
                        &run.finished_at.timestamp_millis(),
                        &run.status.as_str(),
                        &run.error,
                        &run.error_kind,
                    ],
                )
                .await?;
            }
            for d in &rest.dead_letters {
                tx.execute(
                    "INSERT INTO dead_letters (source_id, origin, reason, raw, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source_id, origin) DO NOTHING",
                    &[
                        &d.source_id,
                        &d.letter.origin,
                        &d.letter.reason,
                        &d.letter.raw,
                        &d.created_at.timestamp_millis(),
                    ],
                )
                .await?;
            }
            for (id, key, value) in &rest.state {
                tx.execute(
                    "INSERT INTO source_state (source_id, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                    &[id, key, value],
                )
                .await?;
            }
            tx.commit().await
        });
        done.map_err(|e| self.backend(e))
    }
}
