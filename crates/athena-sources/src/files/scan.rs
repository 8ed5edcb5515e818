//! Walking the tree: every regular file not left out, with its size and modification time.
//!
//! The walk runs on one thread per core (the `ignore` crate's parallel walker, which also reads
//! `.gitignore` files as it goes). Only what `stat` says is collected; contents are read later,
//! and only for files whose size or time changed.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::overrides::Override;
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

/// A regular file found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Path relative to the root, `/`-separated, as raw bytes (names need not be UTF-8).
    pub rel: Vec<u8>,
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

/// Something the walk could not read: a directory, a file's metadata, an ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Relative to the root when it is under it (empty: the root itself).
    pub rel: Vec<u8>,
    pub message: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Sorted by path.
    pub files: Vec<Found>,
    pub problems: Vec<Problem>,
}

/// How to walk.
pub(crate) struct ScanOptions {
    pub respect_gitignore: bool,
    pub overrides: Override,
    /// Files never reported (the event store and its companions), as absolute paths.
    pub skip: Vec<PathBuf>,
    pub threads: usize,
}

/// Walks `root` (an absolute, canonical directory).
pub(crate) fn scan(root: &Path, options: &ScanOptions) -> Scan {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .follow_links(false)
        // Ignore files above the root count inside a git work tree only: elsewhere a home
        // directory's ~/.gitignore (often a global excludes file) would hide files silently.
        .parents(options.respect_gitignore && in_git_work_tree(root))
        .ignore(options.respect_gitignore)
        .git_ignore(options.respect_gitignore)
        .git_exclude(options.respect_gitignore)
        // Outside a git work tree, a .gitignore still means what it says.
        .require_git(false)
        // The user's global excludes would make the same tree scan differently per machine.
        .git_global(false)
        .overrides(options.overrides.clone())
        .threads(options.threads.max(1))
        .filter_entry(|e| e.file_name() != ".git");
    let shared = Arc::new(Mutex::new(Scan::default()));
    let mut visitors = Visitors {
        root,
        skip: &options.skip,
        shared: shared.clone(),
    };
    builder.build_parallel().visit(&mut visitors);
    drop(visitors);
    let mut scan = Arc::try_unwrap(shared)
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .unwrap_or_else(|arc| std::mem::take(&mut *arc.lock().unwrap_or_else(|p| p.into_inner())));
    scan.files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    scan.problems.sort_by(|a, b| a.rel.cmp(&b.rel));
    scan
}

struct Visitors<'a> {
    root: &'a Path,
    skip: &'a [PathBuf],
    shared: Arc<Mutex<Scan>>,
}

impl<'s> ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            skip: self.skip,
            local: Scan::default(),
            shared: self.shared.clone(),
        })
    }
}

/// One walking thread: collects locally, hands everything over once, when it is dropped.
struct Visitor<'a> {
    root: &'a Path,
    skip: &'a [PathBuf],
    local: Scan,
    shared: Arc<Mutex<Scan>>,
}

impl Visitor<'_> {
    fn rel(&self, path: &Path) -> Vec<u8> {
        // The walker joins names onto the root it was given: cut it off as bytes.
        let bytes = path.as_os_str().as_bytes();
        let root = self.root.as_os_str().as_bytes();
        match bytes.strip_prefix(root) {
            Some(rest) => rest.strip_prefix(b"/").unwrap_or(rest).to_vec(),
            None => bytes.to_vec(),
        }
    }

    fn problem(&mut self, path: Option<&Path>, err: &ignore::Error) {
        let rel = path.map(|p| self.rel(p)).unwrap_or_default();
        self.local.problems.push(Problem {
            rel,
            message: describe(err),
        });
    }

    fn entry(&mut self, entry: DirEntry) {
        if let Some(err) = entry.error() {
            // A bad ignore file: the walk goes on without its bad lines.
            self.problem(error_path(err), err);
        }
        let Some(file_type) = entry.file_type() else {
            return;
        };
        let path = entry.path().as_os_str();
        if !file_type.is_file() || self.skip.iter().any(|s| s.as_os_str() == path) {
            return;
        }
        match entry.metadata() {
            Ok(meta) => {
                let mtime_ns = meta
                    .mtime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.mtime_nsec());
                let rel = self.rel(entry.path());
                self.local.files.push(Found {
                    rel,
                    size: meta.len(),
                    mtime_ns,
                });
            }
            Err(err) => self.problem(Some(entry.path()), &err),
        }
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(entry) => self.entry(entry),
            Err(err) => self.problem(error_path(&err), &err),
        }
        WalkState::Continue
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let local = std::mem::take(&mut self.local);
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.files.extend(local.files);
        shared.problems.extend(local.problems);
    }
}

/// Whether `dir` or a directory above it holds `.git`.
fn in_git_work_tree(dir: &Path) -> bool {
    dir.ancestors().any(|d| d.join(".git").exists())
}

/// The path an error is about, however deeply the walker wrapped it.
fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

/// The error without its path (the problem carries the path itself).
fn describe(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => describe(err),
        ignore::Error::Partial(errs) => errs.iter().map(describe).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}
