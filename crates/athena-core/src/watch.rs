//! What a source asks to be watched when it runs live (`serve`, `schedule = "live"`): the paths
//! whose changes may mean new events, and which changed paths count.
//!
//! A source only describes; `serve` does the watching (with the `notify` crate) and runs the
//! source again soon after a relevant change. A run always reads from the stored cursor, so a
//! missed or spurious change costs latency or a little work, never an event: a periodic run
//! reconciles whatever the watch missed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A path to watch for changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPath {
    /// A directory (its entries are watched) or a file.
    pub path: PathBuf,
    /// Whether the directories under `path` are watched too.
    pub recursive: bool,
}

/// What a live source wants watched (see the module doc).
#[derive(Clone)]
pub struct Watch {
    paths: Vec<WatchPath>,
    relevant: Arc<dyn Fn(&Path) -> bool + Send + Sync>,
}

impl Watch {
    /// Watches `paths`; every change under them is relevant until [`Self::only`] narrows it.
    pub fn new(paths: Vec<WatchPath>) -> Self {
        Watch {
            paths,
            relevant: Arc::new(|_| true),
        }
    }

    /// Counts only the changed paths for which `relevant` is true (a log directory holds
    /// other files; a repository's refs hold lock files).
    pub fn only(mut self, relevant: impl Fn(&Path) -> bool + Send + Sync + 'static) -> Self {
        self.relevant = Arc::new(relevant);
        self
    }

    /// The paths to watch.
    pub fn paths(&self) -> &[WatchPath] {
        &self.paths
    }

    /// Whether a change of `path` may mean new events.
    pub fn is_relevant(&self, path: &Path) -> bool {
        (self.relevant)(path)
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_relevant_until_narrowed() {
        let dir = WatchPath {
            path: PathBuf::from("/logs"),
            recursive: false,
        };
        let all = Watch::new(vec![dir.clone()]);
        assert!(all.is_relevant(Path::new("/logs/other.txt")));
        let logs = all.only(|p| p.extension().is_some_and(|e| e == "log"));
        assert!(logs.is_relevant(Path::new("/logs/access.log")));
        assert!(!logs.is_relevant(Path::new("/logs/other.txt")));
        assert_eq!(logs.paths(), &[dir]);
    }
}
