//! Watching a live source's paths (the `notify` crate: inotify on Linux) and waking its worker.
//!
//! Only changes of content and names count: reading a file (open, close, access time) is not a
//! change, or a source reading its own files would wake itself forever. The store's files never
//! count either. A queue overflow (`need_rescan`) counts as a change: the next run reads from
//! the stored cursor and finds whatever was missed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use athena_core::Watch;
use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::Notify;

/// A running watch. Dropping it stops watching.
pub(super) struct Watcher {
    changed: Arc<Notify>,
    /// Whether every path is being watched; when not, the worker polls.
    complete: bool,
    _inner: Option<RecommendedWatcher>,
}

impl Watcher {
    /// Starts watching what `watch` names, leaving out the store's files. A path that cannot
    /// be watched (missing, out of inotify watches) is logged once and makes the watch
    /// incomplete. Blocking: a recursive watch walks its tree.
    pub(super) fn start(source_id: &str, watch: Watch, store: StoreFiles) -> Watcher {
        let changed = Arc::new(Notify::new());
        let wake = changed.clone();
        let relevant = watch.clone();
        let handler = move |result: notify::Result<notify::Event>| {
            let Ok(event) = result else {
                // An error of the backend (its queue overflowed, say): look anyway.
                wake.notify_one();
                return;
            };
            if event.need_rescan()
                || (is_change(&event.kind)
                    && event
                        .paths
                        .iter()
                        .any(|p| !store.contains(p) && relevant.is_relevant(p)))
            {
                wake.notify_one();
            }
        };
        let mut inner = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(source = %source_id, "cannot watch for changes, polling instead: {e}");
                return Watcher {
                    changed,
                    complete: false,
                    _inner: None,
                };
            }
        };
        let mut complete = true;
        for path in watch.paths() {
            let mode = if path.recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            if let Err(e) = inner.watch(&path.path, mode) {
                complete = false;
                tracing::warn!(
                    source = %source_id,
                    path = %path.path.display(),
                    "cannot watch for changes, polling instead: {e}"
                );
            }
        }
        Watcher {
            changed,
            complete,
            _inner: Some(inner),
        }
    }

    /// A watcher that watches nothing (a source with no [`Watch`]): its worker polls.
    pub(super) fn none() -> Watcher {
        Watcher {
            changed: Arc::new(Notify::new()),
            complete: false,
            _inner: None,
        }
    }

    /// Whether every path is watched.
    pub(super) fn is_complete(&self) -> bool {
        self.complete
    }

    /// Resolves at the first relevant change since the last call (at once if one came in
    /// meanwhile).
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Forgets the changes seen so far (the run about to start reads them).
    pub(super) fn clear(&self) {
        use futures_util::FutureExt;
        // The stored permit, if any, is taken at once.
        let _ = self.changed.notified().now_or_never();
    }
}

/// Whether an event of this kind can mean new data: creation, removal, renaming and writing,
/// not opening, reading or a change of permissions or access time.
fn is_change(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
    )
}

/// The store's file and those SQLite and the lock keep beside it, recognised however a
/// watched path names them (through a symlink, or `..`): by file name, then by directory.
#[derive(Debug, Clone)]
pub(super) struct StoreFiles {
    /// The store's directory, canonical when it can be made so.
    dir: PathBuf,
    names: Vec<OsString>,
}

impl StoreFiles {
    /// The files of the store at `db`; none for a store that is no file (PostgreSQL).
    pub(super) fn of(db: Option<&Path>) -> StoreFiles {
        let Some(db) = db else {
            return StoreFiles {
                dir: PathBuf::new(),
                names: Vec::new(),
            };
        };
        let name = db.file_name().unwrap_or_default();
        let names = ["", "-wal", "-shm", "-journal", ".lock"]
            .iter()
            .map(|suffix| {
                let mut n = name.to_owned();
                n.push(suffix);
                n
            })
            .collect();
        let dir = db.parent().unwrap_or(Path::new("."));
        StoreFiles {
            dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
            names,
        }
    }

    /// Whether `path` is one of them. Only a path with one of their names costs a lookup.
    pub(super) fn contains(&self, path: &Path) -> bool {
        let named = path
            .file_name()
            .is_some_and(|n| self.names.iter().any(|s| s == n));
        named
            && path.parent().is_some_and(|dir| {
                dir == self.dir || std::fs::canonicalize(dir).is_ok_and(|d| d == self.dir)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::WatchPath;
    use std::time::Duration;

    fn watch_dir(dir: &Path) -> Watch {
        Watch::new(vec![WatchPath {
            path: dir.to_path_buf(),
            recursive: false,
        }])
        .only(|p| p.extension().is_some_and(|e| e == "log"))
    }

    async fn woke(w: &Watcher) -> bool {
        tokio::time::timeout(Duration::from_secs(2), w.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_write_wakes_and_a_read_or_an_irrelevant_file_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        std::fs::write(&log, "one\n").unwrap();
        let db = dir.path().join("athena.log");
        let w = Watcher::start("t", watch_dir(dir.path()), StoreFiles::of(Some(&db)));
        assert!(w.is_complete());
        w.clear();

        std::fs::read(&log).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        std::fs::write(&db, "store").unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(300), w.changed()).await;
        assert!(
            quiet.is_err(),
            "woke on a read, an irrelevant file or the store"
        );

        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"two\n").unwrap();
        assert!(woke(&w).await, "an append did not wake the watcher");
    }

    #[test]
    fn the_store_is_recognised_through_a_symlink_or_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("data"), dir.path().join("link")).unwrap();
        let store = StoreFiles::of(Some(&dir.path().join("data/athena.db")));
        assert!(store.contains(&dir.path().join("data/athena.db-wal")));
        assert!(store.contains(&dir.path().join("link/athena.db-wal")));
        assert!(store.contains(&dir.path().join("link/../data/athena.db.lock")));
        assert!(!store.contains(&dir.path().join("link/other.db-wal")));
        assert!(!store.contains(&dir.path().join("athena.db")));
    }

    #[tokio::test]
    async fn a_missing_directory_makes_the_watch_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreFiles::of(Some(&dir.path().join("athena.db")));
        let w = Watcher::start("t", watch_dir(&dir.path().join("nope")), store);
        assert!(!w.is_complete());
        assert!(!Watcher::none().is_complete());
    }
}
