//! One commit → one `commit` event: message, people, times, and per-file line counts that agree
//! with `git log --numstat --no-renames`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;

use athena_core::Event;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use gix::bstr::{BStr, ByteSlice};
use gix::diff::blob::sources::byte_lines;
use gix::diff::blob::{Algorithm, Diff, Interner, Token};
use gix::diff::tree::recorder::Change;
use gix::hash::ObjectId;
use gix::objs::FindExt;
use serde_json::{json, Map, Value};

use super::config::MergeDiffs;

/// Git calls a blob binary when its first 8000 bytes hold a NUL byte; so do we.
const BINARY_PROBE: usize = 8000;

/// What each commit event includes.
#[derive(Debug, Clone)]
pub(crate) struct DiffOptions {
    pub include_diff: bool,
    pub max_diff_bytes: usize,
    pub merge_diffs: MergeDiffs,
    /// In a shallow clone, the commits at its cut-off (`.git/shallow`): their parents are not
    /// there, and each is shown as a root, as `git log` does.
    pub shallow: Option<std::sync::Arc<std::collections::HashSet<ObjectId>>>,
}

/// One file of a commit, as `--numstat` shows it. `None` counts: binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStat {
    pub path: String,
    pub status: &'static str,
    pub added: Option<u64>,
    pub deleted: Option<u64>,
}

/// Per-thread state: an object database handle with its caches, and reusable buffers.
pub(crate) struct Differ {
    /// Never cloned: a clone of a handle starts with empty caches.
    objects: gix::OdbHandle,
    hash: gix::hash::Kind,
    recent: RefCell<RecentObjects>,
    work: Work,
}

/// Commits and trees read for the last two commits. Commits are diffed in history order, so the
/// parent side of one diff is mostly the new side of the previous: kept here, it is not inflated
/// twice. Blobs are not kept (they are big and rarely read twice in a row).
#[derive(Default)]
struct RecentObjects {
    current: HashMap<ObjectId, (gix::objs::Kind, Vec<u8>)>,
    previous: HashMap<ObjectId, (gix::objs::Kind, Vec<u8>)>,
}

impl RecentObjects {
    fn next_commit(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// The object database seen through [`RecentObjects`].
struct CachedFind<'a> {
    odb: &'a gix::OdbHandle,
    recent: &'a RefCell<RecentObjects>,
}

impl gix::objs::Find for CachedFind<'_> {
    fn try_find<'b>(
        &self,
        id: &gix::hash::oid,
        buffer: &'b mut Vec<u8>,
    ) -> gix::Result<Option<gix::objs::Data<'b>>> {
        let mut recent = self.recent.borrow_mut();
        let hit = match recent.current.get(id) {
            Some(entry) => Some(entry.clone()),
            None => recent.previous.remove(id),
        };
        if let Some((kind, data)) = hit {
            buffer.clear();
            buffer.extend_from_slice(&data);
            recent.current.insert(id.to_owned(), (kind, data));
            return Ok(Some(gix::objs::Data::new(buffer, kind, id.kind())));
        }
        drop(recent);
        let found = self.odb.try_find(id, buffer)?;
        if let Some(data) = &found {
            if matches!(data.kind, gix::objs::Kind::Tree | gix::objs::Kind::Commit) {
                self.recent
                    .borrow_mut()
                    .current
                    .insert(id.to_owned(), (data.kind, data.data.to_vec()));
            }
        }
        Ok(found)
    }
}

/// Buffers reused from commit to commit.
struct Work {
    options: DiffOptions,
    tree_state: gix::diff::tree::State,
    commit_buf: Vec<u8>,
    old_tree_buf: Vec<u8>,
    new_tree_buf: Vec<u8>,
    old_blob: Vec<u8>,
    new_blob: Vec<u8>,
    diff: Diff,
}

impl Differ {
    pub fn new(repo: gix::Repository, options: DiffOptions) -> Self {
        Differ {
            hash: repo.object_hash(),
            objects: repo.objects,
            recent: RefCell::new(RecentObjects::default()),
            work: Work {
                options,
                tree_state: Default::default(),
                commit_buf: Vec::new(),
                old_tree_buf: Vec::new(),
                new_tree_buf: Vec::new(),
                old_blob: Vec::new(),
                new_blob: Vec::new(),
                diff: Diff::default(),
            },
        }
    }

    /// Reads commit `id` and builds its event.
    pub fn commit_event(&mut self, id: ObjectId) -> Result<Event, String> {
        // Taken out of `work` so the parsed commit can borrow it while `work` diffs.
        let mut commit_buf = std::mem::take(&mut self.work.commit_buf);
        self.recent.borrow_mut().next_commit();
        let objects = CachedFind {
            odb: &self.objects,
            recent: &self.recent,
        };
        let result = self
            .work
            .commit_event(id, &objects, self.hash, &mut commit_buf);
        self.work.commit_buf = commit_buf;
        result
    }
}

impl Work {
    fn commit_event(
        &mut self,
        id: ObjectId,
        objects: &CachedFind<'_>,
        hash: gix::hash::Kind,
        commit_buf: &mut Vec<u8>,
    ) -> Result<Event, String> {
        let commit = objects
            .find_commit(&id, commit_buf)
            .map_err(|e| format!("reading commit {id}: {e}"))?;
        let tree = commit.tree();
        let parents: Vec<ObjectId> = commit.parents().collect();
        let author = commit
            .author()
            .map_err(|e| format!("commit {id}: bad author: {e}"))?;
        let committer = commit
            .committer()
            .map_err(|e| format!("commit {id}: bad committer: {e}"))?;
        let (message, lossy) = decode_message(commit.message, commit.encoding);
        let (title, body) = split_message(&message);
        let author_json = person(&author);
        let committer_json = person(&committer);
        let occurred_at = signature_time(&author).0.with_timezone(&Utc);
        let author_name = lossy_str(author.name.trim()).into_owned();

        let merge = parents.len() > 1;
        let shallow_boundary = self
            .options
            .shallow
            .as_ref()
            .is_some_and(|cut| cut.contains(&id));
        let diff_against = match (parents.first(), merge, self.options.merge_diffs) {
            _ if shallow_boundary => Some(None),
            (_, true, MergeDiffs::None) => None,
            (Some(p), _, _) => Some(Some(*p)),
            (None, _, _) => Some(None),
        };
        let mut files = Vec::new();
        let mut diff_text = String::new();
        let mut diff_truncated = false;
        if let Some(parent) = diff_against {
            self.file_stats(
                objects,
                hash,
                id,
                parent,
                tree,
                &mut files,
                &mut diff_text,
                &mut diff_truncated,
            )?;
        }
        let added: u64 = files.iter().filter_map(|f| f.added).sum();
        let deleted: u64 = files.iter().filter_map(|f| f.deleted).sum();
        let files_json: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({"path": f.path, "status": f.status, "added": f.added, "deleted": f.deleted})
            })
            .collect();

        let hex = id.to_string();
        let mut event = Event::new(hex.clone(), "commit", occurred_at, title);
        event.body = body;
        event.actor = Some(author_name);
        let mut meta = Map::new();
        meta.insert("sha".into(), Value::String(hex));
        meta.insert(
            "parents".into(),
            Value::Array(
                parents
                    .iter()
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ),
        );
        meta.insert("author".into(), author_json);
        meta.insert("committer".into(), committer_json);
        meta.insert("merge".into(), Value::Bool(merge));
        meta.insert(
            "totals".into(),
            json!({"files": files.len(), "added": added, "deleted": deleted}),
        );
        meta.insert("files".into(), Value::Array(files_json));
        if lossy {
            meta.insert("message_lossy".into(), Value::Bool(true));
        }
        if shallow_boundary {
            meta.insert("shallow_boundary".into(), Value::Bool(true));
        }
        if self.options.include_diff {
            meta.insert("diff".into(), Value::String(diff_text));
            meta.insert("diff_truncated".into(), Value::Bool(diff_truncated));
        }
        event.metadata = meta;
        Ok(event)
    }

    #[allow(clippy::too_many_arguments)]
    fn file_stats(
        &mut self,
        objects: &CachedFind<'_>,
        hash: gix::hash::Kind,
        id: ObjectId,
        parent: Option<ObjectId>,
        tree: ObjectId,
        files: &mut Vec<FileStat>,
        diff_text: &mut String,
        diff_truncated: &mut bool,
    ) -> Result<(), String> {
        let parent_tree = match parent {
            Some(p) => Some(
                objects
                    .find_commit(&p, &mut self.old_tree_buf)
                    .map_err(|e| format!("reading parent {p} of commit {id}: {e}"))?
                    .tree(),
            ),
            None => None,
        };
        let old_iter = match parent_tree {
            Some(t) => objects
                .find_tree_iter(&t, &mut self.old_tree_buf)
                .map_err(|e| format!("reading tree {t} of commit {id}'s parent: {e}"))?,
            None => gix::objs::TreeRefIter::from_bytes(&[], hash),
        };
        let new_iter = objects
            .find_tree_iter(&tree, &mut self.new_tree_buf)
            .map_err(|e| format!("reading tree {tree} of commit {id}: {e}"))?;
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            old_iter,
            new_iter,
            &mut self.tree_state,
            objects,
            &mut recorder,
        )
        .map_err(|e| format!("diffing commit {id}: {e}"))?;

        let mut changes = recorder.records;
        changes.sort_by(|a, b| change_path(a).cmp(change_path(b)));
        for change in changes {
            let stat = self.file_stat(objects, id, &change, diff_text, diff_truncated)?;
            if let Some(stat) = stat {
                files.push(stat);
            }
        }
        Ok(())
    }

    fn file_stat(
        &mut self,
        objects: &CachedFind<'_>,
        id: ObjectId,
        change: &Change,
        diff_text: &mut String,
        diff_truncated: &mut bool,
    ) -> Result<Option<FileStat>, String> {
        // Old and new side, None when absent.
        let (old, new, status): (Option<Side>, Option<Side>, _) = match change {
            Change::Addition {
                entry_mode, oid, ..
            } => (None, Some((*entry_mode, *oid)), "added"),
            Change::Deletion {
                entry_mode, oid, ..
            } => (Some((*entry_mode, *oid)), None, "deleted"),
            Change::Modification {
                previous_entry_mode,
                previous_oid,
                entry_mode,
                oid,
                ..
            } => (
                Some((*previous_entry_mode, *previous_oid)),
                Some((*entry_mode, *oid)),
                "modified",
            ),
        };
        // Trees only carry the files below them, which are reported on their own.
        let old = old.filter(|(m, _)| !m.is_tree());
        let new = new.filter(|(m, _)| !m.is_tree());
        let status = match (&old, &new) {
            (None, None) => return Ok(None),
            (None, Some(_)) => "added",
            (Some(_), None) => "deleted",
            _ => status,
        };
        let path = lossy_str(change_path(change).as_bytes()).into_owned();
        // A submodule counts as one line, "Subproject commit <sha>", as git shows it.
        let old_is_commit = old.is_some_and(|(m, _)| m.is_commit());
        let new_is_commit = new.is_some_and(|(m, _)| m.is_commit());
        if old_is_commit || new_is_commit {
            let added = u64::from(new.is_some());
            let deleted = u64::from(old.is_some());
            return Ok(Some(FileStat {
                path,
                status,
                added: Some(added),
                deleted: Some(deleted),
            }));
        }
        if let (Some((_, a)), Some((_, b))) = (old, new) {
            if a == b {
                // Only the mode changed.
                return Ok(Some(FileStat {
                    path,
                    status,
                    added: Some(0),
                    deleted: Some(0),
                }));
            }
        }
        let read = |oid: ObjectId, buf: &mut Vec<u8>| -> Result<(), String> {
            let blob = objects
                .odb
                .find_blob(&oid, buf)
                .map_err(|e| format!("reading blob {oid} ({path}) of commit {id}: {e}"))?;
            let _ = blob;
            Ok(())
        };
        self.old_blob.clear();
        self.new_blob.clear();
        if let Some((_, oid)) = old {
            read(oid, &mut self.old_blob)?;
        }
        if let Some((_, oid)) = new {
            read(oid, &mut self.new_blob)?;
        }
        if is_binary(&self.old_blob) || is_binary(&self.new_blob) {
            if self.options.include_diff {
                append_limited(
                    diff_text,
                    &format!("Binary files differ: {path}\n"),
                    self.options.max_diff_bytes,
                    diff_truncated,
                );
            }
            return Ok(Some(FileStat {
                path,
                status,
                added: None,
                deleted: None,
            }));
        }
        let (added, deleted) = if old.is_none() || new.is_none() || !self.options.include_diff {
            match (old.is_some(), new.is_some()) {
                (false, _) => (count_lines(&self.new_blob), 0),
                (_, false) => (0, count_lines(&self.old_blob)),
                _ => line_diff(&mut self.diff, &self.old_blob, &self.new_blob, None),
            }
        } else {
            let mut text = String::new();
            let counts = line_diff(
                &mut self.diff,
                &self.old_blob,
                &self.new_blob,
                Some(&mut text),
            );
            if !text.is_empty() {
                append_limited(
                    diff_text,
                    &format!("--- a/{path}\n+++ b/{path}\n{text}"),
                    self.options.max_diff_bytes,
                    diff_truncated,
                );
            }
            counts
        };
        if self.options.include_diff && (old.is_none() || new.is_none()) {
            let (sign, data, header) = if old.is_none() {
                (
                    '+',
                    &self.new_blob,
                    format!("--- /dev/null\n+++ b/{path}\n"),
                )
            } else {
                (
                    '-',
                    &self.old_blob,
                    format!("--- a/{path}\n+++ /dev/null\n"),
                )
            };
            let mut text = header;
            for line in data.lines_with_terminator() {
                text.push(sign);
                text.push_str(&String::from_utf8_lossy(line));
                if !line.ends_with(b"\n") {
                    text.push('\n');
                }
                if text.len() > self.options.max_diff_bytes {
                    break;
                }
            }
            append_limited(
                diff_text,
                &text,
                self.options.max_diff_bytes,
                diff_truncated,
            );
        }
        Ok(Some(FileStat {
            path,
            status,
            added: Some(added),
            deleted: Some(deleted),
        }))
    }
}

/// One side of a change: the entry's mode and object.
type Side = (gix::objs::tree::EntryMode, ObjectId);

fn change_path(change: &Change) -> &BStr {
    match change {
        Change::Addition { path, .. }
        | Change::Deletion { path, .. }
        | Change::Modification { path, .. } => path.as_ref(),
    }
}

pub(crate) fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// Lines as git counts them: a last line without a newline still counts.
pub(crate) fn count_lines(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(data.last().is_some_and(|&b| b != b'\n'))
}

/// Lines added and deleted between two texts, with git's Myers diff (gitoxide's port keeps
/// git's heuristics, so the counts agree with `git log --numstat`), optionally with `-U0` hunks.
///
/// Most changes touch a few lines of a long file, and hashing every line is most of the work.
/// So only the lines between the shared start and end are interned. The shared lines still go
/// into the token sequences, because git's heuristics count how often each changed line occurs
/// in the *whole* other file: a shared line gets its real token when it equals a changed line,
/// and one filler token otherwise, which keeps every count and length exactly as git sees them.
pub(crate) fn line_diff(
    diff: &mut Diff,
    old: &[u8],
    new: &[u8],
    text: Option<&mut String>,
) -> (u64, u64) {
    let (prefix, suffix) = common_line_ends(old, new);
    let old_mid = &old[prefix..old.len() - suffix];
    let new_mid = &new[prefix..new.len() - suffix];
    if old_mid.is_empty() || new_mid.is_empty() {
        if let Some(out) = text {
            let first = count_lines(&old[..prefix]) as usize;
            write_hunk(out, first, byte_lines(old_mid), byte_lines(new_mid));
        }
        return (count_lines(new_mid), count_lines(old_mid));
    }
    let mut interner: Interner<&[u8]> = Interner::new(64);
    // Lines are never empty (each keeps its newline), so the empty slice cannot be a real line.
    let filler = interner.intern(&[][..]);
    let mut known: HashMap<&[u8], Token, foldhash::fast::FixedState> = HashMap::default();
    // Lengths of the changed lines: a shared line of another length cannot equal one of them,
    // which spares hashing most shared lines.
    let mut lengths = LengthSet::default();
    let mut old_tokens = Vec::new();
    let mut new_tokens = Vec::new();
    for (part, tokens) in [(old_mid, &mut old_tokens), (new_mid, &mut new_tokens)] {
        for line in byte_lines(part) {
            lengths.insert(line.len());
            tokens.push(*known.entry(line).or_insert_with(|| interner.intern(line)));
        }
    }
    let shared_token = |line: &[u8]| {
        if lengths.contains(line.len()) {
            known.get(line).copied().unwrap_or(filler)
        } else {
            filler
        }
    };
    let head_len = count_lines(&old[..prefix]) as usize;
    let tail_len = count_lines(&old[old.len() - suffix..]) as usize;
    let mut before = Vec::with_capacity(head_len + old_tokens.len() + tail_len);
    before.extend(byte_lines(&old[..prefix]).map(shared_token));
    let mut after = Vec::with_capacity(head_len + new_tokens.len() + tail_len);
    after.extend_from_slice(&before);
    before.extend_from_slice(&old_tokens);
    after.extend_from_slice(&new_tokens);
    let tail_start = before.len();
    before.extend(byte_lines(&old[old.len() - suffix..]).map(shared_token));
    after.extend_from_slice(&before[tail_start..]);
    diff.compute_with(Algorithm::Myers, &before, &after, interner.num_tokens());
    if let Some(out) = text {
        for hunk in diff.hunks() {
            let (b, a) = (hunk.before.clone(), hunk.after.clone());
            let lines = |tokens: &[Token], r: std::ops::Range<u32>| {
                tokens[r.start as usize..r.end as usize]
                    .iter()
                    .map(|t| interner[*t])
                    .collect::<Vec<&[u8]>>()
            };
            let _ = writeln!(
                out,
                "@@ -{},{} +{},{} @@",
                b.start + 1,
                b.len(),
                a.start + 1,
                a.len()
            );
            write_lines(out, '-', lines(&before, b));
            write_lines(out, '+', lines(&after, a));
        }
    }
    (
        u64::from(diff.count_additions()),
        u64::from(diff.count_removals()),
    )
}

fn write_hunk<'a>(
    out: &mut String,
    first: usize,
    old: impl Iterator<Item = &'a [u8]>,
    new: impl Iterator<Item = &'a [u8]>,
) {
    let old: Vec<&[u8]> = old.collect();
    let new: Vec<&[u8]> = new.collect();
    if old.is_empty() && new.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "@@ -{},{} +{},{} @@",
        first + 1,
        old.len(),
        first + 1,
        new.len()
    );
    write_lines(out, '-', old);
    write_lines(out, '+', new);
}

fn write_lines(out: &mut String, sign: char, lines: Vec<&[u8]>) {
    for line in lines {
        out.push(sign);
        out.push_str(&String::from_utf8_lossy(line));
        if !line.ends_with(b"\n") {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// Index of the first byte where `a` and `b` differ (the shorter length if one is a prefix).
/// Compares blocks first: the common case is long identical runs.
fn first_mismatch(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let max = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= max && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    i + a[i..max]
        .iter()
        .zip(&b[i..max])
        .position(|(x, y)| x != y)
        .unwrap_or(max - i)
}

/// How many bytes at the end of `a` and `b` (of equal length) are equal.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let n = a.len();
    let mut same = 0;
    while same + BLOCK <= n && a[n - same - BLOCK..n - same] == b[n - same - BLOCK..n - same] {
        same += BLOCK;
    }
    same + a[..n - same]
        .iter()
        .rev()
        .zip(b[..n - same].iter().rev())
        .position(|(x, y)| x != y)
        .unwrap_or(n - same)
}

/// A set of line lengths: a bitmap for the usual ones, a flag for any longer.
#[derive(Default)]
struct LengthSet {
    short: [u64; 16],
    any_long: bool,
}

impl LengthSet {
    fn insert(&mut self, len: usize) {
        match self.short.get_mut(len / 64) {
            Some(word) => *word |= 1 << (len % 64),
            None => self.any_long = true,
        }
    }

    fn contains(&self, len: usize) -> bool {
        match self.short.get(len / 64) {
            Some(word) => word & (1 << (len % 64)) != 0,
            None => self.any_long,
        }
    }
}

/// Byte lengths of the whole lines `old` and `new` share at their start and at their end.
fn common_line_ends(old: &[u8], new: &[u8]) -> (usize, usize) {
    let max = old.len().min(new.len());
    let mut prefix = first_mismatch(old, new);
    if prefix < old.len() || prefix < new.len() {
        // Back up to the start of the line that differs.
        prefix = old[..prefix]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
    }
    let room = max - prefix;
    let mut suffix = common_suffix(&old[old.len() - room..], &new[new.len() - room..]);
    // The shared end must start at a line start in both texts.
    let starts_line = |text: &[u8], s: usize| {
        let at = text.len() - s;
        at == prefix || text[at - 1] == b'\n'
    };
    while suffix > 0 && !(starts_line(old, suffix) && starts_line(new, suffix)) {
        suffix -= 1;
    }
    (prefix, suffix)
}

fn append_limited(out: &mut String, text: &str, max: usize, truncated: &mut bool) {
    if *truncated {
        return;
    }
    if out.len() + text.len() <= max {
        out.push_str(text);
        return;
    }
    let mut cut = max.saturating_sub(out.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&text[..cut]);
    *truncated = true;
}

fn lossy_str(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A signature's time with its offset. Git accepts commits with impossible offsets (`+9999`)
/// or garbled times; such a time is read as well as it can be (the seconds, at UTC) and
/// reported as not exact, rather than failing the source at that commit forever.
fn signature_time(sig: &gix::actor::SignatureRef<'_>) -> (DateTime<FixedOffset>, bool) {
    let exact = sig.time().ok().and_then(|t| {
        FixedOffset::east_opt(t.offset)?
            .timestamp_opt(t.seconds, 0)
            .single()
    });
    match exact {
        Some(t) => (t, true),
        None => {
            let utc = FixedOffset::east_opt(0).expect("zero is a valid offset");
            let t = utc
                .timestamp_opt(sig.seconds(), 0)
                .single()
                .unwrap_or_else(|| utc.timestamp_opt(0, 0).unwrap());
            (t, false)
        }
    }
}

fn person(sig: &gix::actor::SignatureRef<'_>) -> Value {
    let (time, exact) = signature_time(sig);
    let mut p = json!({
        "name": lossy_str(sig.name.trim()),
        "email": lossy_str(sig.email.trim()),
        "time": time.to_rfc3339(),
    });
    if !exact {
        p["time_raw"] = Value::String(sig.time.to_string());
    }
    p
}

/// Decodes a commit message: UTF-8, or Latin-1 when the commit says so; anything else is
/// decoded lossily and flagged.
pub(crate) fn decode_message(message: &BStr, encoding: Option<&BStr>) -> (String, bool) {
    if let Ok(s) = std::str::from_utf8(message.as_bytes()) {
        return (s.to_string(), false);
    }
    let latin1 = encoding.is_some_and(|e| {
        let e = e.to_str_lossy().to_ascii_lowercase();
        matches!(
            e.as_str(),
            "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1"
        )
    });
    if latin1 {
        return (message.iter().map(|&b| char::from(b)).collect(), false);
    }
    (
        String::from_utf8_lossy(message.as_bytes()).into_owned(),
        true,
    )
}

/// Title: the first paragraph on one line (git's `%s`). Body: the rest.
pub(crate) fn split_message(message: &str) -> (String, String) {
    let message = message.trim_start_matches(['\n', '\r']);
    let mut lines = message.lines();
    let mut title_parts = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        title_parts.push(line.trim());
    }
    let body: Vec<&str> = lines.collect();
    let body = body.join("\n");
    (
        title_parts.join(" "),
        body.trim_matches(['\n', '\r']).trim_end().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_match_git_conventions() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\nb\n"), 2);
        assert_eq!(count_lines(b"a\nb"), 2);
        let mut d = Diff::default();
        assert_eq!(
            line_diff(&mut d, b"a\nb\nc\n", b"a\nB\nc\nd\n", None),
            (2, 1)
        );
        // A missing final newline makes the last line differ, as in git.
        assert_eq!(line_diff(&mut d, b"a\nb", b"a\nb\n", None), (1, 1));
    }

    #[test]
    fn trimming_common_lines_keeps_counts_and_line_numbers() {
        let mut d = Diff::default();
        let mut text = String::new();
        let counts = line_diff(&mut d, b"a\nb\nc\nd\n", b"a\nb\nX\nd\n", Some(&mut text));
        assert_eq!(counts, (1, 1));
        assert_eq!(text, "@@ -3,1 +3,1 @@\n-c\n+X\n");
        // Lines that only share a tail are not cut in the middle.
        assert_eq!(common_line_ends(b"xab\n", b"yab\n"), (0, 0));
        assert_eq!(common_line_ends(b"q\nab\n", b"q\nzab\n"), (2, 0));
        assert_eq!(common_line_ends(b"a\n", b"a\nb\n"), (2, 0));
        assert_eq!(line_diff(&mut d, b"a\n", b"a\nb\n", None), (1, 0));
        assert_eq!(line_diff(&mut d, b"b\n", b"a\nb\n", None), (1, 0));
        assert_eq!(line_diff(&mut d, b"same\n", b"same\n", None), (0, 0));
        let long: Vec<u8> = (0..1000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut changed = long.clone();
        changed[2000] = b'x';
        assert_eq!(first_mismatch(&long, &changed), 2000);
        assert_eq!(common_suffix(&long, &changed), long.len() - 2001);
        assert_eq!(first_mismatch(b"abc", b"abcd"), 3);
    }

    #[test]
    fn zero_context_hunks_are_rendered() {
        let mut d = Diff::default();
        let mut text = String::new();
        line_diff(&mut d, b"a\nb\nc\n", b"a\nx\nc\n", Some(&mut text));
        assert_eq!(text, "@@ -2,1 +2,1 @@\n-b\n+x\n");
    }

    #[test]
    fn binary_is_a_nul_in_the_first_8000_bytes() {
        assert!(is_binary(b"ab\0c"));
        let mut late = vec![b'a'; 9000];
        late[8500] = 0;
        assert!(!is_binary(&late));
    }

    #[test]
    fn messages_split_like_git_subject_and_body() {
        let (t, b) = split_message("Fix the thing\nacross lines\n\nBecause.\n\nMore.\n");
        assert_eq!(t, "Fix the thing across lines");
        assert_eq!(b, "Because.\n\nMore.");
        assert_eq!(split_message("only\n"), ("only".into(), String::new()));
    }

    #[test]
    fn latin1_is_decoded_and_other_bytes_flagged() {
        let bytes: &[u8] = b"caf\xe9";
        assert_eq!(
            decode_message(bytes.into(), Some(b"ISO-8859-1".as_bstr())),
            ("café".into(), false)
        );
        let (s, lossy) = decode_message(bytes.into(), None);
        assert!(lossy);
        assert_eq!(s, "caf\u{fffd}");
    }

    #[test]
    fn diff_text_is_capped_on_a_char_boundary() {
        let mut out = String::new();
        let mut cut = false;
        append_limited(&mut out, "ééé", 3, &mut cut);
        assert_eq!(out, "é");
        assert!(cut);
    }
}
