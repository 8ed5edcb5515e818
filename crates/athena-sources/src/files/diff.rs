//! The stored state against a walk of the tree, with no I/O: which files may have changed
//! (to be hashed), which are gone, which are no longer watched, and, once a changed file is
//! hashed, what happened to it (touched, modified, created, renamed from a deleted file).

use std::collections::HashMap;

use super::scan::Found;
use super::state::FileState;

/// Stored state per relative path, hashed fast (the keys are file names, not attacker input
/// worth a keyed hash).
pub(crate) type StateMap = HashMap<Vec<u8>, FileState, foldhash::fast::FixedState>;

/// A file whose size or time differs from the store, or that the store does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    pub found: Found,
    /// The stored state; `None` for a new file (or one put back where a file was deleted).
    pub old: Option<FileState>,
    /// The path's generation (deletions so far).
    pub generation: u32,
}

/// A stored file the walk did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deleted {
    pub rel: Vec<u8>,
    pub state: FileState,
}

/// What differs between the store and the walk.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    /// In walk order (by path).
    pub changed: Vec<Changed>,
    /// Sorted by path.
    pub deleted: Vec<Deleted>,
    /// Files still there but no longer walked (newly ignored or excluded): they leave the
    /// state without an event, since nothing happened to them. Sorted.
    pub unwatched: Vec<Vec<u8>>,
}

impl Diff {
    /// Whether the store already says everything the walk found.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty() && self.unwatched.is_empty()
    }
}

/// Compares the walk (`found`) with the stored state. A stored file not found is deleted,
/// unless `still_a_file` says it is still there (then it is unwatched) or it lies under one of
/// the `unreadable` paths (then it is kept as it was). Tombstones stay as they are.
pub(crate) fn diff(
    mut stored: StateMap,
    found: Vec<Found>,
    unreadable: &[&[u8]],
    still_a_file: impl Fn(&[u8]) -> bool,
) -> Diff {
    let mut out = Diff::default();
    for found in found {
        let Some(old) = stored.remove(&found.rel) else {
            out.changed.push(Changed {
                found,
                old: None,
                generation: 0,
            });
            continue;
        };
        if old.gone {
            // Put back where a file was deleted: new, in the path's next generation.
            out.changed.push(Changed {
                found,
                old: None,
                generation: old.generation,
            });
        } else if old.size != found.size || old.mtime_ns != found.mtime_ns {
            out.changed.push(Changed {
                found,
                generation: old.generation,
                old: Some(old),
            });
        }
    }
    for (rel, state) in stored {
        if state.gone || unreadable.iter().any(|dir| is_under(&rel, dir)) {
            continue;
        }
        if still_a_file(&rel) {
            out.unwatched.push(rel);
        } else {
            out.deleted.push(Deleted { rel, state });
        }
    }
    out.deleted.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.unwatched.sort();
    out
}

/// Whether `rel` is `dir` or inside it (an empty `dir` is the root: everything).
pub(crate) fn is_under(rel: &[u8], dir: &[u8]) -> bool {
    dir.is_empty() || rel == dir || (rel.starts_with(dir) && rel.get(dir.len()) == Some(&b'/'))
}

/// What happened to a changed file, judged from its stored and its new (hashed) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Same contents, new time: only the stored state moves.
    Touched,
    /// Different contents (or not hashed, and a different size or time).
    Modified { previous_size: u64 },
    /// Found by the first sync, not yet stored (`emit_existing` decides whether it is told).
    Existing,
    /// New since the last sync; a rename when it pairs with a deletion (its index in
    /// [`Diff::deleted`]).
    Created { renamed_from: Option<usize> },
}

/// Judges a changed file. `initial`: the first sync is not yet stored completely.
pub(crate) fn classify(
    changed: &Changed,
    now: &FileState,
    initial: bool,
    renames: &mut Renames,
) -> Change {
    match &changed.old {
        Some(old) if now.hash.is_some() && old.hash == now.hash => Change::Touched,
        Some(old) => Change::Modified {
            previous_size: old.size,
        },
        None if initial => Change::Existing,
        None => Change::Created {
            renamed_from: renames.pair(now),
        },
    }
}

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

/// The deletions a created file may pair with, by contents; each pairs at most once, and of
/// several with the same contents the first by path.
#[derive(Debug)]
pub(crate) struct Renames {
    by_content: HashMap<ContentKey, usize>,
    paired: Vec<bool>,
}

impl Renames {
    pub fn new(deleted: &[Deleted]) -> Self {
        let mut by_content = HashMap::new();
        for (i, d) in deleted.iter().enumerate() {
            if let Some(key) = content_key(&d.state) {
                by_content.entry(key).or_insert(i);
            }
        }
        Renames {
            by_content,
            paired: vec![false; deleted.len()],
        }
    }

    /// The deletion a file created with `now` pairs with, taken.
    fn pair(&mut self, now: &FileState) -> Option<usize> {
        let i = self.by_content.remove(&content_key(now)?)?;
        self.paired[i] = true;
        Some(i)
    }

    /// Whether deletion `i` was paired with a creation (and so already told).
    pub fn is_paired(&self, i: usize) -> bool {
        self.paired[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(size: u64, mtime_ns: i64, hash: Option<u8>) -> FileState {
        FileState {
            size,
            mtime_ns,
            hash: hash.map(|b| [b; 32]),
            generation: 0,
            gone: false,
        }
    }

    fn found(rel: &str, size: u64, mtime_ns: i64) -> Found {
        Found {
            rel: rel.as_bytes().to_vec(),
            size,
            mtime_ns,
        }
    }

    fn stored(entries: &[(&str, FileState)]) -> StateMap {
        entries
            .iter()
            .map(|(rel, st)| (rel.as_bytes().to_vec(), *st))
            .collect()
    }

    fn gone() -> impl Fn(&[u8]) -> bool {
        |_| false
    }

    fn rels(changed: &[Changed]) -> Vec<&str> {
        changed
            .iter()
            .map(|c| std::str::from_utf8(&c.found.rel).unwrap())
            .collect()
    }

    #[test]
    fn files_the_store_does_not_know_are_new_in_generation_zero() {
        let d = diff(
            StateMap::default(),
            vec![found("a", 1, 10), found("b", 2, 20)],
            &[],
            gone(),
        );
        assert_eq!(rels(&d.changed), ["a", "b"]);
        assert!(d
            .changed
            .iter()
            .all(|c| c.old.is_none() && c.generation == 0));
        assert!(d.deleted.is_empty() && d.unwatched.is_empty());
    }

    #[test]
    fn a_file_with_the_stored_size_and_time_is_not_changed() {
        let d = diff(
            stored(&[("a", state(1, 10, Some(1)))]),
            vec![found("a", 1, 10)],
            &[],
            gone(),
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn a_different_size_or_time_is_a_change_carrying_the_stored_state() {
        let a = state(1, 10, Some(1));
        let b = FileState {
            generation: 4,
            ..state(2, 20, None)
        };
        let d = diff(
            stored(&[("a", a), ("b", b)]),
            vec![found("a", 1, 11), found("b", 3, 20)],
            &[],
            gone(),
        );
        assert_eq!(rels(&d.changed), ["a", "b"]);
        assert_eq!(d.changed[0].old, Some(a));
        assert_eq!(d.changed[1].old, Some(b));
        assert_eq!(d.changed[1].generation, 4);
    }

    #[test]
    fn stored_files_not_found_are_deleted_sorted_unless_still_there_or_unreadable() {
        let d = diff(
            stored(&[
                ("z", state(1, 1, None)),
                ("a", state(2, 2, None)),
                ("ignored.log", state(3, 3, None)),
                ("locked/inner", state(4, 4, None)),
                ("lockedness", state(5, 5, None)),
            ]),
            vec![],
            &[b"locked"],
            |rel| rel == b"ignored.log",
        );
        let deleted: Vec<&[u8]> = d.deleted.iter().map(|d| d.rel.as_slice()).collect();
        assert_eq!(deleted, [&b"a"[..], b"lockedness", b"z"]);
        assert_eq!(d.deleted[0].state, state(2, 2, None));
        assert_eq!(d.unwatched, [b"ignored.log".to_vec()]);
        assert!(d.changed.is_empty());
    }

    #[test]
    fn an_unreadable_root_keeps_every_stored_file() {
        let d = diff(stored(&[("a", state(1, 1, None))]), vec![], &[b""], gone());
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn tombstones_stay_and_a_file_put_back_is_new_in_the_paths_generation() {
        let tombstone = FileState {
            gone: true,
            generation: 2,
            ..state(1, 10, Some(1))
        };
        let d = diff(
            stored(&[("back", tombstone), ("still-gone", tombstone)]),
            vec![found("back", 1, 10)],
            &[],
            gone(),
        );
        assert_eq!(rels(&d.changed), ["back"]);
        assert_eq!(d.changed[0].old, None);
        assert_eq!(d.changed[0].generation, 2);
        assert!(d.deleted.is_empty() && d.unwatched.is_empty());
    }

    #[test]
    fn under_a_directory_means_inside_it_not_a_name_prefix() {
        assert!(is_under(b"a/b.rs", b"a"));
        assert!(is_under(b"a", b"a"));
        assert!(!is_under(b"ab/c", b"a"));
        assert!(is_under(b"x", b""));
    }

    fn changed(old: Option<FileState>) -> Changed {
        Changed {
            found: found("f", 0, 0),
            old,
            generation: 0,
        }
    }

    #[test]
    fn touched_without_change_when_the_hash_is_the_same() {
        let mut renames = Renames::new(&[]);
        let old = state(3, 10, Some(7));
        let now = state(3, 99, Some(7));
        let c = changed(Some(old));
        assert_eq!(classify(&c, &now, false, &mut renames), Change::Touched);
        // Without hashes, a new time is all there is to go by.
        let c = changed(Some(state(3, 10, None)));
        assert_eq!(
            classify(&c, &state(3, 99, None), false, &mut renames),
            Change::Modified { previous_size: 3 }
        );
    }

    #[test]
    fn modified_when_the_hash_differs() {
        let mut renames = Renames::new(&[]);
        let c = changed(Some(state(3, 10, Some(7))));
        assert_eq!(
            classify(&c, &state(5, 11, Some(8)), false, &mut renames),
            Change::Modified { previous_size: 3 }
        );
        // A stored file changed during an interrupted first sync is still modified.
        assert_eq!(
            classify(&c, &state(5, 11, Some(8)), true, &mut renames),
            Change::Modified { previous_size: 3 }
        );
    }

    #[test]
    fn unknown_files_exist_on_the_first_sync_and_are_created_after_it() {
        let mut renames = Renames::new(&[]);
        let c = changed(None);
        let now = state(3, 10, Some(7));
        assert_eq!(classify(&c, &now, true, &mut renames), Change::Existing);
        assert_eq!(
            classify(&c, &now, false, &mut renames),
            Change::Created { renamed_from: None }
        );
    }

    fn deleted(rel: &str, st: FileState) -> Deleted {
        Deleted {
            rel: rel.as_bytes().to_vec(),
            state: st,
        }
    }

    #[test]
    fn a_creation_pairs_with_the_first_deletion_of_the_same_contents_once() {
        let gone = [
            deleted("a", state(3, 10, Some(7))),
            deleted("b", state(3, 20, Some(7))),
            deleted("c", state(4, 30, Some(9))),
        ];
        let mut renames = Renames::new(&gone);
        let c = changed(None);
        let same = state(3, 50, Some(7));
        assert_eq!(
            classify(&c, &same, false, &mut renames),
            Change::Created {
                renamed_from: Some(0)
            }
        );
        // The first pairing took the contents: a second copy is only created.
        assert_eq!(
            classify(&c, &same, false, &mut renames),
            Change::Created { renamed_from: None }
        );
        assert!(renames.is_paired(0));
        assert!(!renames.is_paired(1) && !renames.is_paired(2));
    }

    #[test]
    fn unhashed_files_pair_by_size_and_time_and_empty_files_never_pair() {
        let gone = [
            deleted("empty", state(0, 10, None)),
            deleted("x", state(3, 20, None)),
        ];
        let mut renames = Renames::new(&gone);
        let c = changed(None);
        assert_eq!(
            classify(&c, &state(0, 10, None), false, &mut renames),
            Change::Created { renamed_from: None }
        );
        assert_eq!(
            classify(&c, &state(3, 21, None), false, &mut renames),
            Change::Created { renamed_from: None }
        );
        assert_eq!(
            classify(&c, &state(3, 20, None), false, &mut renames),
            Change::Created {
                renamed_from: Some(1)
            }
        );
        assert!(!renames.is_paired(0));
    }
}
