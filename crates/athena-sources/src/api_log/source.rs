//! The `api_log` source: finds the files, recognises each by its first line, and reads what is
//! new since the stored offset, in batches whose cursor moves with their lines.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::reader::{spawn_reader, BatchSender};
use async_trait::async_trait;
use athena_core::{
    Batch, BatchStream, ConfigError, Cursor, DeadLetter, Event, EventJson, EventSource, Progress,
    SourceConfig, SourceError, SourceInfo,
};

use super::config::{ApiLogConfig, LogFormat, StartAt};
use super::cursor::{FileState, LogCursor, VERSION};
use super::parse::parse_clf;
use super::record::{
    field_keys, parse_json, parse_regex, request_event, JsonFields, LineAt, REGEX_GROUPS,
};

/// Bytes of a file's first line that make its fingerprint.
const FINGERPRINT_BYTES: usize = 1024;
/// Raw text kept in a dead letter.
const DEAD_LETTER_RAW_BYTES: usize = 2048;
/// Read size.
const CHUNK: usize = 1 << 20;

/// Tails HTTP request logs as `http_request` events.
pub struct ApiLogSource {
    info: SourceInfo,
    config: ApiLogConfig,
    patterns: Vec<String>,
    fields: Arc<JsonFields>,
    regex: Option<regex::Regex>,
}

impl ApiLogSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: ApiLogConfig = config.parse()?;
        if c.paths.is_empty() {
            return Err(config.error(Some("paths"), "needs at least one file or pattern"));
        }
        if !(1..=1_000_000).contains(&c.batch_size) {
            return Err(config.error(Some("batch_size"), "must be between 1 and 1000000"));
        }
        if !(64..=64 << 20).contains(&c.max_line_bytes) {
            return Err(config.error(Some("max_line_bytes"), "must be between 64 and 64 MiB"));
        }
        let known: Vec<&str> = field_keys().collect();
        if let Some(bad) = c.fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(config.error(
                Some(&format!("fields.{bad}")),
                format!("unknown field name (known: {})", known.join(", ")),
            ));
        }
        if !c.fields.is_empty() && c.format != LogFormat::Jsonl {
            return Err(config.error(Some("fields"), "only applies to format = \"jsonl\""));
        }
        let regex = match (&c.pattern, c.format) {
            (Some(p), LogFormat::Regex) => {
                let re = regex::Regex::new(p).map_err(|e| {
                    config.error(Some("pattern"), format!("not a valid regex: {e}"))
                })?;
                let names: Vec<&str> = re.capture_names().flatten().collect();
                for required in ["time", "status"] {
                    if !names.contains(&required) {
                        return Err(config.error(
                            Some("pattern"),
                            format!("needs a named group `{required}`, like (?P<{required}>…)"),
                        ));
                    }
                }
                if let Some(bad) = names.iter().find(|n| !REGEX_GROUPS.contains(n)) {
                    return Err(config.error(
                        Some("pattern"),
                        format!("unknown group `{bad}` (known: {})", REGEX_GROUPS.join(", ")),
                    ));
                }
                Some(re)
            }
            (None, LogFormat::Regex) => {
                return Err(config.error(Some("pattern"), "format = \"regex\" needs a pattern"))
            }
            (Some(_), _) => {
                return Err(config.error(Some("pattern"), "only applies to format = \"regex\""))
            }
            (None, _) => None,
        };
        let patterns = c
            .paths
            .iter()
            .map(|p| config.resolve_path(Path::new(p)).display().to_string())
            .collect();
        Ok(ApiLogSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "api_log".into(),
                name: format!("api_log {}", c.paths.join(", ")),
            },
            fields: Arc::new(JsonFields::new(&c.fields)),
            config: c,
            patterns,
            regex,
        })
    }
}

#[async_trait]
impl EventSource for ApiLogSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    async fn validate(&mut self) -> Result<(), SourceError> {
        for pattern in &self.patterns {
            glob::Pattern::new(pattern).map_err(|e| {
                SourceError::failed(&self.info.id, format!("bad pattern {pattern:?}: {e}"))
            })?;
            // A log that does not exist yet is fine; a directory that does not exist is not.
            let dir = Path::new(pattern)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let literal_dir = !dir.to_string_lossy().contains(['*', '?', '[']);
            if literal_dir && !dir.as_os_str().is_empty() && !dir.is_dir() {
                return Err(SourceError::path(
                    &self.info.id,
                    dir,
                    "directory does not exist",
                ));
            }
        }
        Ok(())
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let job = Job {
            source_id: self.info.id.clone(),
            patterns: self.patterns.clone(),
            config: self.config.clone(),
            fields: self.fields.clone(),
            regex: self.regex.clone(),
        };
        // Nothing to stop in `close()`: a dropped stream ends the thread at its next batch.
        spawn_reader(
            &self.info.id,
            format!("api_log-{}", self.info.id),
            move |tx| job.run(cursor, tx),
        )
        .0
    }
}

struct Job {
    source_id: String,
    patterns: Vec<String>,
    config: ApiLogConfig,
    fields: Arc<JsonFields>,
    regex: Option<regex::Regex>,
}

/// A file found this sync.
struct Found {
    path: PathBuf,
    fingerprint: String,
    len: u64,
    /// Modification time (seconds, nanoseconds): oldest is read first.
    mtime: (i64, i64),
    ino: u64,
    gz: bool,
}

/// The consumer went away: stop quietly.
struct Stopped;

impl Job {
    fn err(&self, path: &Path, message: impl Into<String>) -> SourceError {
        SourceError::path(&self.source_id, path, message)
    }

    fn run(&self, cursor: Option<Cursor>, tx: &BatchSender) -> Result<(), SourceError> {
        let first_sync = cursor.is_none();
        let saved: LogCursor = Cursor::decode_saved(cursor, &self.source_id, u64::from(VERSION))?
            .unwrap_or(LogCursor {
                version: VERSION,
                ..LogCursor::default()
            });
        let found = self.discover(&saved)?;
        let total: u64 = found.iter().map(|f| f.len).sum();
        let mut reader = Reader {
            job: self,
            tx,
            state: saved.files.clone(),
            events: Vec::new(),
            json: Vec::new(),
            dead: Vec::new(),
            done_bytes: 0,
            total,
            changed: false,
        };
        for f in &found {
            let prev = saved.files.get(&f.fingerprint).cloned();
            let mut st = match prev {
                Some(mut st) => {
                    if !f.gz && f.len < st.offset {
                        // Truncated in place (copytruncate): the content is new.
                        st.offset = 0;
                        st.line = 0;
                        st.generation += 1;
                    }
                    st
                }
                None => {
                    let at_end = self.config.start_at == StartAt::End && first_sync && !f.gz;
                    FileState {
                        path: String::new(),
                        offset: if at_end { f.len } else { 0 },
                        line: if at_end {
                            count_lines(&f.path).map_err(|e| self.err(&f.path, e))?
                        } else {
                            0
                        },
                        ino: f.ino,
                        generation: 0,
                    }
                }
            };
            let path_text = f.path.display().to_string();
            if st.path != path_text || st.ino != f.ino {
                st.path = path_text;
                st.ino = f.ino;
                reader.changed = true;
            }
            reader.state.insert(f.fingerprint.clone(), st);
            if reader.read_file(f).is_err() {
                return Ok(());
            }
        }
        // Files gone since the last sync are dropped from the cursor.
        let seen: HashSet<&String> = found.iter().map(|f| &f.fingerprint).collect();
        let before = reader.state.len();
        reader.state.retain(|fp, _| seen.contains(fp));
        reader.changed |= reader.state.len() != before;
        if reader.changed || !reader.events.is_empty() || !reader.dead.is_empty() {
            let _ = reader.flush();
        }
        Ok(())
    }

    /// The files to read: what the patterns match, plus stored files renamed out of them (found
    /// by inode beside where they were), oldest first so a rotated file is finished first.
    fn discover(&self, saved: &LogCursor) -> Result<Vec<Found>, SourceError> {
        let mut paths: Vec<PathBuf> = Vec::new();
        for pattern in &self.patterns {
            let matches = glob::glob(pattern).map_err(|e| {
                SourceError::failed(&self.source_id, format!("bad pattern {pattern:?}: {e}"))
            })?;
            for m in matches.flatten() {
                if m.is_file() {
                    paths.push(m);
                }
            }
        }
        let inodes: HashSet<u64> = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.ino()))
            .collect();
        // Paths found only by inode, with the fingerprint they must still have.
        let mut by_inode: Vec<(PathBuf, &String)> = Vec::new();
        for (stored_fp, st) in &saved.files {
            if st.ino == 0 || inodes.contains(&st.ino) {
                continue;
            }
            let Some(dir) = Path::new(&st.path).parent() else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.ino() == st.ino)
                {
                    by_inode.push((entry.path(), stored_fp));
                }
            }
        }
        paths.sort();
        paths.dedup();
        let expected: std::collections::HashMap<PathBuf, &String> = by_inode
            .into_iter()
            .filter(|(p, _)| paths.binary_search(p).is_err())
            .collect();
        paths.extend(expected.keys().cloned());
        let mut found = Vec::new();
        let mut fingerprints = HashSet::new();
        for path in paths {
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                // Gone between listing and reading (a rotation in progress): next sync.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.err(&path, e.to_string())),
            };
            let gz = path.extension().is_some_and(|e| e == "gz");
            let Some(fingerprint) = fingerprint(&path, gz).map_err(|e| self.err(&path, e))? else {
                continue; // no complete first line yet
            };
            if expected.get(&path).is_some_and(|fp| **fp != fingerprint) {
                // Outside the configured paths and not the file we stored: an inode reused.
                continue;
            }
            found.push(Found {
                path,
                fingerprint,
                len: meta.len(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ino: meta.ino(),
                gz,
            });
        }
        // The same content twice (a rotated file and its .gz during compression): read it once,
        // preferring the plain file.
        found.sort_by(|a, b| (a.gz, &a.path).cmp(&(b.gz, &b.path)));
        found.retain(|f| fingerprints.insert(f.fingerprint.clone()));
        found.sort_by(|a, b| (a.mtime, &a.path).cmp(&(b.mtime, &b.path)));
        Ok(found)
    }
}

/// BLAKE3 of the first line (at most [`FINGERPRINT_BYTES`]), or `None` while the file has no
/// complete first line. For `.gz` files it is the decompressed content's first line, so a
/// compressed rotation is recognised as the file it was.
fn fingerprint(path: &Path, gz: bool) -> Result<Option<String>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    let mut buf = [0u8; FINGERPRINT_BYTES];
    while head.len() < FINGERPRINT_BYTES {
        let n = reader
            .read(&mut buf[..FINGERPRINT_BYTES - head.len()])
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = memchr::memchr(b'\n', &head) {
            head.truncate(i + 1);
            return Ok(Some(blake3::hash(&head).to_hex()[..32].to_string()));
        }
    }
    if head.len() >= FINGERPRINT_BYTES {
        return Ok(Some(blake3::hash(&head).to_hex()[..32].to_string()));
    }
    Ok(None)
}

fn count_lines(path: &Path) -> Result<u64, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0u64;
    loop {
        let read = file.read(&mut buf).map_err(|e| e.to_string())?;
        if read == 0 {
            return Ok(n);
        }
        n += memchr::memchr_iter(b'\n', &buf[..read]).count() as u64;
    }
}

/// Reads files and sends batches.
struct Reader<'a> {
    job: &'a Job,
    tx: &'a BatchSender,
    /// Every known file's state: read ones up to date, the rest as saved.
    state: BTreeMap<String, FileState>,
    events: Vec<Event>,
    /// Each event's context and metadata, written by [`request_event`].
    json: Vec<EventJson>,
    dead: Vec<DeadLetter>,
    done_bytes: u64,
    total: u64,
    changed: bool,
}

impl Reader<'_> {
    fn flush(&mut self) -> Result<(), Stopped> {
        let cursor = Cursor::encode(&LogCursor {
            version: VERSION,
            files: self.state.clone(),
        });
        let room = self.job.config.batch_size.min(8192);
        let mut batch = Batch::new(
            std::mem::replace(&mut self.events, Vec::with_capacity(room)),
            cursor,
        );
        batch.json = std::mem::replace(&mut self.json, Vec::with_capacity(room));
        batch.dead_letters = std::mem::take(&mut self.dead);
        batch.progress = Some(Progress {
            done: self.done_bytes,
            total: Some(self.total),
        });
        self.changed = false;
        self.tx.blocking_send(Ok(batch)).map_err(|_| Stopped)
    }

    /// Reads `f` from its stored offset to its last complete line (to its end for `.gz`).
    fn read_file(&mut self, f: &Found) -> Result<(), Stopped> {
        let st = self.state[&f.fingerprint].clone();
        let path_text = f.path.display().to_string();
        let opened = File::open(&f.path).map_err(|e| e.to_string());
        let mut input: Box<dyn Read> = match opened {
            Ok(file) if f.gz => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file))),
            Ok(file) => {
                let mut file = file;
                use std::io::Seek;
                if let Err(e) = file.seek(std::io::SeekFrom::Start(st.offset)) {
                    let _ = self
                        .tx
                        .blocking_send(Err(self.job.err(&f.path, e.to_string())));
                    return Err(Stopped);
                }
                Box::new(file)
            }
            Err(e) => {
                let _ = self.tx.blocking_send(Err(self.job.err(&f.path, e)));
                return Err(Stopped);
            }
        };
        if f.gz && st.offset > 0 {
            // Skip what is stored.
            let skipped = std::io::copy(&mut (&mut input).take(st.offset), &mut std::io::sink());
            if !matches!(skipped, Ok(n) if n == st.offset) {
                // The compressed file is shorter than what was stored: nothing new in it.
                return Ok(());
            }
        }
        let id_prefix = if st.generation == 0 {
            f.fingerprint[..16].to_string()
        } else {
            format!("{}.{}", &f.fingerprint[..16], st.generation)
        };
        let mut offset = st.offset;
        let mut line_no = st.line;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
        let mut eof = false;
        while !eof {
            let start = buf.len();
            buf.resize(start + CHUNK, 0);
            let n = match input.read(&mut buf[start..]) {
                Ok(n) => n,
                Err(e) => {
                    let _ = self
                        .tx
                        .blocking_send(Err(self.job.err(&f.path, e.to_string())));
                    return Err(Stopped);
                }
            };
            buf.truncate(start + n);
            eof = n == 0;
            let mut consumed = 0;
            while let Some(nl) = memchr::memchr(b'\n', &buf[consumed..]) {
                let line = &buf[consumed..consumed + nl];
                line_no += 1;
                self.line(line, &id_prefix, &path_text, line_no, offset);
                offset += nl as u64 + 1;
                consumed += nl + 1;
                if self.events.len() + self.dead.len() >= self.job.config.batch_size {
                    self.set(f, offset, line_no);
                    self.flush()?;
                }
            }
            // A .gz file is finished: its last line counts even without a newline.
            if eof && f.gz && consumed < buf.len() {
                let line = buf[consumed..].to_vec();
                line_no += 1;
                self.line(&line, &id_prefix, &path_text, line_no, offset);
                offset += line.len() as u64;
                consumed = buf.len();
            }
            self.done_bytes += consumed as u64;
            buf.drain(..consumed);
        }
        self.set(f, offset, line_no);
        Ok(())
    }

    fn set(&mut self, f: &Found, offset: u64, line: u64) {
        if let Some(st) = self.state.get_mut(&f.fingerprint) {
            if st.offset != offset || st.line != line {
                st.offset = offset;
                st.line = line;
                self.changed = true;
            }
        }
    }

    /// One line (without its newline) → an event or a dead letter.
    fn line(&mut self, raw: &[u8], id_prefix: &str, file: &str, line: u64, offset: u64) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let dead = |reason: String| DeadLetter {
            origin: format!("{file}:{line} (byte {offset})"),
            reason,
            raw: capped(raw),
        };
        if raw.len() > self.job.config.max_line_bytes {
            self.dead.push(dead(format!(
                "line of {} bytes is longer than max_line_bytes ({})",
                raw.len(),
                self.job.config.max_line_bytes
            )));
            return;
        }
        let (text, lossy) = match std::str::from_utf8(raw) {
            Ok(t) => (std::borrow::Cow::Borrowed(t), false),
            Err(_) => (String::from_utf8_lossy(raw), true),
        };
        if text.trim().is_empty() {
            return;
        }
        let at = LineAt { file, line, offset };
        // Zero-padded so that the ids of one file sort in file order and the unique index grows
        // at its end.
        let id = format!("{id_prefix}:{offset:012}");
        let parsed = match self.job.config.format {
            LogFormat::Combined | LogFormat::Common => {
                let combined = self.job.config.format == LogFormat::Combined;
                let name = if combined { "combined" } else { "common" };
                parse_clf(&text, combined)
                    .map(|r| request_event(&r, id, &at, lossy))
                    .map_err(|e| format!("not a {name}-format line: {e}"))
            }
            LogFormat::Regex => match &self.job.regex {
                Some(re) => parse_regex(re, &text).map(|r| request_event(&r, id, &at, lossy)),
                None => Err("no pattern".to_string()),
            },
            LogFormat::Jsonl => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => {
                    parse_json(&v, &self.job.fields).map(|r| request_event(&r, id, &at, lossy))
                }
                Err(e) => Err(format!("not JSON: {e}")),
            },
        };
        match parsed {
            Ok((event, json)) => {
                self.events.push(event);
                self.json.push(json);
            }
            Err(reason) => self.dead.push(dead(reason)),
        }
    }
}

fn capped(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(DEAD_LETTER_RAW_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}
