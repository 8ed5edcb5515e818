//! `athena-ingest compact` on SQLite: the events still kept as JSON text (stored before their
//! source had a dictionary, by a release before packing, or copied in) are packed (see
//! `packed`), a source at a time and a few thousand rows per transaction, so that a stop at
//! any moment leaves every event readable, packed or not; then `VACUUM` gives the pages freed
//! back to the file system.

use athena_core::{Compacted, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, TransactionBehavior};

use super::packed::TRAIN_MIN;
use super::{backend, SqliteStore};

/// A source's dictionary is trained on up to this many of its latest text events.
const SAMPLE: i64 = 5000;
/// Rows packed per transaction.
const CHUNK: i64 = 5000;

impl SqliteStore {
    /// [`Store::compact`](athena_core::Store::compact).
    pub(super) fn compact_all(&mut self) -> Result<Compacted, StoreError> {
        let path = self.path.clone();
        let be = |e| backend(&path, e);
        let mut done = Compacted {
            bytes_before: self.bytes(),
            ..Compacted::default()
        };
        let sources: Vec<String> = {
            let mut stmt = (self.conn)
                .prepare(
                    "SELECT DISTINCT source_id FROM events WHERE typeof(context) = 'text' \
                     ORDER BY source_id",
                )
                .map_err(be)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)?
        };
        for source in sources {
            let (packed, trained) = self.pack_source(&source).map_err(be)?;
            done.events_packed += packed;
            done.dictionaries_trained += u64::from(trained);
        }
        // Nothing is open: VACUUM rewrites the file without the free pages.
        self.conn.execute_batch("VACUUM").map_err(be)?;
        let _ = (self.conn).execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        done.bytes_after = self.bytes();
        Ok(done)
    }

    /// Packs `source`'s text events with its dictionary, trained first (on its latest text
    /// events) if it has none and enough of them; returns how many were packed, and whether
    /// a dictionary was trained.
    fn pack_source(&mut self, source: &str) -> rusqlite::Result<(u64, bool)> {
        let sample: Vec<(String, String)> = {
            let mut stmt = self.conn.prepare(
                "SELECT context, metadata FROM events WHERE source_id = ?1 \
                 AND typeof(context) = 'text' ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![source, SAMPLE], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let had: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM event_dicts WHERE source_id = ?1",
            [source],
            |r| r.get(0),
        )?;
        let tx = (self.conn).transaction_with_behavior(TransactionBehavior::Immediate)?;
        let packer = {
            let mut codec = self.codec.lock().unwrap_or_else(|p| p.into_inner());
            // A source with a dictionary packs whatever it has; one without trains on
            // `TRAIN_MIN` events or more.
            let events = if had {
                TRAIN_MIN.max(sample.len())
            } else {
                sample.len()
            };
            let doc = |i: usize| -> (&str, &str) {
                sample
                    .get(i)
                    .map_or(("{}", "{}"), |(c, m)| (c.as_str(), m.as_str()))
            };
            codec.packer(&tx, source, events, doc)?
        };
        if let Err(e) = tx.commit() {
            // A dictionary it trained was not stored.
            self.codec_mut().forget_uncommitted();
            return Err(e);
        }
        let Some(mut packing) = packer.and_then(|p| p.start()) else {
            return Ok((0, false));
        };
        let (mut after, mut packed) = (0i64, 0u64);
        loop {
            let tx = (self.conn).transaction_with_behavior(TransactionBehavior::Immediate)?;
            let rows: Vec<(i64, String, String)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq, context, metadata FROM events WHERE source_id = ?1 \
                     AND seq > ?2 AND typeof(context) = 'text' ORDER BY seq LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![source, after, CHUNK], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, Option<String>>(2)?
                            .unwrap_or_else(|| "{}".into()),
                    ))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let Some(last) = rows.last().map(|r| r.0) else {
                tx.commit()?;
                break;
            };
            {
                let mut update = tx.prepare_cached(
                    "UPDATE events SET context = ?1, metadata = ?2 WHERE seq = ?3",
                )?;
                for (seq, context, metadata) in &rows {
                    if let Some(blob) = packing.pack(context, metadata) {
                        update.execute(params![
                            blob,
                            ToSqlOutput::Borrowed(ValueRef::Blob(&[])),
                            seq
                        ])?;
                        packed += 1;
                    }
                }
            }
            tx.commit()?;
            after = last;
        }
        Ok((packed, !had && packed > 0))
    }

    /// The store's bytes on disk: its file and its write-ahead log.
    fn bytes(&self) -> u64 {
        let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.resolved.clone().into_os_string();
        wal.push("-wal");
        len(&self.resolved) + len(std::path::Path::new(&wal))
    }
}
