//! The `files` source: walks the tree, compares it with the per-file state in the store, and
//! reports what was created, modified or deleted since the last sync.
//!
//! A file whose size and modification time are as stored is not opened. Otherwise its contents
//! are hashed (on one thread per core): an unchanged hash means the file was only touched, which
//! updates the stored time and yields no event. Each batch carries the events and the state
//! changes they describe, so they are stored together.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use athena_core::kit::{BlockingSource, Context, Limits, ReadError, Stopped};
use athena_core::{
    ConfigError, SourceConfig, SourceError, SourceInfo, SourceState, SourceStats, Watch,
};
use chrono::Utc;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::{Override, OverrideBuilder};

use super::config::FilesConfig;
use super::cursor::FilesCursor;
use super::diff::{diff, Changed, Diff, StateMap};
use super::emit::{Emitter, Plan};
use super::hash::{hash_all, settle};
use super::scan::{scan, Problem, Scan, ScanOptions};
use super::state::FileState;
use super::text::KeepText;

/// Reports changes under a directory as `file_created`, `file_modified` and `file_deleted`
/// (run by the kit's [`Blocking`](athena_core::kit::Blocking)).
pub struct FilesSource {
    info: SourceInfo,
    config: FilesConfig,
    root: PathBuf,
    include: Option<Gitignore>,
    store_files: Vec<PathBuf>,
    /// Bytes hashed, over every sync.
    bytes: AtomicU64,
    keep_text: KeepText,
}

impl FilesSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: FilesConfig = config.parse()?;
        if c.path.is_empty() {
            return Err(config.error(Some("path"), "needs a directory"));
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
            keep_text: KeepText::new(c.keep_text_max_bytes, &c.keep_text_extensions),
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "files".into(),
                name: format!("files {}", c.path),
            },
            config: c,
            root,
            include,
            store_files,
            bytes: AtomicU64::new(0),
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

impl BlockingSource for FilesSource {
    fn watch(&self) -> Option<Watch> {
        let excluded = exclude_overrides(&self.root, &self.config.exclude)
            .unwrap_or_else(|_| Override::empty());
        Some(super::watch::watch(
            &self.root,
            &self.store_files,
            excluded,
            self.config.respect_gitignore,
        ))
    }

    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn validate(&self) -> Result<(), SourceError> {
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

    fn limits(&self) -> Limits {
        Limits::items(self.config.batch_size)
    }

    /// One sync: walk, compare with the store, hash what may have changed, tell the rest.
    fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let saved = FilesCursor::saved(ctx.take_cursor(), &self.info.id)?;
        let stored = stored_state(ctx.take_state());
        let tree = self.tree()?;
        let scan_started_ns = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let scanned = tree.walk();
        let unreadable: Vec<&[u8]> = scanned.problems.iter().map(|p| p.rel.as_slice()).collect();
        let found = diff(stored, scanned.files, &unreadable, |rel| tree.is_file(rel));

        let initial = !saved.complete;
        if !initial && found.is_empty() && scanned.problems.is_empty() {
            return Ok(()); // nothing to store, not even the cursor
        }
        let Diff {
            changed,
            deleted,
            unwatched,
        } = found;
        let mut out = Emitter::new(
            &mut ctx.sink,
            &deleted,
            Plan {
                source_id: &self.info.id,
                root: &tree.root,
                batch_size: self.config.batch_size,
                initial,
                emit_existing: self.config.emit_existing,
                total: (changed.len() + deleted.len()) as u64,
                keep_text: &self.keep_text,
            },
        );
        out.problems(&scanned.problems)?;
        out.unwatched(unwatched);
        self.changes(&mut out, &tree, &changed, scan_started_ns)?;
        out.deletions()?;
        out.finish()?;
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            ..SourceStats::default()
        }
    }
}

/// The directory as one sync sees it: its canonical path, and the matchers built for it.
struct Tree {
    root: PathBuf,
    include: Option<Gitignore>,
    options: ScanOptions,
}

impl Tree {
    fn path(&self, rel: &[u8]) -> PathBuf {
        self.root.join(std::ffi::OsStr::from_bytes(rel))
    }

    /// The files of the tree (with `include` applied), and what could not be read.
    fn walk(&self) -> Scan {
        let mut scanned = scan(&self.root, &self.options);
        if let Some(include) = &self.include {
            scanned.files.retain(|f| {
                include
                    .matched_path_or_any_parents(
                        Path::new(std::ffi::OsStr::from_bytes(&f.rel)),
                        false,
                    )
                    .is_ignore()
            });
        }
        scanned
    }

    /// Whether `rel` is a regular file now (a symbolic link is not).
    fn is_file(&self, rel: &[u8]) -> bool {
        std::fs::symlink_metadata(self.path(rel)).is_ok_and(|m| m.is_file())
    }
}

/// The stored per-file state; values this release cannot read are left out (their files are
/// then new).
fn stored_state(state: SourceState) -> StateMap {
    let mut map = StateMap::default();
    map.reserve(state.len());
    map.extend(
        state
            .into_iter()
            .filter_map(|(k, v)| FileState::decode(&v).map(|s| (k, s))),
    );
    map
}

/// Walking threads, and hashing threads.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl FilesSource {
    fn tree(&self) -> Result<Tree, SourceError> {
        let id = &self.info.id;
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| SourceError::path(id, &self.root, e.to_string()))?;
        let overrides = exclude_overrides(&root, &self.config.exclude)
            .map_err(|e| SourceError::failed(id, format!("exclude: {e}")))?;
        let include = match &self.include {
            // Matchers are relative to the root they were built for: rebuild for the real one.
            Some(_) => include_matcher(&root, &self.config.include)
                .map_err(|e| SourceError::failed(id, format!("include: {e}")))?,
            None => None,
        };
        let skip = self
            .store_files
            .iter()
            .filter_map(|p| canonical_file(p))
            .collect();
        Ok(Tree {
            root,
            include,
            options: ScanOptions {
                respect_gitignore: self.config.respect_gitignore,
                overrides,
                skip,
                threads: threads(),
            },
        })
    }

    /// Hashes the changed files a chunk at a time and tells each one.
    fn changes(
        &self,
        out: &mut Emitter<'_>,
        tree: &Tree,
        changed: &[Changed],
        scan_started_ns: i64,
    ) -> Result<(), Stopped> {
        let threads = threads();
        for chunk in changed.chunks(self.config.batch_size.clamp(64, 4096)) {
            let hashes = if self.config.hash {
                hash_all(&tree.root, chunk, threads, &self.bytes)
            } else {
                chunk.iter().map(|_| Ok(None)).collect()
            };
            for (changed, hashed) in chunk.iter().zip(hashes) {
                match hashed {
                    Ok(h) => {
                        let settled = settle(changed, h, scan_started_ns);
                        out.change(changed, settled)?;
                    }
                    // Gone since the walk: the next sync sees it as deleted.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => out.problems(&[Problem {
                        rel: changed.found.rel.clone(),
                        message: format!("cannot read: {e}"),
                    }])?,
                }
            }
        }
        Ok(())
    }
}

/// A file's canonical path, when its directory exists (the file itself may not yet).
fn canonical_file(path: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(path.parent()?).ok()?;
    Some(dir.join(path.file_name()?))
}
