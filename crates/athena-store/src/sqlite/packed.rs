//! Events' `context` and `metadata`, packed (schema 8): both JSON texts compressed together
//! with zstd and a dictionary trained on their source's own events. A log line's metadata is
//! the same keys and much the same values line after line (the user agents, the referers, the
//! file): a dictionary holds what they share, so each event keeps only what is its own, about
//! an eighth of the text.
//!
//! - A source gets its dictionary from the first batch of [`TRAIN_MIN`] events or more that it
//!   stores (trained on that batch, stored in `event_dicts` in the batch's transaction); its
//!   events before then, and those of sources that never send such a batch, stay JSON text.
//!   `athena-ingest compact` packs what is left as text, for sources with enough of it.
//! - A packed event's `context` column is a blob: [`FORMAT`], the dictionary's id (a varint),
//!   then a zstd frame of the context's JSON, a NUL byte (which JSON text never holds) and the
//!   metadata's JSON; its `metadata` column is an empty blob.
//! - Reading takes either form: text is JSON as before, a blob is unpacked with its dictionary,
//!   loaded once per connection.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use zstd::zstd_safe::{self, CCtx, CDict, CParameter, DCtx, DDict};

/// The first byte of a packed document: how it is laid out.
const FORMAT: u8 = 1;
/// A batch of at least this many events trains its source's dictionary.
pub(crate) const TRAIN_MIN: usize = 1000;
/// The largest dictionary trained.
const DICT_BYTES: usize = 64 * 1024;
/// The largest document read back: a frame stating more is damaged (no source writes an
/// event's context and metadata that large).
const MAX_DOCUMENT: u64 = 64 << 20;
/// zstd's level: its fastest but one, as a sync writes millions of events.
pub(super) const LEVEL: i32 = 1;

/// What a source packs with: its dictionary, prepared for compressing.
pub(super) struct Packer {
    pub(super) id: i64,
    pub(super) dict: CDict<'static>,
}

/// Why a source does not pack.
enum Unpacked {
    /// It has no dictionary, and its batches were too small to train one.
    NoDictionary,
    /// Training failed (too little or too uniform data): not tried again by this store.
    Untrainable,
}

/// The dictionaries a connection has met, and the zstd context it reads with.
pub(super) struct Codec {
    // Declared first, dropped first: it last read with one of `unpackers`.
    dctx: DCtx<'static>,
    packers: HashMap<String, Result<Arc<Packer>, Unpacked>>,
    unpackers: HashMap<i64, Arc<DDict<'static>>>,
}

impl Default for Codec {
    fn default() -> Self {
        Codec {
            dctx: DCtx::create(),
            packers: HashMap::new(),
            unpackers: HashMap::new(),
        }
    }
}

/// A document that cannot be read back.
#[derive(Debug)]
pub(super) struct Unreadable(pub String);

impl Codec {
    /// Forgets what a rolled-back transaction may have made (a dictionary trained in it).
    pub(super) fn forget_uncommitted(&mut self) {
        self.packers.clear();
    }

    /// The packer of `source_id` for a batch of `events` documents (`docs` gives each one's
    /// context and metadata JSON): its dictionary, else one trained on these documents when
    /// there are enough of them (stored in `event_dicts` on `conn`, in the caller's
    /// transaction), else none.
    pub(super) fn packer<'d>(
        &mut self,
        conn: &Connection,
        source_id: &str,
        events: usize,
        docs: impl Fn(usize) -> (&'d str, &'d str),
    ) -> rusqlite::Result<Option<PackerRef>> {
        if let Some(known) = self.packers.get(source_id) {
            match known {
                Ok(p) => return Ok(Some(PackerRef(p.clone()))),
                Err(Unpacked::Untrainable) => return Ok(None),
                Err(Unpacked::NoDictionary) if events < TRAIN_MIN => return Ok(None),
                Err(Unpacked::NoDictionary) => {}
            }
        }
        let stored: Option<(i64, Vec<u8>)> = conn
            .prepare_cached(
                "SELECT id, dict FROM event_dicts WHERE source_id = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([source_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let made = match stored {
            Some((id, dict)) => match CDict::try_create(&dict, LEVEL) {
                Some(dict) => Ok(Arc::new(Packer { id, dict })),
                // A damaged dictionary: its source's events stay text.
                None => Err(Unpacked::Untrainable),
            },
            None if events < TRAIN_MIN => Err(Unpacked::NoDictionary),
            None => match train(events, &docs) {
                Some(dict) => {
                    conn.prepare_cached(
                        "INSERT INTO event_dicts (source_id, dict, created_at) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![
                        source_id,
                        dict,
                        chrono::Utc::now().timestamp_millis()
                    ])?;
                    let id = conn.last_insert_rowid();
                    tracing::debug!(
                        source = source_id,
                        id,
                        bytes = dict.len(),
                        "trained a dictionary for its events' documents"
                    );
                    match CDict::try_create(&dict, LEVEL) {
                        Some(dict) => Ok(Arc::new(Packer { id, dict })),
                        None => Err(Unpacked::Untrainable),
                    }
                }
                None => Err(Unpacked::Untrainable),
            },
        };
        let found = made.as_ref().ok().map(|p| PackerRef(p.clone()));
        self.packers.insert(source_id.to_string(), made);
        Ok(found)
    }

    /// The context and metadata JSON of a stored row, from its two columns, as text or packed
    /// (loading the dictionary from `conn` the first time it is met).
    pub(super) fn unpack(
        &mut self,
        conn: &Connection,
        context: ValueRef<'_>,
        metadata: ValueRef<'_>,
    ) -> Result<(String, String), Unreadable> {
        let load = |id: i64| -> Result<Vec<u8>, String> {
            conn.prepare_cached("SELECT dict FROM event_dicts WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)))
                .map_err(|e| e.to_string())
        };
        self.unpack_with(load, context, metadata)
    }

    /// [`Codec::unpack`], loading a dictionary it has not met with `load`.
    fn unpack_with(
        &mut self,
        load: impl FnOnce(i64) -> Result<Vec<u8>, String>,
        context: ValueRef<'_>,
        metadata: ValueRef<'_>,
    ) -> Result<(String, String), Unreadable> {
        let text = |v: ValueRef<'_>| match v {
            ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Null => Ok("{}".to_string()),
            other => Err(Unreadable(format!(
                "a {:?} where JSON was",
                other.data_type()
            ))),
        };
        let blob = match context {
            ValueRef::Blob(b) => b,
            _ => return Ok((text(context)?, text(metadata)?)),
        };
        let (format, rest) = blob
            .split_first()
            .ok_or_else(|| Unreadable("an empty document".into()))?;
        if *format != FORMAT {
            return Err(Unreadable(format!(
                "a document of format {format}, which this release does not know"
            )));
        }
        let (id, frame) = get_varint(rest).ok_or_else(|| Unreadable("a cut document".into()))?;
        let id = id as i64;
        let dict = match self.unpackers.get(&id) {
            Some(d) => d.clone(),
            None => {
                let bytes =
                    load(id).map_err(|e| Unreadable(format!("its dictionary {id}: {e}")))?;
                let d = DDict::try_create(&bytes)
                    .ok_or_else(|| Unreadable(format!("its dictionary {id} is damaged")))?;
                let d = Arc::new(d);
                self.unpackers.insert(id, d.clone());
                d
            }
        };
        let size = match zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n <= MAX_DOCUMENT => n as usize,
            _ => return Err(Unreadable("a frame of no stated size".into())),
        };
        let mut doc: Vec<u8> = Vec::with_capacity(size);
        self.dctx
            .decompress_using_ddict(&mut doc, frame, &dict)
            .map_err(|code| Unreadable(format!("zstd: {}", zstd_safe::get_error_name(code))))?;
        let split = doc
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| Unreadable("a document without its two parts".into()))?;
        let metadata = String::from_utf8_lossy(&doc[split + 1..]).into_owned();
        doc.truncate(split);
        let context = String::from_utf8(doc)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok((context, metadata))
    }
}

/// Makes the events of the store open on `conn` readable with SQL as they were before they
/// were packed: a temporary view `events` (which plain `events` in a query names, before the
/// table, which stays `main.events`) with each event's `context` and `metadata` as JSON text,
/// read with the dictionaries stored when this is called. For tests and tools reading a store
/// with SQL from Rust; `athena-ingest events` and `export` read any store.
pub fn readable_events(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let mut dicts: HashMap<i64, Vec<u8>> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT id, dict FROM event_dicts")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            let (id, dict) = row?;
            dicts.insert(id, dict);
        }
    }
    for (name, part) in [("athena_context", 0usize), ("athena_metadata", 1)] {
        let dicts = dicts.clone();
        let codec = std::sync::Mutex::new(Codec::default());
        conn.create_scalar_function(
            name,
            2,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let mut codec = codec.lock().unwrap_or_else(|p| p.into_inner());
                let load = |id: i64| {
                    dicts
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| "not stored".to_string())
                };
                let (c, m) = codec
                    .unpack_with(load, ctx.get_raw(0), ctx.get_raw(1))
                    .map_err(|e| rusqlite::Error::UserFunctionError(e.0.into()))?;
                Ok(if part == 0 { c } else { m })
            },
        )?;
    }
    let columns: Vec<String> = {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('events')")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let shown: Vec<String> = (columns.iter())
        .map(|c| match c.as_str() {
            "context" => "athena_context(context, metadata) AS context".to_string(),
            "metadata" => "athena_metadata(context, metadata) AS metadata".to_string(),
            other => other.to_string(),
        })
        .collect();
    conn.execute_batch(&format!(
        "CREATE TEMP VIEW IF NOT EXISTS events AS SELECT {} FROM main.events",
        shown.join(", ")
    ))
}

/// A source's packer, shared by the batches of a transaction.
#[derive(Clone)]
pub(super) struct PackerRef(pub(super) Arc<Packer>);

impl PackerRef {
    /// A zstd context packing with this dictionary, for one batch; `None` if zstd refuses
    /// one (the batch is then stored as text).
    pub(super) fn start(&self) -> Option<Packing> {
        let mut cctx = CCtx::try_create()?;
        // The blob names its dictionary; the frame need not say it again.
        cctx.set_parameter(CParameter::DictIdFlag(false)).ok()?;
        cctx.set_parameter(CParameter::ChecksumFlag(false)).ok()?;
        cctx.ref_cdict(&self.0.dict).ok()?;
        Some(Packing {
            cctx,
            packer: self.0.clone(),
        })
    }
}

/// Packs a batch's documents.
pub(super) struct Packing {
    // Declared first, dropped first: it refers to the dictionary `packer` holds.
    cctx: CCtx<'static>,
    packer: Arc<Packer>,
}

impl Packing {
    /// `context` and `metadata` packed: the blob for the `context` column; `None` if zstd
    /// fails (the event is then stored as text).
    pub(super) fn pack(&mut self, context: &str, metadata: &str) -> Option<Vec<u8>> {
        let mut doc = Vec::with_capacity(context.len() + 1 + metadata.len());
        doc.extend_from_slice(context.as_bytes());
        doc.push(0);
        doc.extend_from_slice(metadata.as_bytes());
        let mut out = Vec::with_capacity(16 + zstd_safe::compress_bound(doc.len()));
        out.push(FORMAT);
        put_varint(&mut out, self.packer.id as u64);
        let header = out.len();
        out.resize(out.capacity(), 0);
        let n = self.cctx.compress2(&mut out[header..], &doc).ok()?;
        out.truncate(header + n);
        Some(out)
    }
}

/// A dictionary trained on the `events` documents `docs` gives, or none when zstd cannot
/// make one of them.
pub(super) fn train<'d>(
    events: usize,
    docs: &impl Fn(usize) -> (&'d str, &'d str),
) -> Option<Vec<u8>> {
    let mut all = Vec::new();
    let mut sizes = Vec::with_capacity(events);
    for i in 0..events {
        let (context, metadata) = docs(i);
        let start = all.len();
        all.extend_from_slice(context.as_bytes());
        all.push(0);
        all.extend_from_slice(metadata.as_bytes());
        sizes.push(all.len() - start);
    }
    // A dictionary much larger than a tenth of what it learns from learns nothing more.
    let size = DICT_BYTES.min(all.len() / 10).max(1024);
    zstd::dict::from_continuous(&all, &sizes, size).ok()
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut n = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE event_dicts (id INTEGER PRIMARY KEY, source_id TEXT NOT NULL,
             dict BLOB NOT NULL, created_at INTEGER NOT NULL)",
        )
        .unwrap();
        conn
    }

    fn docs(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                (
                    format!(r#"{{"file":"/var/log/access.log","line":{i}}}"#),
                    format!(
                        r#"{{"method":"GET","path":"/p/{}","status":{},"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/{}"}}"#,
                        i % 97,
                        200 + (i % 3) * 100,
                        i % 5
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn a_large_batch_trains_a_dictionary_and_documents_read_back_whole_and_smaller() {
        let conn = store();
        let mut codec = Codec::default();
        let small = docs(10);
        fn doc(d: &[(String, String)], i: usize) -> (&str, &str) {
            (d[i].0.as_str(), d[i].1.as_str())
        }
        // Too few to learn from: none, and nothing stored.
        let none = codec.packer(&conn, "web", small.len(), |i| doc(&small, i));
        assert!(none.unwrap().is_none());
        let many = docs(TRAIN_MIN);
        let packer = codec
            .packer(&conn, "web", many.len(), |i| doc(&many, i))
            .unwrap()
            .expect("trained");
        let dicts: i64 = conn
            .query_row("SELECT count(*) FROM event_dicts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(dicts, 1);
        let (mut text, mut packed) = (0, 0);
        let mut packing = packer.start().unwrap();
        for (c, m) in &many {
            let blob = packing.pack(c, m).unwrap();
            text += c.len() + m.len();
            packed += blob.len();
            // Read back by a codec that has not met the dictionary: loaded from the table.
            let mut reader = Codec::default();
            let back = reader
                .unpack(&conn, ValueRef::Blob(&blob), ValueRef::Blob(&[]))
                .unwrap();
            assert_eq!((back.0.as_str(), back.1.as_str()), (c.as_str(), m.as_str()));
        }
        assert!(packed * 4 < text, "{packed} bytes packed of {text}");
        // Text is read as text.
        let back = codec
            .unpack(&conn, ValueRef::Text(b"{\"a\":1}"), ValueRef::Text(b"{}"))
            .unwrap();
        assert_eq!(back, ("{\"a\":1}".to_string(), "{}".to_string()));
        // The next batch of the source, small or not, packs with the same dictionary.
        let again = codec.packer(&conn, "web", 1, |i| doc(&small, i)).unwrap();
        assert!(again.is_some());
    }

    #[test]
    fn a_damaged_document_is_an_error_not_a_panic() {
        let conn = store();
        let mut codec = Codec::default();
        for bad in [
            &[][..],
            &[9, 1, 2][..],
            &[FORMAT, 0x80][..],
            &[FORMAT, 5, 1, 2, 3][..],
        ] {
            let read = codec.unpack(&conn, ValueRef::Blob(bad), ValueRef::Blob(&[]));
            assert!(read.is_err(), "{bad:?}");
        }
        // A damaged dictionary (zstd's dictionary magic, then garbage).
        let mut damaged = vec![0x37, 0xa4, 0x30, 0xec, 1, 0, 0, 0];
        damaged.extend(std::iter::repeat_n(0xff, 200));
        conn.execute(
            "INSERT INTO event_dicts (id, source_id, dict, created_at) VALUES (7, 'web', ?1, 0)",
            [&damaged],
        )
        .unwrap();
        let frame = zstd::bulk::compress(b"{}", 1).unwrap();
        let blob: Vec<u8> = [FORMAT, 7].into_iter().chain(frame).collect();
        let read = codec.unpack(&conn, ValueRef::Blob(&blob), ValueRef::Blob(&[]));
        assert!(read.is_err());
        // A frame stating a size (2^40 bytes) no document has: refused, not allocated.
        let huge = [0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0];
        let blob: Vec<u8> = [FORMAT, 7].into_iter().chain(huge).collect();
        let read = codec.unpack(&conn, ValueRef::Blob(&blob), ValueRef::Blob(&[]));
        assert!(read.is_err());
    }

    #[test]
    fn varints_round_trip() {
        for n in [0u64, 1, 127, 128, 300, 1 << 40, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            out.push(42);
            assert_eq!(get_varint(&out), Some((n, &[42][..])));
        }
    }
}
