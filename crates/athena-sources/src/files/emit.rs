//! Telling a sync's findings to the kit's sink: events, the state rows they describe, dead
//! letters for unreadable paths, and checkpoints only where the cursor and the state are true
//! (after a whole file change, both halves of a rename included).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use athena_core::kit::{Sink, Stopped};
use athena_core::{DeadLetter, StateChange};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::cursor::FilesCursor;
use super::diff::{classify, Change, Changed, Deleted, Renames};
use super::event::file_event;
use super::hash::Settled;
use super::scan::Problem;
use super::state::FileState;
use super::text::KeepText;

/// Dead letters and warnings name at most this many unreadable paths per sync.
const MAX_REPORTED_PROBLEMS: usize = 1_000;

/// How a sync tells what it found.
pub(crate) struct Plan<'a> {
    pub source_id: &'a str,
    /// The canonical root.
    pub root: &'a Path,
    /// File changes (state rows and dead letters) per batch.
    pub batch_size: usize,
    /// The first sync is not yet stored completely.
    pub initial: bool,
    pub emit_existing: bool,
    /// Changes and deletions to tell, for progress.
    pub total: u64,
    /// Which created and modified files keep their text in the body.
    pub keep_text: &'a KeepText,
}

/// A sync's findings on their way into the sink.
pub(crate) struct Emitter<'a> {
    sink: &'a mut Sink,
    plan: Plan<'a>,
    /// Sorted by path.
    deleted: &'a [Deleted],
    renames: Renames,
    root_text: String,
    /// When deletions were seen (a deleted file has no time of its own).
    now: DateTime<Utc>,
    /// State rows and dead letters since the last batch went. The kit's size limit counts
    /// events, but here the unit of work is a file change: touched files, and every file of a
    /// first sync without `emit_existing`, change the state without an event.
    items: usize,
    done: u64,
    /// Problems reported this sync.
    reported: usize,
}

impl<'a> Emitter<'a> {
    pub fn new(sink: &'a mut Sink, deleted: &'a [Deleted], plan: Plan<'a>) -> Self {
        Emitter {
            sink,
            deleted,
            renames: Renames::new(deleted),
            root_text: plan.root.to_string_lossy().into_owned(),
            plan,
            now: Utc::now(),
            items: 0,
            done: 0,
            reported: 0,
        }
    }

    /// Unreadable paths: named in a warning and in the dead-letter table, never fatal.
    pub fn problems(&mut self, problems: &[Problem]) -> Result<(), Stopped> {
        for p in problems {
            let path = if p.rel.is_empty() {
                self.plan.root.to_path_buf()
            } else {
                self.plan.root.join(std::ffi::OsStr::from_bytes(&p.rel))
            };
            tracing::warn!(source = %self.plan.source_id, path = %path.display(), "skipped: {}", p.message);
            self.reported += 1;
            if self.reported <= MAX_REPORTED_PROBLEMS {
                self.sink.dead_letter(DeadLetter {
                    origin: path.display().to_string(),
                    reason: p.message.clone(),
                    raw: String::new(),
                });
                self.items += 1;
            }
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Files no longer watched leave the state, without an event.
    pub fn unwatched(&mut self, rels: Vec<Vec<u8>>) {
        for key in rels {
            self.state(StateChange { key, value: None });
        }
    }

    /// A changed file, hashed: its event (if something happened to it) and its new state; for
    /// a rename, the deletion it pairs with too, so both halves go in the same batch.
    pub fn change(&mut self, changed: &Changed, settled: Settled) -> Result<(), Stopped> {
        let rel = &changed.found.rel;
        let now = &settled.now;
        let mut renamed = None;
        let event = match classify(changed, now, self.plan.initial, &mut self.renames) {
            Change::Touched => None,
            Change::Existing if !self.plan.emit_existing => None,
            Change::Existing => Some(file_event("file_modified", rel, &self.root_text, now, None)),
            Change::Modified { previous_size } => {
                let mut e = file_event("file_modified", rel, &self.root_text, now, None);
                e.metadata
                    .insert("previous_size".into(), json!(previous_size));
                Some(e)
            }
            Change::Created { renamed_from } => {
                let mut e = file_event("file_created", rel, &self.root_text, now, None);
                if let Some(i) = renamed_from {
                    let from = String::from_utf8_lossy(&self.deleted[i].rel);
                    e.metadata.insert("renamed_from".into(), json!(from));
                    renamed = Some(&self.deleted[i]);
                }
                Some(e)
            }
        };
        if let Some(mut e) = event {
            if let Some(text) = (self.plan.keep_text).text_of(self.plan.root, rel, now.size) {
                e.body = text;
            }
            self.sink.event(e);
        }
        self.state(StateChange {
            key: rel.clone(),
            value: Some(settled.stored.encode()),
        });
        if let Some(gone) = renamed {
            let to = String::from_utf8_lossy(rel).into_owned();
            self.deletion(gone, Some(to));
            self.done += 1;
        }
        self.done += 1;
        self.checkpoint()
    }

    /// The deletions not told as half of a rename.
    pub fn deletions(&mut self) -> Result<(), Stopped> {
        let deleted = self.deleted;
        for (i, gone) in deleted.iter().enumerate() {
            if self.renames.is_paired(i) {
                continue;
            }
            self.deletion(gone, None);
            self.done += 1;
            self.checkpoint()?;
        }
        Ok(())
    }

    /// The last batch: what is left, or the cursor saying the first scan is complete.
    pub fn finish(self) -> Result<(), Stopped> {
        if self.sink.has_pending() || self.plan.initial {
            self.sink.progress(self.done, Some(self.plan.total));
            self.sink.commit_blocking(FilesCursor::new(true).encode())?;
        }
        Ok(())
    }

    /// A `file_deleted` event and the tombstone that replaces the file's state: the path's
    /// next file gets new ids, even with this one's time and contents.
    fn deletion(&mut self, gone: &Deleted, renamed_to: Option<String>) {
        let st = &gone.state;
        let mut e = file_event(
            "file_deleted",
            &gone.rel,
            &self.root_text,
            st,
            Some(self.now),
        );
        if let Some(to) = renamed_to {
            e.metadata.insert("renamed_to".into(), json!(to));
        }
        self.sink.event(e);
        let tombstone = FileState {
            gone: true,
            generation: st.generation.saturating_add(1),
            ..*st
        };
        self.state(StateChange {
            key: gone.rel.clone(),
            value: Some(tombstone.encode()),
        });
    }

    fn state(&mut self, change: StateChange) {
        self.sink.state(change);
        self.items += 1;
    }

    /// The batch goes when it holds `batch_size` file changes, or when the kit says it is due
    /// (by age). Until the first scan is complete, the cursor says so.
    fn checkpoint(&mut self) -> Result<(), Stopped> {
        if self.items >= self.plan.batch_size || self.sink.is_due() {
            self.sink.progress(self.done, Some(self.plan.total));
            let complete = !self.plan.initial;
            self.sink
                .commit_blocking(FilesCursor::new(complete).encode())?;
            self.items = 0;
        }
        Ok(())
    }
}
