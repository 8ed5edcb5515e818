//! One commit → one `commit` event: message, people, times, and per-file line counts that agree
//! with `git log --numstat --no-renames`.

use std::cell::RefCell;
use std::collections::HashMap;

use athena_core::Event;
use chrono::Utc;
use gix::bstr::{BStr, ByteSlice};
use gix::diff::blob::Diff;
use gix::diff::tree::recorder::Change;
use gix::hash::ObjectId;
use gix::objs::FindExt;
use serde_json::{json, Map, Value};

use super::config::MergeDiffs;

use super::lines::{append_limited, count_lines, is_binary, line_diff};
use super::message::{decode_message, lossy_str, person, signature_time, split_message};

/// What each commit event includes.
#[derive(Debug, Clone)]
pub(crate) struct DiffOptions {
    pub include_diff: bool,
    pub max_diff_bytes: usize,
    pub merge_diffs: MergeDiffs,
    /// In a shallow clone, the commits at its cut-off (`.git/shallow`): their parents are not
    /// there, and each is shown as a root, as `git log` does.
    pub shallow: Option<std::sync::Arc<std::collections::HashSet<ObjectId>>>,
    /// The repository's `.mailmap`, when it has one: a commit's author or committer it maps
    /// gets `mailmap` (`{"name", "email"}`) beside the name and email in the commit.
    pub mailmap: Option<std::sync::Arc<gix::mailmap::Snapshot>>,
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
        let mut author_json = person(&author);
        let mut committer_json = person(&committer);
        if let Some(mailmap) = &self.options.mailmap {
            for (json, sig) in [(&mut author_json, &author), (&mut committer_json, &committer)] {
                if let Some(mapped) = mailmap.try_resolve_ref(*sig) {
                    json["mailmap"] = json!({
                        "name": mapped.name.map(|n| lossy_str(n.trim()).into_owned()),
                        "email": mapped.email.map(|e| lossy_str(e.trim()).into_owned()),
                    });
                }
            }
        }
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
        let Some((old, new, status)) = sides(change) else {
            return Ok(None);
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
        let (added, deleted) =
            self.text_counts(&path, old.is_some(), new.is_some(), diff_text, diff_truncated);
        Ok(Some(FileStat {
            path,
            status,
            added: Some(added),
            deleted: Some(deleted),
        }))
    }
    /// The lines added and deleted between the blobs read into `old_blob` and `new_blob` (one
    /// side absent: `has_old` or `has_new` false), and their diff appended to `diff_text` when
    /// diffs are kept.
    fn text_counts(
        &mut self,
        path: &str,
        has_old: bool,
        has_new: bool,
        diff_text: &mut String,
        diff_truncated: &mut bool,
    ) -> (u64, u64) {
        let counts = if !has_old || !has_new || !self.options.include_diff {
            match (has_old, has_new) {
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
        if self.options.include_diff && (!has_old || !has_new) {
            let (sign, data, header) = if !has_old {
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
        counts
    }
}

/// One side of a change: the entry's mode and object.
type Side = (gix::objs::tree::EntryMode, ObjectId);

/// A change's old and new side (`None` when absent) and its status; `None` for a change of
/// trees only (the files below a tree are reported on their own).
fn sides(change: &Change) -> Option<(Option<Side>, Option<Side>, &'static str)> {
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
    let old = old.filter(|(m, _)| !m.is_tree());
    let new = new.filter(|(m, _)| !m.is_tree());
    let status = match (&old, &new) {
        (None, None) => return None,
        (None, Some(_)) => "added",
        (Some(_), None) => "deleted",
        _ => status,
    };
    Some((old, new, status))
}

fn change_path(change: &Change) -> &BStr {
    match change {
        Change::Addition { path, .. }
        | Change::Deletion { path, .. }
        | Change::Modification { path, .. } => path.as_ref(),
    }
}
