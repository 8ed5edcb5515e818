//! The `git` source's configuration: a `[[sources]]` entry with `type = "git"`.

use std::path::PathBuf;

use athena_core::ConfigKey;
use serde::Deserialize;

/// Configuration of a `git` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitConfig {
    /// The repository: a work tree or a bare repository, relative to the config file.
    pub path: PathBuf,
    /// Branches to follow (`main`, `refs/remotes/origin/main`, `HEAD`). Default: `HEAD`.
    #[serde(default)]
    pub branches: Vec<String>,
    /// Attach each commit's diff text (without context lines) to the event.
    #[serde(default)]
    pub include_diff: bool,
    /// Cap on the diff text per commit, in bytes; longer diffs are cut and flagged.
    #[serde(default = "default_max_diff_bytes")]
    pub max_diff_bytes: usize,
    /// Which diff a merge commit gets: `none` (like `git log`) or `first-parent`.
    #[serde(default)]
    pub merge_diffs: MergeDiffs,
    /// Commits per stored batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Threads computing diffs. Default: the number of cores.
    #[serde(default)]
    pub threads: Option<usize>,
}

/// What diff a merge commit gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MergeDiffs {
    /// No files, like `git log --numstat`.
    #[default]
    None,
    /// The diff against the first parent, like `git log --first-parent -m`.
    FirstParent,
}

fn default_max_diff_bytes() -> usize {
    64 * 1024
}

fn default_batch_size() -> usize {
    1000
}

/// The keys `athena-ingest sources` lists for `git`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        ConfigKey {
            name: "path",
            kind: "path",
            required: true,
            default: None,
            doc: "the repository, work tree or bare, relative to the config file",
        },
        ConfigKey {
            name: "branches",
            kind: "array of strings",
            required: false,
            default: Some("[\"HEAD\"]"),
            doc: "branches or refs to follow",
        },
        ConfigKey {
            name: "include_diff",
            kind: "bool",
            required: false,
            default: Some("false"),
            doc: "attach the diff text to each commit",
        },
        ConfigKey {
            name: "max_diff_bytes",
            kind: "integer",
            required: false,
            default: Some("65536"),
            doc: "cap on the diff text per commit",
        },
        ConfigKey {
            name: "merge_diffs",
            kind: "\"none\" | \"first-parent\"",
            required: false,
            default: Some("\"none\""),
            doc: "what a merge commit's files are diffed against",
        },
        ConfigKey {
            name: "batch_size",
            kind: "integer",
            required: false,
            default: Some("1000"),
            doc: "commits per stored batch",
        },
        ConfigKey {
            name: "threads",
            kind: "integer",
            required: false,
            default: Some("number of cores"),
            doc: "threads computing diffs",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let listed: Vec<&str> = keys().iter().map(|k| k.name).collect();
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
        for k in keys() {
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
