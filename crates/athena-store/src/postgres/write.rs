//! The write path, as SQLite's (`sqlite/write.rs`): batches staged in one open transaction,
//! each in a savepoint of its own, committed together; a batch's events, dead letters, state
//! changes, kind counts and cursor are written together or not at all.
//!
//! A batch's events go in with one statement: `INSERT … SELECT FROM unnest(…) ON CONFLICT DO
//! NOTHING RETURNING kind`, so the rows returned are the events newly stored (a repeated id
//! keeps the first), and the rest are duplicates.

use athena_core::{Batch, CommitReport, Outcome, RunRecord, SourceInfo, StoreError};
use chrono::Utc;

use super::{wait, PgStore, Staged};

impl PgStore {
    /// [`Store::stage_batch`](athena_core::Store::stage_batch).
    pub(super) fn stage_in_group(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        if self.staged.is_none() || self.client.is_closed() {
            self.reconnect_if_lost()?;
        }
        if self.lost_group.is_some() {
            // The group's transaction is gone: this batch would commit without those staged
            // before it, out of their order.
            return Err(StoreError::Backend(
                "the transaction of the batches staged before this one was lost".into(),
            ));
        }
        if self.staged.is_none() {
            wait(self.client.batch_execute("BEGIN")).map_err(|e| self.backend(e))?;
            self.staged = Some(Staged::default());
        }
        wait(self.client.batch_execute("SAVEPOINT batch")).map_err(|e| self.backend(e))?;
        if let Some(held) = &self.fenced {
            match wait(super::leases::check(&self.client, &source.id, held)) {
                Ok(Ok(())) => {}
                Ok(Err((held, current))) => {
                    self.undo_batch();
                    return Err(StoreError::Fenced {
                        source_id: source.id.clone(),
                        held,
                        current,
                    });
                }
                Err(e) => {
                    self.undo_batch();
                    return Err(self.backend(e));
                }
            }
        }
        let staged = wait(stage(&self.client, source, batch, self.keep_outbox));
        match staged {
            Ok(report) => {
                let released = wait(self.client.batch_execute("RELEASE SAVEPOINT batch"));
                if let Err(e) = released {
                    return Err(self.lose_group(e));
                }
                if let Some(group) = &mut self.staged {
                    group.batches += 1;
                }
                Ok(report)
            }
            Err(e) => {
                let undone = wait(
                    self.client
                        .batch_execute("ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch"),
                );
                if undone.is_err() {
                    // The transaction itself is gone (the connection broke): the group is lost.
                    return Err(self.lose_group(e));
                }
                if self.staged.as_ref().is_some_and(|g| g.batches == 0) {
                    self.rollback_group();
                }
                Err(self.backend(e))
            }
        }
    }

    /// Undoes the batch being staged (its savepoint), and the group if it held nothing else.
    fn undo_batch(&mut self) {
        let undone = wait(
            self.client
                .batch_execute("ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch"),
        );
        if undone.is_err() || self.staged.as_ref().is_some_and(|g| g.batches == 0) {
            self.rollback_group();
        }
    }

    /// The open group cannot commit: what it held is gone, and the next commit says so.
    fn lose_group(&mut self, e: tokio_postgres::Error) -> StoreError {
        let held = self.staged.as_ref().is_some_and(|g| g.batches > 0);
        self.rollback_group();
        let error = self.backend(e);
        if held {
            self.lost_group = Some(error.to_string());
        }
        error
    }

    /// [`Store::commit_staged`](athena_core::Store::commit_staged).
    pub(super) fn commit_group(&mut self) -> Result<(), StoreError> {
        if let Some(why) = self.lost_group.take() {
            self.rollback_group();
            return Err(StoreError::Backend(
                format!("the transaction of the batches staged with a failed one was rolled back: {why}").into(),
            ));
        }
        if self.staged.take().is_none() {
            return Ok(());
        }
        wait(self.client.batch_execute("COMMIT")).map_err(|e| {
            let error = self.backend(e);
            self.rollback_group();
            error
        })
    }

    fn rollback_group(&mut self) {
        self.staged = None;
        let _ = wait(self.client.batch_execute("ROLLBACK"));
    }

    /// [`Store::record_run`](athena_core::Store::record_run).
    pub(super) fn upsert_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        let finished = run.finished_at.timestamp_millis();
        let status = run.status.as_str();
        wait(self.client.execute(
            "INSERT INTO source_runs (source_id, source_type, finished_at, status, error, error_kind)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (source_id) DO UPDATE SET
                source_type = excluded.source_type, finished_at = excluded.finished_at,
                status = excluded.status, error = excluded.error,
                error_kind = excluded.error_kind",
            &[
                &run.source_id,
                &run.source_type,
                &finished,
                &status,
                &run.error,
                &run.error_kind,
            ],
        ))
        .map(|_| ())
        .map_err(|e| self.backend(e))
    }

    /// [`Store::reset_cursor`](athena_core::Store::reset_cursor).
    pub(super) fn delete_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        let done = wait(async {
            let tx = self.client.transaction().await?;
            let had = tx
                .execute("DELETE FROM cursors WHERE source_id = $1", &[&source_id])
                .await?
                > 0;
            tx.execute(
                "DELETE FROM source_state WHERE source_id = $1",
                &[&source_id],
            )
            .await?;
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(had)
        });
        done.map_err(|e| self.backend(e))
    }
}

/// One batch's rows, dead letters, state changes, kind counts and cursor, in the open
/// transaction.
async fn stage(
    client: &tokio_postgres::Client,
    source: &SourceInfo,
    batch: &Batch,
    keep_outbox: bool,
) -> Result<CommitReport, tokio_postgres::Error> {
    let now = Utc::now().timestamp_millis();
    let mut report = CommitReport::default();
    if !batch.events.is_empty() {
        let n = batch.events.len();
        let (mut ids, mut kinds, mut times, mut actors) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut titles, mut bodies, mut urls, mut outcomes) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut contexts, mut metadata) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (i, e) in batch.events.iter().enumerate() {
            ids.push(e.id.as_str());
            kinds.push(e.kind.as_str());
            times.push(e.occurred_at.timestamp_millis());
            actors.push(e.actor.as_deref());
            titles.push(e.title.as_str());
            bodies.push(e.body.as_str());
            urls.push(e.url.as_deref());
            outcomes.push(e.outcome.map(Outcome::as_str));
            match batch.json_of(i) {
                Some(j) => {
                    contexts.push(j.context.clone());
                    metadata.push(j.metadata.clone());
                }
                None => {
                    contexts
                        .push(serde_json::to_string(&e.context).unwrap_or_else(|_| "{}".into()));
                    metadata
                        .push(serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()));
                }
            }
        }
        let written = client
            .query(
                "INSERT INTO events (id, source_id, source_type, kind, occurred_at, ingested_at,
                    actor, title, body, url, outcome, context, metadata)
                 SELECT i, $2, $3, k, o, $4, a, t, b, u, oc, c, m
                 FROM unnest($1::text[], $5::text[], $6::bigint[], $7::text[], $8::text[],
                             $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
                      WITH ORDINALITY AS x(i, k, o, a, t, b, u, oc, c, m, ord)
                 ORDER BY ord
                 ON CONFLICT (source_id, id) DO NOTHING
                 RETURNING kind, seq, id",
                &[
                    &ids,
                    &source.id,
                    &source.source_type,
                    &now,
                    &kinds,
                    &times,
                    &actors,
                    &titles,
                    &bodies,
                    &urls,
                    &outcomes,
                    &contexts,
                    &metadata,
                ],
            )
            .await?;
        report.written = written.len() as u64;
        report.duplicates = (n - written.len()) as u64;
        if batch.links.len() == n {
            // A row names its event by id; a batch holding an id twice stored the first.
            let mut index = std::collections::HashMap::with_capacity(n);
            for (i, e) in batch.events.iter().enumerate() {
                index.entry(e.id.as_str()).or_insert(i);
            }
            let mut rows = super::links::LinkRows::default();
            let mut people = super::people::PeopleRows::default();
            for row in &written {
                let id: &str = row.get(2);
                let Some(&i) = index.get(id) else { continue };
                if let Some(links) = batch.links_of(i) {
                    rows.add(row.get(1), links);
                }
                if let Some(claims) = batch.people_of(i) {
                    people.add(row.get(1), claims);
                }
            }
            rows.write(client).await?;
            people.write(client).await?;
        }
        let mut counted: Vec<(String, i64)> = Vec::new();
        for row in &written {
            let kind: String = row.get(0);
            match counted.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, c)) => *c += 1,
                None => counted.push((kind, 1)),
            }
        }
        for (kind, count) in counted {
            client
                .execute(
                    "INSERT INTO event_kinds (source_id, kind, events) VALUES ($1, $2, $3)
                     ON CONFLICT (source_id, kind) DO UPDATE
                        SET events = event_kinds.events + excluded.events",
                    &[&source.id, &kind, &count],
                )
                .await?;
        }
        let seqs = written.iter().map(|row| row.get::<_, i64>(1));
        if let (true, Some(first), Some(last)) = (keep_outbox, seqs.clone().min(), seqs.max()) {
            // Other workers' batches may take sequences in between: the entry names this
            // source's events in the range.
            client
                .execute(
                    "INSERT INTO outbox (source_id, first_seq, last_seq, events, stored_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&source.id, &first, &last, &(written.len() as i64), &now],
                )
                .await?;
        }
    }
    for d in &batch.dead_letters {
        report.dead_letters += client
            .execute(
                "INSERT INTO dead_letters (source_id, origin, reason, raw, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (source_id, origin) DO NOTHING",
                &[&source.id, &d.origin, &d.reason, &d.raw, &now],
            )
            .await?;
    }
    for change in &batch.state {
        match &change.value {
            Some(v) => {
                client
                    .execute(
                        "INSERT INTO source_state (source_id, key, value) VALUES ($1, $2, $3)
                         ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                        &[&source.id, &change.key, v],
                    )
                    .await?
            }
            None => {
                client
                    .execute(
                        "DELETE FROM source_state WHERE source_id = $1 AND key = $2",
                        &[&source.id, &change.key],
                    )
                    .await?
            }
        };
    }
    let cursor =
        serde_json::to_string(batch.checkpoint.as_json()).unwrap_or_else(|_| "null".into());
    client
        .execute(
            "INSERT INTO cursors (source_id, source_type, cursor, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (source_id) DO UPDATE SET
                source_type = excluded.source_type, cursor = excluded.cursor,
                updated_at = excluded.updated_at",
            &[&source.id, &source.source_type, &cursor, &now],
        )
        .await?;
    Ok(report)
}
