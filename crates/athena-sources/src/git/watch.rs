//! What a live git source watches: the refs and `packed-refs` of its repository, where a new
//! commit on a followed branch shows first. Lock files git writes on the way are not changes.

use std::path::{Path, PathBuf};

use athena_core::{Watch, WatchPath};

/// The watch of the repository at `path` (a work tree or a bare repository).
pub(super) fn watch(path: &Path) -> Watch {
    let git_dir = git_dir(path);
    // A linked work tree keeps its HEAD in its own git dir and the refs in the common one.
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .map(|dir| git_dir.join(dir.trim()))
        .unwrap_or_else(|_| git_dir.clone());
    let refs = common.join("refs");
    let mut paths = vec![
        WatchPath {
            path: git_dir.clone(),
            recursive: false,
        },
        WatchPath {
            path: refs.clone(),
            recursive: true,
        },
    ];
    if common != git_dir {
        paths.push(WatchPath {
            path: common.clone(),
            recursive: false,
        });
    }
    Watch::new(paths).only(move |changed| {
        let name = changed.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".lock") {
            return false;
        }
        let top = |dir: &PathBuf| changed.parent() == Some(dir.as_path());
        changed.starts_with(&refs)
            || (top(&git_dir) && name == "HEAD")
            || ((top(&git_dir) || top(&common)) && name == "packed-refs")
    })
}

/// `path/.git` for a work tree (following a `gitdir:` file of a linked work tree), else
/// `path` itself (a bare repository).
fn git_dir(path: &Path) -> PathBuf {
    let dot_git = path.join(".git");
    if dot_git.is_dir() {
        return dot_git;
    }
    if let Ok(text) = std::fs::read_to_string(&dot_git) {
        if let Some(dir) = text.trim().strip_prefix("gitdir:") {
            return path.join(dir.trim());
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_packed_refs_are_relevant_and_lock_files_and_objects_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git/refs/heads")).unwrap();
        let w = watch(dir.path());
        let git = dir.path().join(".git");
        assert_eq!(w.paths()[0].path, git);
        assert!(w.is_relevant(&git.join("refs/heads/main")));
        assert!(w.is_relevant(&git.join("packed-refs")));
        assert!(w.is_relevant(&git.join("HEAD")));
        assert!(!w.is_relevant(&git.join("refs/heads/main.lock")));
        assert!(!w.is_relevant(&git.join("index")));
        assert!(!w.is_relevant(&git.join("objects/ab/cdef")));
    }

    #[test]
    fn a_linked_work_tree_is_watched_in_the_common_dir_for_its_refs() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main/.git");
        let linked = main.join("worktrees/wt");
        std::fs::create_dir_all(main.join("refs/heads")).unwrap();
        std::fs::create_dir_all(&linked).unwrap();
        std::fs::write(linked.join("commondir"), "../..\n").unwrap();
        std::fs::create_dir(dir.path().join("wt")).unwrap();
        let gitdir = format!("gitdir: {}\n", linked.display());
        std::fs::write(dir.path().join("wt/.git"), gitdir).unwrap();
        let w = watch(&dir.path().join("wt"));
        let common = linked.join("../..");
        assert!(w.is_relevant(&common.join("refs/heads/main")));
        assert!(w.is_relevant(&common.join("packed-refs")));
        assert!(w.is_relevant(&linked.join("HEAD")));
        assert!(w.paths().iter().any(|p| p.path == common.join("refs")));
    }

    #[test]
    fn a_bare_repository_is_its_own_git_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(git_dir(dir.path()), dir.path());
    }
}
