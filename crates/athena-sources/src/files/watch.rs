//! What a live files source watches: its whole tree, leaving out what a scan would not look at
//! (the store's files, `.git`, `exclude` globs, and the root's `.gitignore` when it is
//! respected), so a build writing into an ignored `target/` does not keep rescanning the tree.

use std::path::{Component, Path, PathBuf};

use athena_core::{Watch, WatchPath};
use ignore::gitignore::Gitignore;
use ignore::overrides::Override;

/// The watch of the tree at `root`.
pub(super) fn watch(
    root: &Path,
    store_files: &[PathBuf],
    excluded: Override,
    respect_gitignore: bool,
) -> Watch {
    let ignored = respect_gitignore.then(|| Gitignore::new(root.join(".gitignore")).0);
    let store_files = store_files.to_vec();
    let root_path = root.to_path_buf();
    Watch::new(vec![WatchPath {
        path: root.to_path_buf(),
        recursive: true,
    }])
    .only(move |path| {
        let Ok(inside) = path.strip_prefix(&root_path) else {
            return false;
        };
        if store_files.iter().any(|f| f == path)
            || inside
                .components()
                .any(|c| c == Component::Normal(".git".as_ref()))
        {
            return false;
        }
        // A deleted path cannot say whether it was a directory; as a file it is matched by
        // patterns of files and, through its parents, of directories.
        if excluded.matched(path, false).is_ignore() {
            return false;
        }
        !ignored
            .as_ref()
            .is_some_and(|g| g.matched_path_or_any_parents(path, false).is_ignore())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignore::overrides::OverrideBuilder;

    #[test]
    fn the_store_git_excluded_and_gitignored_paths_are_not_relevant() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
        let mut b = OverrideBuilder::new(root);
        b.add("!*.tmp").unwrap();
        let store = root.join("athena.db-wal");
        let w = watch(root, std::slice::from_ref(&store), b.build().unwrap(), true);
        assert!(w.is_relevant(&root.join("src/main.rs")));
        assert!(!w.is_relevant(&store));
        assert!(!w.is_relevant(&root.join(".git/index")));
        assert!(!w.is_relevant(&root.join("notes.tmp")));
        assert!(!w.is_relevant(&root.join("target/debug/app")));
        assert!(!w.is_relevant(Path::new("/elsewhere/file")));
    }
}
