//! Packing on the sources' tasks: the engine asks the store for a [`BatchPacker`] when it
//! starts, and each source's batches are packed (see `packed`) on its own task before they go
//! to the writer, whose thread a bulk sync waits on. Per source: the dictionary it had when
//! the packer was made, or one trained on its first batch of [`TRAIN_MIN`] events or more,
//! and a zstd context of its own. A batch carries its dictionary along; the writer stores it
//! with the batch if the store does not have it yet (so a batch rolled back, or a process
//! stopped, loses nothing the next batch needs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use athena_core::{Batch, BatchPacker, PackDictionary, Packed};
use rusqlite::Connection;
use zstd::zstd_safe::CDict;

use super::packed::{train, Packer, PackerRef, Packing, LEVEL, TRAIN_MIN};

/// A dictionary is trained on at most this many documents of a batch.
const TRAIN_SAMPLE: usize = 5000;

/// A source's packing.
#[derive(Default)]
struct SourcePacking {
    /// Its zstd context and the prepared dictionary it refers to (kept together there).
    packing: Option<Packing>,
    dictionary: Option<Arc<PackDictionary>>,
    /// Training failed once: not tried again by this packer.
    untrainable: bool,
}

/// The [`BatchPacker`] of a SQLite store.
pub(super) struct SourcePacker {
    sources: Mutex<HashMap<String, Arc<Mutex<SourcePacking>>>>,
    /// The id the next dictionary trained gets: above every id stored when the packer was
    /// made (one sync at a time writes a store, under its lock).
    next_id: AtomicI64,
}

impl SourcePacker {
    /// A packer knowing every source's newest dictionary in the store open on `conn`.
    pub(super) fn new(conn: &Connection) -> rusqlite::Result<SourcePacker> {
        let mut sources = HashMap::new();
        let mut stmt = conn.prepare(
            "SELECT id, source_id, dict FROM event_dicts WHERE id IN \
             (SELECT max(id) FROM event_dicts GROUP BY source_id)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PackDictionary {
                id: r.get(0)?,
                source_id: r.get(1)?,
                bytes: r.get(2)?,
            })
        })?;
        for row in rows {
            let dictionary = row?;
            let state = SourcePacking::with(Arc::new(dictionary));
            let source = state.dictionary.as_ref().map(|d| d.source_id.clone());
            sources.insert(source.unwrap_or_default(), Arc::new(Mutex::new(state)));
        }
        let max: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM event_dicts", [], |r| {
            r.get(0)
        })?;
        Ok(SourcePacker {
            sources: Mutex::new(sources),
            next_id: AtomicI64::new(max + 1),
        })
    }

    fn state_of(&self, source_id: &str) -> Arc<Mutex<SourcePacking>> {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        sources.entry(source_id.to_string()).or_default().clone()
    }
}

impl SourcePacking {
    /// Packing with `dictionary`; a dictionary zstd cannot prepare (a damaged row) leaves the
    /// source unpacked here (its writer packs it, or stores text).
    fn with(dictionary: Arc<PackDictionary>) -> SourcePacking {
        let Some(dict) = CDict::try_create(&dictionary.bytes, LEVEL) else {
            return SourcePacking {
                untrainable: true,
                ..SourcePacking::default()
            };
        };
        let packer = PackerRef(Arc::new(Packer {
            id: dictionary.id,
            dict,
        }));
        SourcePacking {
            packing: packer.start(),
            dictionary: Some(dictionary),
            untrainable: false,
        }
    }
}

impl BatchPacker for SourcePacker {
    fn pack(&self, source_id: &str, batch: &mut Batch) {
        let n = batch.events.len();
        if n == 0 || batch.json.len() != n {
            return;
        }
        let state = self.state_of(source_id);
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        if state.dictionary.is_none() {
            if state.untrainable || n < TRAIN_MIN {
                return;
            }
            let json = &batch.json;
            let doc = |i: usize| (json[i].context.as_str(), json[i].metadata.as_str());
            // A dictionary learns what it can from a few thousand documents.
            let Some(bytes) = train(n.min(TRAIN_SAMPLE), &doc) else {
                state.untrainable = true;
                return;
            };
            let dictionary = PackDictionary {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                source_id: source_id.to_string(),
                bytes,
            };
            tracing::debug!(
                source = source_id,
                id = dictionary.id,
                bytes = dictionary.bytes.len(),
                "trained a dictionary for its events' documents"
            );
            *state = SourcePacking::with(Arc::new(dictionary));
        }
        let Some(dictionary) = state.dictionary.clone() else {
            return;
        };
        let Some(packing) = state.packing.as_mut() else {
            return;
        };
        let docs = (batch.json.iter())
            .map(|j| packing.pack(&j.context, &j.metadata))
            .collect();
        batch.packed = Some(Box::new(Packed { dictionary, docs }));
    }
}
