//! The `git` source's configuration: a `[[sources]]` entry with `type = "git"`.

use std::path::PathBuf;

use athena_core::config::BATCH_SIZE_RANGE;
use serde::{Deserialize, Serialize};

athena_core::declare_config! {
    /// Configuration of a `git` source.
    #[derive(Debug, Clone)]
    pub struct GitConfig {
        /// The repository: a work tree or a bare repository, relative to the config file.
        pub path: PathBuf,
        /// Branches or refs to follow: `main`, `origin/main`, `refs/tags/v1`, `HEAD`.
        #[key(default_text = "[\"HEAD\"]")]
        pub branches: Vec<String> = Vec::new(),
        /// Attach each commit's diff text (zero context lines) to its event.
        pub include_diff: bool = false,
        /// Cap on the diff text per commit, in bytes; a longer diff is cut and
        /// `diff_truncated` is set.
        #[key(range = 0..=1 << 30)]
        pub max_diff_bytes: usize = 64 * 1024,
        /// Which diff a merge commit gets: `"none"` lists no files, like `git log`;
        /// `"first-parent"` diffs against the first parent.
        pub merge_diffs: MergeDiffs = MergeDiffs::None,
        /// Commits per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = 1000,
        /// Threads computing diffs.
        #[key(range = 1..=256, default_text = "number of cores")]
        pub threads: Option<usize> = None,
    }
}

/// What diff a merge commit gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MergeDiffs {
    /// No files, like `git log --numstat`.
    #[default]
    None,
    /// The diff against the first parent, like `git log --first-parent -m`.
    FirstParent,
}

athena_core::config_enum!(MergeDiffs);

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::config::Declared;
    use athena_core::SourceConfig;

    fn parse(text: &str) -> Result<GitConfig, athena_core::ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        SourceConfig::new("g", "git", table).parse()
    }

    #[test]
    fn every_listed_key_is_accepted_and_defaults_hold() {
        let all = r#"
            path = "."
            branches = ["main"]
            include_diff = true
            max_diff_bytes = 10
            merge_diffs = "first-parent"
            batch_size = 5
            threads = 1
        "#;
        let table: toml::Table = toml::from_str(all).unwrap();
        let listed: Vec<&str> = GitConfig::keys().iter().map(|k| k.name).collect();
        assert_eq!(
            table.keys().map(String::as_str).collect::<Vec<_>>().len(),
            listed.len()
        );
        for name in &listed {
            assert!(
                table.contains_key(*name),
                "{name} is listed but not in the sample"
            );
        }
        let c = parse(all).unwrap();
        assert_eq!(c.merge_diffs, MergeDiffs::FirstParent);
        let d = parse("path = \"x\"").unwrap();
        assert!(d.branches.is_empty() && !d.include_diff);
        assert_eq!(
            (d.max_diff_bytes, d.batch_size, d.merge_diffs),
            (65536, 1000, MergeDiffs::None)
        );
        for k in GitConfig::keys() {
            assert_eq!(k.required, k.name == "path", "{}", k.name);
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = parse("path = \".\"\nmerge_diffs = \"all\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("merge_diffs"));
        let e = parse("branches = []").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("path"));
    }
}
