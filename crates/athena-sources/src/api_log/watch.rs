//! What a live api_log watches: the directory each pattern's files live in (a file's own
//! directory, so a rotation or a new file is seen), and only changes of paths a pattern matches.

use std::path::{Component, Path, PathBuf};

use athena_core::{Watch, WatchPath};

/// The watch of `patterns` (resolved, absolute), leaving out `excluded` paths.
pub(super) fn watch(patterns: &[String], excluded: &[PathBuf]) -> Watch {
    let paths = patterns.iter().map(|p| base(Path::new(p))).collect();
    let globs: Vec<glob::Pattern> = patterns
        .iter()
        .filter_map(|p| glob::Pattern::new(p).ok())
        .collect();
    let excluded = excluded.to_vec();
    Watch::new(paths).only(move |path| {
        !excluded.iter().any(|e| e == path) && globs.iter().any(|g| g.matches_path(path))
    })
}

/// The directory above a pattern's first glob component, and whether the glob reaches into
/// directories below it (`logs/*/access.log`, `logs/**`).
fn base(pattern: &Path) -> WatchPath {
    let components: Vec<Component> = pattern.components().collect();
    let first_glob = components
        .iter()
        .position(|c| c.as_os_str().to_string_lossy().contains(['*', '?', '[']));
    match first_glob {
        Some(i) => WatchPath {
            path: components[..i].iter().collect(),
            recursive: i + 1 < components.len() || pattern.to_string_lossy().contains("**"),
        },
        None => WatchPath {
            path: pattern
                .parent()
                .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
            recursive: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str, recursive: bool) -> WatchPath {
        WatchPath {
            path: PathBuf::from(path),
            recursive,
        }
    }

    #[test]
    fn a_file_is_watched_through_its_directory_and_a_glob_from_above_its_first_wildcard() {
        assert_eq!(
            base(Path::new("/var/log/app/access.log")),
            at("/var/log/app", false)
        );
        assert_eq!(
            base(Path::new("/var/log/app/*.log")),
            at("/var/log/app", false)
        );
        assert_eq!(
            base(Path::new("/var/log/*/access.log")),
            at("/var/log", true)
        );
        assert_eq!(base(Path::new("/srv/**/access.log")), at("/srv", true));
    }

    #[test]
    fn only_paths_a_pattern_matches_are_relevant_and_never_the_store() {
        let w = watch(
            &["/logs/*.log".to_string()],
            &[PathBuf::from("/logs/athena.db.log")],
        );
        assert!(w.is_relevant(Path::new("/logs/access.log")));
        assert!(!w.is_relevant(Path::new("/logs/access.log.1")));
        assert!(!w.is_relevant(Path::new("/logs/notes.txt")));
        assert!(!w.is_relevant(Path::new("/logs/athena.db.log")));
    }
}
