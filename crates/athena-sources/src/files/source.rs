//! The `files` source: walks the tree, compares it with the per-file state in the store, and
//! reports what was created, modified or deleted since the last sync.
//!
//! A file whose size and modification time are as stored is not opened. Otherwise its contents
//! are hashed (on one thread per core): an unchanged hash means the file was only touched, which
//! updates the stored time and yields no event. Each batch carries the events and the state
//! changes they describe, so they are stored together.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use athena_core::{
    Batch, BatchStream, ConfigError, Cursor, DeadLetter, Event, EventSource, Progress,
    SourceConfig, SourceError, SourceInfo, SourceState, SourceStats, StateChange,
};
use chrono::{DateTime, SecondsFormat, Utc};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::{Override, OverrideBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::FilesConfig;
use super::language;
use super::scan::{scan, Found, ScanOptions};
use super::state::FileState;
use crate::reader::{spawn_reader, BatchSender};

/// Stored state per relative path, hashed fast (the keys are file names, not attacker input
/// worth a keyed hash).
type StateMap = HashMap<Vec<u8>, FileState, foldhash::fast::FixedState>;

/// Dead letters and warnings name at most this many unreadable paths per sync.
const MAX_REPORTED_PROBLEMS: usize = 1_000;

/// The cursor: whether the first full scan has been stored. The per-file state is in the store.
///
/// ```json
/// {"version":1,"complete":true}
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FilesCursor {
    version: u32,
    /// False until the first sync has stored every file; until then, files not yet stored are
    /// "existing" files (`emit_existing`), not new ones.
    complete: bool,
}

const VERSION: u32 = 1;

/// Reports changes under a directory as `file_created`, `file_modified` and `file_deleted`.
pub struct FilesSource {
    info: SourceInfo,
    config: FilesConfig,
    root: PathBuf,
    include: Option<Gitignore>,
    store_files: Vec<PathBuf>,
    state: StateMap,
    bytes: Arc<AtomicU64>,
}

impl FilesSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: FilesConfig = config.parse()?;
        if c.path.is_empty() {
            return Err(config.error(Some("path"), "needs a directory"));
        }
        if !(1..=1_000_000).contains(&c.batch_size) {
            return Err(config.error(Some("batch_size"), "must be between 1 and 1000000"));
        }
        let root = config.resolve_path(Path::new(&c.path));
        let include = include_matcher(&root, &c.include)
            .map_err(|e| config.error(Some("include"), format!("bad glob: {e}")))?;
        exclude_overrides(&root, &c.exclude)
            .map_err(|e| config.error(Some("exclude"), format!("bad glob: {e}")))?;
        // The store and the files SQLite keeps beside it change with every sync.
        let store_files = config
            .store_path()
            .map(|db| {
                ["", "-wal", "-shm", "-journal", ".lock"]
                    .iter()
                    .map(|suffix| {
                        let mut p = db.as_os_str().to_owned();
                        p.push(suffix);
                        PathBuf::from(p)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(FilesSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "files".into(),
                name: format!("files {}", c.path),
            },
            config: c,
            root,
            include,
            store_files,
            state: StateMap::default(),
            bytes: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// `include` globs as one matcher; `None` when every file is included.
fn include_matcher(root: &Path, globs: &[String]) -> Result<Option<Gitignore>, ignore::Error> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GitignoreBuilder::new(root);
    for g in globs {
        b.add_line(None, g)?;
    }
    b.build().map(Some)
}

/// `exclude` globs as walker overrides, so an excluded directory is not even entered.
fn exclude_overrides(root: &Path, globs: &[String]) -> Result<Override, ignore::Error> {
    let mut b = OverrideBuilder::new(root);
    for g in globs {
        b.add(&format!("!{g}"))?;
    }
    b.build()
}

#[async_trait]
impl EventSource for FilesSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    async fn validate(&mut self) -> Result<(), SourceError> {
        match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(SourceError::path(
                &self.info.id,
                &self.root,
                "not a directory",
            )),
            Err(e) => Err(SourceError::path(&self.info.id, &self.root, e.to_string())),
        }
    }

    fn restore_state(&mut self, state: SourceState) {
        let mut map = StateMap::default();
        map.reserve(state.len());
        map.extend(
            state
                .into_iter()
                .filter_map(|(k, v)| FileState::decode(&v).map(|s| (k, s))),
        );
        self.state = map;
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let job = Job {
            source_id: self.info.id.clone(),
            config: self.config.clone(),
            root: self.root.clone(),
            include: self.include.clone(),
            store_files: self.store_files.clone(),
            state: std::mem::take(&mut self.state),
            bytes: self.bytes.clone(),
        };
        spawn_reader(
            &self.info.id,
            format!("files-{}", self.info.id),
            move |tx| job.run(cursor, tx),
        )
        .0
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            ..SourceStats::default()
        }
    }
}

struct Job {
    source_id: String,
    config: FilesConfig,
    root: PathBuf,
    include: Option<Gitignore>,
    store_files: Vec<PathBuf>,
    state: StateMap,
    bytes: Arc<AtomicU64>,
}

/// A file whose size or time differs from the store, or that the store does not know.
struct Changed {
    found: Found,
    old: Option<FileState>,
    /// The path's generation (deletions so far).
    generation: u32,
}

/// The consumer went away: stop quietly.
struct Stopped;

/// What identifies a file's contents for pairing a deletion with a creation (a rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ContentKey {
    Hash([u8; 32]),
    SizeTime(u64, i64),
}

fn content_key(st: &FileState) -> Option<ContentKey> {
    // Empty files all look alike: pairing them would invent renames.
    if st.size == 0 {
        return None;
    }
    Some(match st.hash {
        Some(h) => ContentKey::Hash(h),
        None => ContentKey::SizeTime(st.size, st.mtime_ns),
    })
}

impl Job {
    fn run(mut self, cursor: Option<Cursor>, tx: &BatchSender) -> Result<(), SourceError> {
        let saved: FilesCursor = Cursor::decode_saved(cursor, &self.source_id, u64::from(VERSION))?
            .unwrap_or(FilesCursor {
                version: VERSION,
                complete: false,
            });
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| SourceError::path(&self.source_id, &self.root, e.to_string()))?;
        let overrides = exclude_overrides(&root, &self.config.exclude)
            .map_err(|e| SourceError::failed(&self.source_id, format!("exclude: {e}")))?;
        let include = match &self.include {
            // Matchers are relative to the root they were built for: rebuild for the real one.
            Some(_) => include_matcher(&root, &self.config.include)
                .map_err(|e| SourceError::failed(&self.source_id, format!("include: {e}")))?,
            None => None,
        };
        let skip = self
            .store_files
            .iter()
            .filter_map(|p| canonical_file(p))
            .collect();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let scan_started_ns = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let mut scanned = scan(
            &root,
            &ScanOptions {
                respect_gitignore: self.config.respect_gitignore,
                overrides,
                skip,
                threads,
            },
        );
        if let Some(include) = &include {
            scanned.files.retain(|f| {
                include
                    .matched_path_or_any_parents(
                        Path::new(std::ffi::OsStr::from_bytes(&f.rel)),
                        false,
                    )
                    .is_ignore()
            });
        }

        // What changed, and what is gone. Stored files under a path the walk could not read are
        // not gone: they are kept as they were.
        let mut changed = Vec::new();
        for found in scanned.files {
            match self.state.remove(&found.rel) {
                Some(old)
                    if !old.gone && old.size == found.size && old.mtime_ns == found.mtime_ns => {}
                // Put back where a file was deleted: new, in the path's next generation.
                Some(old) if old.gone => changed.push(Changed {
                    found,
                    old: None,
                    generation: old.generation,
                }),
                Some(old) => changed.push(Changed {
                    found,
                    generation: old.generation,
                    old: Some(old),
                }),
                None => changed.push(Changed {
                    found,
                    old: None,
                    generation: 0,
                }),
            }
        }
        let unreadable: Vec<&[u8]> = scanned.problems.iter().map(|p| p.rel.as_slice()).collect();
        let mut deleted = Vec::new();
        // Files still there but no longer walked (newly ignored or excluded) leave the state
        // without an event: nothing happened to them.
        let mut unwatched = Vec::new();
        for (rel, st) in std::mem::take(&mut self.state) {
            // Tombstones stay as they are; so do files under a path the walk could not read.
            if st.gone || unreadable.iter().any(|p| is_under(&rel, p)) {
                continue;
            }
            let path = root.join(std::ffi::OsStr::from_bytes(&rel));
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                unwatched.push(rel);
            } else {
                deleted.push((rel, st));
            }
        }
        deleted.sort_by(|a, b| a.0.cmp(&b.0));
        unwatched.sort();

        let initial = !saved.complete;
        if !initial
            && changed.is_empty()
            && deleted.is_empty()
            && unwatched.is_empty()
            && scanned.problems.is_empty()
        {
            return Ok(()); // nothing to store, not even the cursor
        }
        let mut out = Out {
            source_id: &self.source_id,
            tx,
            batch_size: self.config.batch_size,
            complete: saved.complete,
            events: Vec::new(),
            state: Vec::new(),
            dead: Vec::new(),
            done: 0,
            total: (changed.len() + deleted.len()) as u64,
            reported: 0,
        };
        let root_text = root.to_string_lossy().into_owned();
        if out.problems(&root, &scanned.problems).is_err() {
            return Ok(());
        }
        out.state.extend(
            unwatched
                .into_iter()
                .map(|key| StateChange { key, value: None }),
        );

        let mut gone_by_content: HashMap<ContentKey, usize> = HashMap::new();
        for (i, (_, st)) in deleted.iter().enumerate() {
            if let Some(key) = content_key(st) {
                gone_by_content.entry(key).or_insert(i);
            }
        }
        // Deletions already stored beside the creation they pair with (a rename).
        let mut paired = vec![false; deleted.len()];
        let now = Utc::now();

        for chunk in changed.chunks(self.config.batch_size.clamp(64, 4096)) {
            let hashes = if self.config.hash {
                hash_all(&root, chunk, threads, &self.bytes)
            } else {
                chunk.iter().map(|_| Ok(None)).collect()
            };
            for (c, hash) in chunk.iter().zip(hashes) {
                let hash = match hash {
                    Ok(h) => h,
                    // Gone since the walk: the next sync sees it as deleted.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let problem = super::scan::Problem {
                            rel: c.found.rel.clone(),
                            message: format!("cannot read: {e}"),
                        };
                        if out.problems(&root, &[problem]).is_err() {
                            return Ok(());
                        }
                        continue;
                    }
                };
                // Size and time of the contents hashed, not of the earlier stat.
                let (size, mtime, unsettled) = match &hash {
                    Some(h) => (h.size, h.mtime_ns, h.unsettled),
                    None => (c.found.size, c.found.mtime_ns, false),
                };
                let hash = hash.map(|h| h.hash);
                let now_state = FileState {
                    size,
                    mtime_ns: mtime,
                    hash,
                    generation: c.generation,
                    gone: false,
                };
                // A file changed while read, or within one timestamp tick of the scan (a
                // same-size write in the same tick would not move its time): store no time,
                // so the next sync hashes it again; an unchanged hash then yields nothing.
                let racy = hash.is_some()
                    && (unsettled || mtime >= scan_started_ns.saturating_sub(tick_ns(mtime)));
                let stored = FileState {
                    mtime_ns: if racy { 0 } else { mtime },
                    ..now_state
                };
                let rel = String::from_utf8_lossy(&c.found.rel);
                let mut rename = None;
                let event = match &c.old {
                    // Touched, not changed.
                    Some(old) if hash.is_some() && old.hash == hash => None,
                    Some(old) => {
                        let mut e =
                            file_event("file_modified", &c.found.rel, &root_text, &now_state, None);
                        e.metadata.insert("previous_size".into(), json!(old.size));
                        Some(e)
                    }
                    None if initial && !self.config.emit_existing => None,
                    None if initial => Some(file_event(
                        "file_modified",
                        &c.found.rel,
                        &root_text,
                        &now_state,
                        None,
                    )),
                    None => {
                        let mut e =
                            file_event("file_created", &c.found.rel, &root_text, &now_state, None);
                        let from = content_key(&now_state).and_then(|k| gone_by_content.remove(&k));
                        if let Some(i) = from {
                            let old_rel = String::from_utf8_lossy(&deleted[i].0).into_owned();
                            e.metadata.insert("renamed_from".into(), json!(old_rel));
                            rename = Some((i, rel.to_string()));
                        }
                        Some(e)
                    }
                };
                if let Some(e) = event {
                    out.events.push(e);
                }
                out.state.push(StateChange {
                    key: c.found.rel.clone(),
                    value: Some(stored.encode()),
                });
                // Both halves of a rename go in the same batch.
                if let Some((i, to)) = rename {
                    let (rel_bytes, st) = &deleted[i];
                    out.deletion(rel_bytes, st, &root_text, now, Some(to));
                    paired[i] = true;
                    out.done += 1;
                }
                out.done += 1;
                if out.full() && out.flush().is_err() {
                    return Ok(());
                }
            }
        }

        for ((rel_bytes, st), done) in deleted.iter().zip(paired) {
            if done {
                continue;
            }
            out.deletion(rel_bytes, st, &root_text, now, None);
            out.done += 1;
            if out.full() && out.flush().is_err() {
                return Ok(());
            }
        }
        // The last batch: what is left, or the cursor saying the first scan is complete.
        if !out.events.is_empty() || !out.state.is_empty() || !out.dead.is_empty() || initial {
            out.complete = true;
            let _ = out.flush();
        }
        Ok(())
    }
}

/// The batch being filled, and where it goes.
struct Out<'a> {
    source_id: &'a str,
    tx: &'a BatchSender,
    batch_size: usize,
    complete: bool,
    events: Vec<Event>,
    state: Vec<StateChange>,
    dead: Vec<DeadLetter>,
    done: u64,
    total: u64,
    /// Problems reported this sync.
    reported: usize,
}

impl Out<'_> {
    /// A `file_deleted` event and the tombstone that replaces the file's state: the path's
    /// next file gets new ids, even with this one's time and contents.
    fn deletion(
        &mut self,
        rel_bytes: &[u8],
        st: &FileState,
        root: &str,
        now: DateTime<Utc>,
        renamed_to: Option<String>,
    ) {
        let mut e = file_event("file_deleted", rel_bytes, root, st, Some(now));
        if let Some(to) = renamed_to {
            e.metadata.insert("renamed_to".into(), json!(to));
        }
        self.events.push(e);
        let tombstone = FileState {
            gone: true,
            generation: st.generation.saturating_add(1),
            ..*st
        };
        self.state.push(StateChange {
            key: rel_bytes.to_vec(),
            value: Some(tombstone.encode()),
        });
    }

    fn full(&self) -> bool {
        self.state.len() + self.dead.len() >= self.batch_size
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        let mut batch = Batch::new(
            std::mem::take(&mut self.events),
            Cursor::encode(&FilesCursor {
                version: VERSION,
                complete: self.complete,
            }),
        );
        batch.state = std::mem::take(&mut self.state);
        batch.dead_letters = std::mem::take(&mut self.dead);
        batch.progress = Some(Progress {
            done: self.done,
            total: Some(self.total),
        });
        self.tx.blocking_send(Ok(batch)).map_err(|_| Stopped)
    }

    /// Unreadable paths: named in a warning and in the dead-letter table, never fatal.
    fn problems(&mut self, root: &Path, problems: &[super::scan::Problem]) -> Result<(), Stopped> {
        for p in problems {
            let path = if p.rel.is_empty() {
                root.to_path_buf()
            } else {
                root.join(std::ffi::OsStr::from_bytes(&p.rel))
            };
            tracing::warn!(source = %self.source_id, path = %path.display(), "skipped: {}", p.message);
            self.reported += 1;
            if self.reported <= MAX_REPORTED_PROBLEMS {
                self.dead.push(DeadLetter {
                    origin: path.display().to_string(),
                    reason: p.message.clone(),
                    raw: String::new(),
                });
            }
            if self.full() {
                self.flush()?;
            }
        }
        Ok(())
    }
}

/// Whether `rel` is `dir` or inside it (an empty `dir` is the root: everything).
fn is_under(rel: &[u8], dir: &[u8]) -> bool {
    dir.is_empty() || rel == dir || (rel.starts_with(dir) && rel.get(dir.len()) == Some(&b'/'))
}

/// A file's canonical path, when its directory exists (the file itself may not yet).
fn canonical_file(path: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(path.parent()?).ok()?;
    Some(dir.join(path.file_name()?))
}

/// The contents' hashes of `chunk`, in order, on up to `threads` threads.
fn hash_all(
    root: &Path,
    chunk: &[Changed],
    threads: usize,
    bytes: &AtomicU64,
) -> Vec<std::io::Result<Option<Hashed>>> {
    let per_thread = chunk.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per_thread)
            .map(|part| {
                let handle = s.spawn(move || {
                    let mut buf = vec![0u8; 256 * 1024];
                    part.iter()
                        .map(|c| {
                            let path = root.join(std::ffi::OsStr::from_bytes(&c.found.rel));
                            hash_file(&path, &mut buf, bytes).map(Some)
                        })
                        .collect::<Vec<_>>()
                });
                (part.len(), handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..len)
                        .map(|_| Err(std::io::Error::other("hashing thread panicked")))
                        .collect()
                })
            })
            .collect()
    })
}

/// How coarse a file system's clock may be, judged from one of its times: whole seconds mean a
/// coarse one (FAT keeps two), anything finer a kernel tick of a few milliseconds.
fn tick_ns(mtime_ns: i64) -> i64 {
    if mtime_ns % 1_000_000_000 == 0 {
        2_000_000_000
    } else {
        50_000_000
    }
}

/// A file's contents hash, with the size and modification time of the contents hashed.
#[derive(Debug, Clone, Copy)]
struct Hashed {
    hash: [u8; 32],
    size: u64,
    mtime_ns: i64,
    /// The file kept changing while it was read: its state must be checked again next sync.
    unsettled: bool,
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    m.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(m.mtime_nsec())
}

/// Hashes `path`, taking size and time from the open file before and after reading: if they
/// moved (the file was being written), it is read again, up to three times.
fn hash_file(path: &Path, buf: &mut [u8], bytes: &AtomicU64) -> std::io::Result<Hashed> {
    let mut last = None;
    for _ in 0..3 {
        let mut file = File::open(path)?;
        let before = file.metadata()?;
        let mut hasher = blake3::Hasher::new();
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        let after = file.metadata()?;
        let hashed = Hashed {
            hash: *hasher.finalize().as_bytes(),
            size: after.len(),
            mtime_ns: mtime_ns(&after),
            unsettled: false,
        };
        if before.len() == after.len() && mtime_ns(&before) == mtime_ns(&after) {
            return Ok(hashed);
        }
        last = Some(hashed);
    }
    Ok(Hashed {
        unsettled: true,
        ..last.expect("three reads")
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn time_of(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
}

/// The path as an event id names it: the path itself, or for a name that is not UTF-8 (shown
/// with U+FFFD for its bad bytes) that text and a hash of the raw bytes, so two names that
/// differ only in their bad bytes keep apart.
fn id_path(rel: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(rel) {
        Ok(text) => text.into(),
        Err(_) => {
            let raw = blake3::hash(rel);
            format!(
                "{}~{}",
                String::from_utf8_lossy(rel),
                hex(&raw.as_bytes()[..8])
            )
            .into()
        }
    }
}

/// An event about `rel`. Its id names the path and the version of the file it describes (time
/// and hash, or size), so the same change read twice has the same id.
fn file_event(
    kind: &str,
    rel_bytes: &[u8],
    root: &str,
    st: &FileState,
    detected_at: Option<DateTime<Utc>>,
) -> Event {
    let rel = &*String::from_utf8_lossy(rel_bytes);
    let version = match &st.hash {
        Some(h) => hex(&h[..8]),
        None => st.size.to_string(),
    };
    let verb = kind.strip_prefix("file_").unwrap_or(kind);
    // The path's generation (how many times it was deleted before) tells a file put back apart
    // from the one that was there; the first generation keeps the plain form.
    let named = id_path(rel_bytes);
    let path = match st.generation {
        0 => named.into_owned(),
        g => format!("{named}#{g}"),
    };
    let (id, at) = match detected_at {
        Some(at) => (format!("{path}@{}:{version}:deleted", st.mtime_ns), at),
        None => (
            format!("{path}@{}:{version}", st.mtime_ns),
            time_of(st.mtime_ns),
        ),
    };
    let mut e = Event::new(id, kind, at, format!("{verb} {rel}"));
    let mut context = Map::new();
    context.insert("root".into(), json!(root));
    context.insert("path".into(), json!(rel));
    e.context = context;
    let mut m = Map::new();
    m.insert("size".into(), json!(st.size));
    m.insert(
        "mtime".into(),
        json!(time_of(st.mtime_ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    m.insert(
        "hash".into(),
        st.hash
            .map_or(Value::Null, |h| json!(format!("blake3:{}", hex(&h)))),
    );
    m.insert(
        "language".into(),
        language::guess(Path::new(rel)).map_or(Value::Null, |l| json!(l)),
    );
    if rel.contains('\u{FFFD}') {
        m.insert("path_lossy".into(), json!(true));
    }
    e.metadata = m;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_a_directory_means_inside_it_not_a_name_prefix() {
        assert!(is_under(b"a/b.rs", b"a"));
        assert!(is_under(b"a", b"a"));
        assert!(!is_under(b"ab/c", b"a"));
        assert!(is_under(b"x", b""));
    }

    /// A 3-byte file, hashed, never deleted.
    fn hashed() -> FileState {
        FileState {
            size: 3,
            mtime_ns: 1_700_000_000_123_456_789,
            hash: Some([0xab; 32]),
            generation: 0,
            gone: false,
        }
    }

    #[test]
    fn ids_name_the_version_and_deletions_differ() {
        let st = hashed();
        let m = file_event("file_modified", b"src/a.rs", "/r", &st, None);
        assert_eq!(m.id, "src/a.rs@1700000000123456789:abababababababab");
        assert_eq!(m.title, "modified src/a.rs");
        assert_eq!(m.metadata["language"], "Rust");
        assert_eq!(m.metadata["mtime"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(m.occurred_at.timestamp_subsec_nanos(), 123_456_789);
        let d = file_event("file_deleted", b"src/a.rs", "/r", &st, Some(Utc::now()));
        assert_ne!(d.id, m.id);
        let unhashed = FileState { hash: None, ..st };
        let u = file_event("file_created", b"x", "/r", &unhashed, None);
        assert_eq!(u.id, "x@1700000000123456789:3");
        assert_eq!(u.metadata["hash"], Value::Null);
        let again = FileState {
            generation: 2,
            ..st
        };
        let g = file_event("file_created", b"src/a.rs", "/r", &again, None);
        assert_eq!(g.id, "src/a.rs#2@1700000000123456789:abababababababab");
    }

    #[test]
    fn names_that_differ_only_in_bad_bytes_keep_apart() {
        let st = hashed();
        let a = file_event("file_modified", b"bad\xff.txt", "/r", &st, None);
        let b = file_event("file_modified", b"bad\xfe.txt", "/r", &st, None);
        // Shown the same, lossily, and flagged; named apart.
        assert_eq!(a.context["path"], "bad\u{FFFD}.txt");
        assert_eq!(a.context["path"], b.context["path"]);
        assert_eq!(a.metadata["path_lossy"], true);
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("bad\u{FFFD}.txt~"), "{}", a.id);
        // A UTF-8 name keeps its plain id.
        let c = file_event("file_modified", "é.txt".as_bytes(), "/r", &st, None);
        assert!(c.id.starts_with("é.txt@"), "{}", c.id);
    }
}
