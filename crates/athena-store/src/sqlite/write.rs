//! The write path: batches staged in one group-commit transaction, run records, cursor reset.
//! A batch's rows and cursor commit together or not at all; a group SQLite rolled back fails whole.

use std::borrow::Cow;

use athena_core::{Batch, CommitReport, Outcome, Packed, RunRecord, SourceInfo, StoreError};
use chrono::Utc;
use rusqlite::params;

use super::insert::{Doc, EventInsert, EventRow};
use super::packed::Packing;
use super::{backend, millis, SqliteStore};

/// Each event's context and metadata JSON: as its source wrote them (see
/// [`Batch::json`](athena_core::Batch::json)), or encoded here.
struct Documents<'b> {
    batch: &'b Batch,
    encoded: Vec<Option<(String, String)>>,
}

impl<'b> Documents<'b> {
    fn of(batch: &'b Batch) -> Self {
        let encoded = (batch.events.iter().enumerate())
            .map(|(i, e)| {
                batch.json_of(i).is_none().then(|| {
                    (
                        serde_json::to_string(&e.context).unwrap_or_else(|_| "{}".into()),
                        serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()),
                    )
                })
            })
            .collect();
        Documents { batch, encoded }
    }

    fn len(&self) -> usize {
        self.encoded.len()
    }

    fn get(&self, i: usize) -> (&str, &str) {
        match (&self.encoded[i], self.batch.json_of(i)) {
            (Some((c, m)), _) => (c, m),
            (None, Some(j)) => (&j.context, &j.metadata),
            (None, None) => ("{}", "{}"),
        }
    }
}

/// What the open group-commit transaction needs to know at its commit.
pub(super) struct Staged {
    /// The largest `seq` before the group: rows above it enter the full-text index at commit.
    last_seq: i64,
    /// Whether the group dropped the time indexes (undone if the group is rolled back).
    suspends_indexes: bool,
    /// Batches staged in it so far.
    batches: usize,
}

impl SqliteStore {
    /// [`Store::stage_batch`](athena_core::Store::stage_batch).
    pub(super) fn stage_in_group(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        let path = self.path.clone();
        let be = |e| backend(&path, e);
        if self.staged.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(be)?;
            let last_seq = self
                .conn
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
                .and_then(|mut s| s.query_row([], |r| r.get(0)));
            let begun = last_seq.and_then(|last_seq| {
                let suspends_indexes = self.suspend_time_indexes_if_bulk()?;
                Ok(Staged {
                    last_seq,
                    suspends_indexes,
                    batches: 0,
                })
            });
            match begun {
                Ok(staged) => self.staged = Some(staged),
                Err(e) => {
                    // (`suspended` is set only once both indexes are dropped.)
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(be(e));
                }
            }
        }
        self.conn.execute_batch("SAVEPOINT batch").map_err(be)?;
        let staged = self.stage_into(source, batch).and_then(|report| {
            self.conn.execute_batch("RELEASE batch").map_err(be)?;
            Ok(report)
        });
        if let Err(e) = &staged {
            // A dictionary it trained went with it.
            self.codec_mut().forget_uncommitted();
            // The batch goes; what was staged before it stays, unless SQLite rolled the whole
            // transaction back (it does on some errors: a full disk, an I/O error): then the
            // group is lost, and its commit must say so, or its batches would count as stored.
            let undone = !self.conn.is_autocommit()
                && self
                    .conn
                    .execute_batch("ROLLBACK TO batch; RELEASE batch")
                    .is_ok();
            let held_batches = self.staged.as_ref().is_some_and(|g| g.batches > 0);
            if !undone {
                self.rollback_group();
                if held_batches {
                    self.lost_group = Some(e.to_string());
                }
            } else if !held_batches {
                // It opened the group and nothing else is in it: no transaction is left open
                // (the engine commits only groups that hold a batch).
                self.rollback_group();
            }
        } else if let Some(group) = &mut self.staged {
            group.batches += 1;
        }
        staged
    }

    /// [`Store::commit_staged`](athena_core::Store::commit_staged).
    pub(super) fn commit_group(&mut self) -> Result<(), StoreError> {
        if let Some(why) = self.lost_group.take() {
            // Batches staged since belong to the same failed group for the engine.
            self.rollback_group();
            return Err(StoreError::Backend(
                format!("the transaction of the batches staged with a failed one was rolled back: {why}").into(),
            ));
        }
        let Some(last_seq) = self.staged.as_ref().map(|s| s.last_seq) else {
            return Ok(());
        };
        // The staged rows enter the full-text index in one statement: FTS5 flushes its pending
        // terms once for the whole group.
        let done = self
            .conn
            .prepare_cached(
                "INSERT INTO events_fts (rowid, title, body)
                 SELECT seq, title, body FROM events WHERE seq > ?1",
            )
            .and_then(|mut s| s.execute([last_seq]))
            .and_then(|_| self.conn.execute_batch("COMMIT"));
        if let Err(e) = done {
            self.rollback_group();
            return Err(backend(&self.path, e));
        }
        self.staged = None;
        if let Some(bulk) = &mut self.bulk {
            // Rows above the group's start are the group's (a rolled-back batch left none).
            let last: i64 = self
                .conn
                .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
                .unwrap_or(last_seq);
            bulk.rows_written += last - last_seq;
        }
        if let Some(c) = &self.checkpointer {
            c.committed();
        }
        Ok(())
    }

    /// Abandons the open group: nothing of it is stored, and the time indexes are back if it
    /// had dropped them.
    fn rollback_group(&mut self) {
        self.codec_mut().forget_uncommitted();
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let (Some(staged), Some(bulk)) = (self.staged.take(), &mut self.bulk) {
            if staged.suspends_indexes {
                bulk.suspended = false;
            }
        }
    }

    /// How `source`'s events of this batch are packed (see `packed`): with its dictionary,
    /// one trained on these documents if there are enough, else not at all.
    fn packing(
        &self,
        source: &SourceInfo,
        docs: &Documents<'_>,
    ) -> rusqlite::Result<Option<Packing>> {
        let mut codec = self.codec.lock().unwrap_or_else(|p| p.into_inner());
        let packer = codec.packer(&self.conn, &source.id, docs.len(), |i| docs.get(i))?;
        Ok(packer.and_then(|p| p.start()))
    }

    /// Whether `packed`'s documents can be stored as they are: one for each of the batch's
    /// `events`, with a dictionary that is `source`'s and the store's (stored now, in the
    /// batch's transaction, if it was not). A
    /// dictionary id the store has for other bytes (which one sync at a time cannot make)
    /// has the batch packed here instead.
    fn keeps_dictionary(
        &self,
        source: &SourceInfo,
        packed: &Packed,
        events: usize,
    ) -> rusqlite::Result<bool> {
        let d = &packed.dictionary;
        if d.source_id != source.id || packed.docs.len() != events {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO event_dicts (id, source_id, dict, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![d.id, d.source_id, d.bytes, millis(Utc::now())])?;
        self.conn
            .prepare_cached("SELECT source_id = ?2 AND dict = ?3 FROM event_dicts WHERE id = ?1")?
            .query_row(params![d.id, d.source_id, d.bytes], |r| r.get(0))
    }

    /// One batch's rows, dead letters, state changes and cursor, written inside the open
    /// transaction.
    fn stage_into(&self, source: &SourceInfo, batch: &Batch) -> Result<CommitReport, StoreError> {
        let be = |e| backend(&self.path, e);
        let now = millis(Utc::now());
        let mut report = CommitReport::default();
        {
            let mut insert = EventInsert::new(&self.conn).map_err(be)?;
            // The kinds of the events this batch newly stores, and how many of each: a batch
            // holds a few kinds, so a list beats a map.
            let mut written_kinds: Vec<(&str, u64)> = Vec::new();
            // The storing sequences of the first and last event this batch stores.
            let mut stored: Option<(i64, i64)> = None;
            let docs = Documents::of(batch);
            // Packed on the source's task (see `packer`), else here.
            let ready = match &batch.packed {
                Some(p)
                    if self
                        .keeps_dictionary(source, p, batch.events.len())
                        .map_err(be)? =>
                {
                    Some(&p.docs)
                }
                _ => None,
            };
            let mut packing = match ready {
                Some(_) => None,
                None => self.packing(source, &docs).map_err(be)?,
            };
            for (i, e) in batch.events.iter().enumerate() {
                let (context, metadata) = docs.get(i);
                let packed = match ready {
                    Some(docs) => docs[i].as_deref().map(Cow::Borrowed),
                    None => packing
                        .as_mut()
                        .and_then(|p| p.pack(context, metadata))
                        .map(Cow::Owned),
                };
                let (context, metadata) = match &packed {
                    Some(blob) => (Doc::Blob(blob), Doc::Blob(&[])),
                    None => (Doc::Text(context), Doc::Text(metadata)),
                };
                let inserted = insert
                    .insert(&EventRow {
                        id: &e.id,
                        source_id: &source.id,
                        source_type: &source.source_type,
                        kind: &e.kind,
                        occurred_at: millis(e.occurred_at),
                        ingested_at: now,
                        actor: e.actor.as_deref(),
                        title: &e.title,
                        body: &e.body,
                        url: e.url.as_deref(),
                        outcome: e.outcome.map(Outcome::as_str),
                        context,
                        metadata,
                    })
                    .map_err(be)?;
                if inserted {
                    report.written += 1;
                    let seq = self.conn.last_insert_rowid();
                    if let Some(links) = batch.links_of(i) {
                        super::links::insert(&self.conn, seq, links).map_err(be)?;
                    }
                    if let Some(claims) = batch.people_of(i) {
                        super::people::insert(&self.conn, seq, claims).map_err(be)?;
                    }
                    stored = Some(stored.map_or((seq, seq), |(first, _)| (first, seq)));
                    match written_kinds.iter_mut().find(|(k, _)| *k == e.kind) {
                        Some((_, count)) => *count += 1,
                        None => written_kinds.push((&e.kind, 1)),
                    }
                } else {
                    report.duplicates += 1;
                }
            }
            let mut count_kind = self
                .conn
                .prepare_cached(
                    "INSERT INTO event_kinds (source_id, kind, events) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source_id, kind) DO UPDATE SET events = events + excluded.events",
                )
                .map_err(be)?;
            for (kind, count) in written_kinds {
                count_kind
                    .execute(params![source.id, kind, count as i64])
                    .map_err(be)?;
            }
            if let (true, Some(range)) = (self.keep_outbox, stored) {
                super::outbox::write_entry(&self.conn, &source.id, range, report.written)
                    .map_err(be)?;
            }
            let mut dead = self
                .conn
                .prepare_cached(
                    "INSERT INTO dead_letters (source_id, origin, reason, raw, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (source_id, origin) DO NOTHING",
                )
                .map_err(be)?;
            for d in &batch.dead_letters {
                report.dead_letters += dead
                    .execute(params![source.id, d.origin, d.reason, d.raw, now])
                    .map_err(be)? as u64;
            }
            if !batch.state.is_empty() {
                let mut put = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO source_state (source_id, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                    )
                    .map_err(be)?;
                let mut remove = self
                    .conn
                    .prepare_cached("DELETE FROM source_state WHERE source_id = ?1 AND key = ?2")
                    .map_err(be)?;
                for change in &batch.state {
                    match &change.value {
                        Some(v) => put.execute(params![source.id, change.key, v]),
                        None => remove.execute(params![source.id, change.key]),
                    }
                    .map_err(be)?;
                }
            }
            let cursor =
                serde_json::to_string(batch.checkpoint.as_json()).unwrap_or_else(|_| "null".into());
            self.conn
                .prepare_cached(
                    "INSERT INTO cursors (source_id, source_type, cursor, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source_id) DO UPDATE SET
                    source_type = excluded.source_type, cursor = excluded.cursor,
                    updated_at = excluded.updated_at",
                )
                .map_err(be)?
                .execute(params![source.id, source.source_type, cursor, now])
                .map_err(be)?;
        }
        Ok(report)
    }

    /// [`Store::record_run`](athena_core::Store::record_run).
    pub(super) fn upsert_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO source_runs (source_id, source_type, finished_at, status, error, error_kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source_id) DO UPDATE SET
                    source_type = excluded.source_type, finished_at = excluded.finished_at,
                    status = excluded.status, error = excluded.error,
                    error_kind = excluded.error_kind",
                params![
                    run.source_id,
                    run.source_type,
                    millis(run.finished_at),
                    run.status.as_str(),
                    run.error,
                    run.error_kind
                ],
            )
            .map(|_| ())
            .map_err(|e| backend(&self.path, e))
    }

    /// [`Store::reset_cursor`](athena_core::Store::reset_cursor).
    pub(super) fn delete_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        let be = |e| backend(&self.path, e);
        let tx = self.conn.transaction().map_err(be)?;
        let had = tx
            .execute("DELETE FROM cursors WHERE source_id = ?1", [source_id])
            .map_err(be)?
            > 0;
        tx.execute("DELETE FROM source_state WHERE source_id = ?1", [source_id])
            .map_err(be)?;
        tx.commit().map_err(be)?;
        Ok(had)
    }
}
