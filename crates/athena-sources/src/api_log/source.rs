//! The `api_log` source: finds the files, recognises the ones the cursor knows, and reads what
//! is new since the stored offset, in batches whose cursor moves with their lines.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use athena_core::kit::{BlockingSource, Context, Limits, ReadError, Sink, Stopped};
use athena_core::{ConfigError, Cursor, DeadLetter, SourceConfig, SourceError, SourceInfo, Watch};

use super::config::{ApiLogConfig, LogFormat, StartAt};
use super::cursor::{self, FileState, LogCursor, VERSION};
use super::discover::{self, Found, Plan, Skipped};
use super::head::{LineIds, HEAD_BYTES};
use super::parse::parse_clf;
use super::record::{
    field_keys, parse_json, parse_regex, request_event, JsonFields, LineAt, REGEX_GROUPS,
};
use super::split::{split, Halt, Piece, Rules};

/// Raw text kept in a dead letter.
const DEAD_LETTER_RAW_BYTES: usize = 2048;
/// A `.gz` that has given this many bytes ...
const BOMB_MIN_BYTES: u64 = 64 << 20;
/// ... at more than this many per compressed byte is cut off as a decompression bomb. Real logs
/// compress 5 to 30 times, very repetitive ones up to about 100; deflate's ceiling is about
/// 1,000. Memory is bounded anyway (see `split`): this bounds the time a bomb takes.
const BOMB_RATIO: u64 = 200;

/// Tails HTTP request logs as `http_request` events (run by the kit's
/// [`Blocking`](athena_core::kit::Blocking)).
pub struct ApiLogSource {
    info: SourceInfo,
    config: ApiLogConfig,
    patterns: Vec<String>,
    fields: Arc<JsonFields>,
    regex: Option<regex::Regex>,
    /// The store's files and the config file: never read as logs, whatever a pattern says.
    excluded: Vec<PathBuf>,
}

impl ApiLogSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: ApiLogConfig = config.parse()?;
        if c.paths.is_empty() {
            return Err(config.error(Some("paths"), "needs at least one file or pattern"));
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
        let patterns: Vec<String> = c
            .paths
            .iter()
            .map(|p| config.resolve_path(Path::new(p)).display().to_string())
            .collect();
        for (pattern, given) in patterns.iter().zip(&c.paths) {
            glob::Pattern::new(pattern).map_err(|e| {
                config.error(
                    Some("paths"),
                    format!("{given:?} is not a valid pattern: {e}"),
                )
            })?;
        }
        let mut excluded: Vec<PathBuf> = config
            .config_file()
            .map(Path::to_path_buf)
            .into_iter()
            .collect();
        if let Some(db) = config.store_path() {
            for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
                let mut p = db.as_os_str().to_owned();
                p.push(suffix);
                excluded.push(PathBuf::from(p));
            }
        }
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
            excluded,
        })
    }
}

impl BlockingSource for ApiLogSource {
    fn watch(&self) -> Option<Watch> {
        Some(super::watch::watch(&self.patterns, &self.excluded))
    }

    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn validate(&self) -> Result<(), SourceError> {
        for pattern in &self.patterns {
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

    /// `validate` also insists that every pattern names at least one log file now (a sync only
    /// warns: logs may appear later).
    fn health_check(&self) -> Result<(), SourceError> {
        self.validate()?;
        let excluded = excluded_inodes(&self.excluded);
        for pattern in &self.patterns {
            let mut skipped = Vec::new();
            let found = discover::matching(std::slice::from_ref(pattern), &excluded, &mut skipped);
            if found.is_empty() {
                let why = skipped
                    .iter()
                    .map(|s| format!("{}: {}", s.path.display(), s.why))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(SourceError::path(
                    &self.info.id,
                    pattern,
                    format!("no log file to read ({why})"),
                ));
            }
        }
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits::items(self.config.batch_size)
    }

    fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        self.run(ctx)
    }
}

/// Warns that `path` is skipped, once per process for each source, path and reason: `serve`
/// polls every few seconds, and the same warning each time would bury the others. Repeats go to
/// the debug level.
fn warn_skipped(source_id: &str, path: &Path, why: &str) {
    static WARNED: std::sync::Mutex<Option<HashSet<(String, PathBuf, String)>>> =
        std::sync::Mutex::new(None);
    let key = (source_id.to_string(), path.to_path_buf(), why.to_string());
    let first = WARNED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(key);
    if first {
        tracing::warn!(source = %source_id, path = %path.display(), "skipped: {why}");
    } else {
        tracing::debug!(source = %source_id, path = %path.display(), "skipped: {why}");
    }
}

/// The (device, inode) of each of `paths` that exists now.
fn excluded_inodes(paths: &[PathBuf]) -> HashSet<(u64, u64)> {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

impl ApiLogSource {
    fn err(&self, path: &Path, message: impl Into<String>) -> SourceError {
        SourceError::path(&self.info.id, path, message)
    }

    fn run(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let cursor = ctx.take_cursor();
        let sink = &mut ctx.sink;
        let first_sync = cursor.is_none();
        let saved = cursor::decode(cursor, &self.info.id)?;
        let (mut found, unreadable) = self.discover(&saved);
        let plans = discover::pair(&mut found, &saved.files);
        let mut reading: Vec<(Found, FileState)> = Vec::new();
        let mut changed = false;
        for (mut f, plan) in found.into_iter().zip(plans) {
            let mut st = match plan {
                Plan::Skip => continue,
                Plan::Known(s) => saved.files[s].clone(),
                Plan::New => {
                    changed = true;
                    let at_end = self.config.start_at == StartAt::End && first_sync && !f.gz;
                    let (offset, line) = if at_end {
                        last_line_end(&f.path, f.len)
                            .map_err(|e| self.err(&f.path, e.to_string()))?
                    } else {
                        (0, 0)
                    };
                    // What it starts at is known by its bytes from the first commit on.
                    let head_len = offset.min(HEAD_BYTES);
                    FileState {
                        offset,
                        line,
                        head_len,
                        head: f.head.hash(head_len).unwrap_or_default(),
                        ..FileState::default()
                    }
                }
            };
            let path_text = f.path.display().to_string();
            if st.path != path_text || st.ino != f.ino || st.dev != f.dev {
                if (st.dev, st.ino) != (f.dev, f.ino) {
                    st.gz_len = None; // another file's size
                }
                st.path = path_text;
                st.ino = f.ino;
                st.dev = f.dev;
                changed = true;
            }
            // Only the stored part of the head is needed from here on (ids resume after it):
            // thousands of rotated files do not keep 64 KiB each.
            if f.gz && st.gz_len == Some(f.len) {
                f.head.bytes = Vec::new();
            } else {
                f.head.bytes.truncate(st.offset.min(HEAD_BYTES) as usize);
            }
            reading.push((f, st));
        }
        reading.sort_by(|a, b| (a.0.mtime, &a.0.path).cmp(&(b.0.mtime, &b.0.path)));
        let (files, mut state): (Vec<Found>, Vec<FileState>) = reading.into_iter().unzip();
        // A stored file that cannot be read now keeps its place; one gone leaves the cursor.
        let read: HashSet<(u64, u64)> = state.iter().map(|s| (s.dev, s.ino)).collect();
        let kept: Vec<FileState> = saved
            .files
            .iter()
            .filter(|st| {
                unreadable.contains(&(st.dev, st.ino)) && !read.contains(&(st.dev, st.ino))
            })
            .cloned()
            .collect();
        state.extend(kept);
        changed |= state.len() != saved.files.len();
        let mut reader = Reader {
            source: self,
            sink,
            total: files.iter().map(|f| f.len).sum(),
            state,
            done_bytes: 0,
            changed,
        };
        for (i, f) in files.iter().enumerate() {
            reader.read_file(f, i)?;
        }
        if reader.changed || reader.sink.has_pending() {
            reader.commit()?;
        }
        Ok(())
    }

    /// The files to look at: what the patterns match, plus stored files renamed out of them
    /// (found by inode beside where they were). Paths that are no log file are warned about.
    fn discover(&self, saved: &LogCursor) -> (Vec<Found>, HashSet<(u64, u64)>) {
        let mut skipped: Vec<Skipped> = Vec::new();
        let paths = discover::matching(
            &self.patterns,
            &excluded_inodes(&self.excluded),
            &mut skipped,
        );
        for s in &skipped {
            warn_skipped(&self.info.id, &s.path, &s.why);
        }
        let away = discover::renamed_away(&saved.files, &paths);
        let mut found = Vec::new();
        let mut unreadable = HashSet::new();
        let looks = paths
            .into_iter()
            .map(|p| (p, false))
            .chain(away.into_iter().map(|p| (p, true)));
        for (path, outside) in looks {
            match discover::look(path.clone(), outside) {
                Ok(Some(f)) => found.push(f),
                Ok(None) => {} // gone between listing and reading: a rotation in progress
                Err(e) => {
                    warn_skipped(
                        &self.info.id,
                        &path,
                        &format!("cannot be read: {}", e.error),
                    );
                    unreadable.extend(e.inode);
                }
            }
        }
        (found, unreadable)
    }
}

/// The offset after the last newline in the file's first `len` bytes (its size when it was
/// looked at), and the lines before it.
fn last_line_end(path: &Path, len: u64) -> std::io::Result<(u64, u64)> {
    let mut file = File::open(path)?.take(len);
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut end, mut lines) = (0u64, 0u64, 0u64);
    loop {
        let read = file.read(&mut buf)?;
        if read == 0 {
            return Ok((end, lines));
        }
        for nl in memchr::memchr_iter(b'\n', &buf[..read]) {
            lines += 1;
            end = at + nl as u64 + 1;
        }
        at += read as u64;
    }
}

/// Counts the bytes a decoder takes from the compressed file.
struct Counted<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Reads files into the sink.
struct Reader<'a> {
    source: &'a ApiLogSource,
    sink: &'a mut Sink,
    /// The state of every file of this sync, in reading order: the cursor's list.
    state: Vec<FileState>,
    done_bytes: u64,
    total: u64,
    changed: bool,
}

/// The file being read.
struct Current<'f> {
    index: usize,
    path: &'f str,
    ids: LineIds,
    line: u64,
    /// Not modified for [`SETTLE`]: a `.gz` that breaks off is broken, not still being written.
    settled: bool,
    /// It broke off while not settled: not marked as read to its end.
    deferred: bool,
}

/// How long after its last change a `.gz` that breaks off may still be being written.
const SETTLE: Duration = Duration::from_secs(60);

fn settled(mtime: (i64, i64)) -> bool {
    let modified = UNIX_EPOCH + Duration::from_secs(mtime.0.max(0) as u64);
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age >= SETTLE)
}

/// Hands a decoder's output over in small reads: flate2 drops what it decoded in a read that
/// ends in an error, so the smaller the read, the less of a corrupt file's good part is lost.
struct SmallReads<R>(R);

impl<R: Read> Read for SmallReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(16 * 1024);
        self.0.read(&mut buf[..n])
    }
}

impl Reader<'_> {
    /// The cursor as of now: true once everything emitted so far is stored.
    fn cursor(state: &[FileState]) -> Cursor {
        Cursor::encode(&LogCursor {
            version: VERSION,
            files: state.to_vec(),
        })
    }

    fn commit(&mut self) -> Result<(), Stopped> {
        self.changed = false;
        self.sink
            .progress(self.done_bytes.min(self.total), Some(self.total));
        self.sink.commit_blocking(Reader::cursor(&self.state))
    }

    fn fail(&self, path: &Path, e: impl ToString) -> ReadError {
        ReadError::Failed(self.source.err(path, e.to_string()))
    }

    /// Reads `f` from its stored offset to its last complete line (to its end for `.gz`).
    fn read_file(&mut self, f: &Found, index: usize) -> Result<(), ReadError> {
        let st = self.state[index].clone();
        if f.gz && st.gz_len == Some(f.len) {
            return Ok(()); // read to its end at this size already
        }
        let Some(ids) = LineIds::new(&f.head, st.offset) else {
            // Shorter than when it was looked at: the next sync sees it as it is now.
            tracing::debug!(source = %self.source.info.id, path = %f.path.display(), "changed while being read; next sync");
            return Ok(());
        };
        let file = File::open(&f.path).and_then(|mut file| {
            if !f.gz {
                file.seek(SeekFrom::Start(st.offset))?;
            }
            Ok(file)
        });
        let file = match file {
            Ok(file) => file,
            Err(e) => {
                // Its entry stays as it is, to be read when it can be.
                warn_skipped(
                    &self.source.info.id,
                    &f.path,
                    &format!("cannot be read: {e}"),
                );
                return Ok(());
            }
        };
        let compressed = Rc::new(Cell::new(0u64));
        let mut input: Box<dyn Read> = if f.gz {
            let counted = Counted {
                inner: file,
                read: compressed.clone(),
            };
            Box::new(SmallReads(flate2::read::MultiGzDecoder::new(counted)))
        } else {
            Box::new(file)
        };
        if f.gz && st.offset > 0 {
            // Skip what is stored.
            let skipped = std::io::copy(&mut (&mut input).take(st.offset), &mut std::io::sink());
            if !matches!(skipped, Ok(n) if n == st.offset) {
                // Shorter (or broken earlier) than what was stored: nothing new in it.
                self.set_gz_done(index, f.len);
                return Ok(());
            }
        }
        let path_text = f.path.display().to_string();
        let mut current = Current {
            index,
            path: &path_text,
            ids,
            line: st.line,
            settled: !f.gz || settled(f.mtime),
            deferred: false,
        };
        let rules = Rules {
            max_line: self.source.config.max_line_bytes,
            finished: f.gz,
        };
        let stored = st.offset;
        let guard = |read: u64| {
            let out = stored + read;
            let inp = compressed.get().max(1);
            (f.gz && out > BOMB_MIN_BYTES && out > BOMB_RATIO * inp).then(|| {
                format!(
                    "decompression bomb: {out} bytes from {inp} compressed bytes (over {BOMB_RATIO} to 1); the rest of the file is not read"
                )
            })
        };
        let result = split(input, st.offset, rules, guard, |piece| {
            self.piece(&mut current, piece)
        });
        match result {
            Ok(end) => {
                self.set(&current, end);
                if f.gz && !current.deferred {
                    self.set_gz_done(index, f.len);
                }
                Ok(())
            }
            Err(Halt::Io(e)) => {
                // What was read before the error is stored; the error ends the source.
                self.commit()?;
                Err(self.fail(&f.path, e))
            }
            Err(Halt::Stop(stopped)) => Err(stopped.into()),
        }
    }

    /// One piece of the file being read.
    fn piece(&mut self, at: &mut Current<'_>, piece: Piece<'_>) -> Result<(), Stopped> {
        let end = match piece {
            Piece::Line { bytes, offset } => {
                at.line += 1;
                at.ids.advance(bytes);
                let id = at.ids.id(offset);
                let raw = bytes.strip_suffix(b"\n").unwrap_or(bytes);
                self.line(raw, id, at.path, at.line, offset);
                offset + bytes.len() as u64
            }
            Piece::Overlong { offset, len, start } => {
                at.line += 1;
                at.ids.advance(start);
                self.sink.dead_letter(DeadLetter {
                    origin: format!("{}:{} (byte {offset})", at.path, at.line),
                    reason: format!(
                        "line of {len} bytes is longer than max_line_bytes ({}); skipped to its end",
                        self.source.config.max_line_bytes
                    ),
                    raw: capped(start),
                });
                offset + len
            }
            // A `.gz` written a moment ago may still be being compressed: read on next time.
            Piece::Broken {
                offset,
                read_error: true,
                ..
            } if !at.settled => {
                at.deferred = true;
                offset
            }
            Piece::Broken {
                offset,
                reason,
                rest,
                ..
            } => {
                self.sink.dead_letter(DeadLetter {
                    origin: format!("{}:{} (byte {offset})", at.path, at.line + 1),
                    reason: format!("compressed file cannot be read past here: {reason}"),
                    raw: capped(rest),
                });
                offset
            }
        };
        self.done_bytes += end.saturating_sub(self.state[at.index].offset);
        self.set(at, end);
        if self.sink.is_due() {
            self.commit()?;
        }
        Ok(())
    }

    /// The file is stored up to `offset`.
    fn set(&mut self, at: &Current<'_>, offset: u64) {
        let st = &mut self.state[at.index];
        if st.offset != offset || st.line != at.line {
            st.offset = offset;
            st.line = at.line;
            self.changed = true;
        }
        // Past the first 64 KiB the head no longer changes: no hashing per line.
        if st.head_len != at.ids.hashed() {
            (st.head_len, st.head) = at.ids.head();
            self.changed = true;
        }
    }

    fn set_gz_done(&mut self, index: usize, len: u64) {
        let st = &mut self.state[index];
        if st.gz_len != Some(len) {
            st.gz_len = Some(len);
            self.changed = true;
        }
    }

    /// One line (without its newline) → an event or a dead letter.
    fn line(&mut self, raw: &[u8], id: String, file: &str, line: u64, offset: u64) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let dead = |reason: String| DeadLetter {
            origin: format!("{file}:{line} (byte {offset})"),
            reason,
            raw: capped(raw),
        };
        let (text, lossy) = match std::str::from_utf8(raw) {
            Ok(t) => (std::borrow::Cow::Borrowed(t), false),
            Err(_) => (String::from_utf8_lossy(raw), true),
        };
        if text.trim().is_empty() {
            return;
        }
        let at = LineAt { file, line, offset };
        let parsed = match self.source.config.format {
            LogFormat::Combined | LogFormat::Common => {
                let combined = self.source.config.format == LogFormat::Combined;
                let name = if combined { "combined" } else { "common" };
                parse_clf(&text, combined)
                    .map(|r| request_event(&r, id, &at, lossy))
                    .map_err(|e| format!("not a {name}-format line: {e}"))
            }
            LogFormat::Regex => match &self.source.regex {
                Some(re) => parse_regex(re, &text).map(|r| request_event(&r, id, &at, lossy)),
                None => Err("no pattern".to_string()),
            },
            LogFormat::Jsonl => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => {
                    parse_json(&v, &self.source.fields).map(|r| request_event(&r, id, &at, lossy))
                }
                Err(e) => Err(format!("not JSON: {e}")),
            },
        };
        match parsed {
            Ok((event, json)) => self.sink.event_json(event, json),
            Err(reason) => self.sink.dead_letter(dead(reason)),
        }
    }
}

fn capped(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(DEAD_LETTER_RAW_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}
