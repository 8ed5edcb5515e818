//! The `files` source's configuration: a `[[sources]]` entry with `type = "files"`.

use athena_core::ConfigKey;
use serde::Deserialize;

/// Configuration of a `files` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// The directory to watch, relative to the config file.
    pub path: String,
    /// Only files matching one of these globs (gitignore syntax: `*.rs`, `src/**`).
    #[serde(default)]
    pub include: Vec<String>,
    /// Files and directories matching these globs are left out (gitignore syntax).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Leave out what `.gitignore`, `.ignore` and `.git/info/exclude` leave out.
    #[serde(default = "yes")]
    pub respect_gitignore: bool,
    /// Hash contents (BLAKE3): a file touched but not changed yields no event.
    #[serde(default = "yes")]
    pub hash: bool,
    /// On the first sync, one `file_modified` event per file already there.
    #[serde(default = "yes")]
    pub emit_existing: bool,
    /// File changes per stored batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn yes() -> bool {
    true
}

fn default_batch_size() -> usize {
    2_000
}

/// The keys `athena-ingest sources` lists for `files`.
pub(crate) fn keys() -> Vec<ConfigKey> {
    vec![
        ConfigKey {
            name: "path",
            kind: "path",
            required: true,
            default: None,
            doc: "the directory to watch, relative to the config file",
        },
        ConfigKey {
            name: "include",
            kind: "array of globs",
            required: false,
            default: Some("[] (every file)"),
            doc: "only files matching one of these (gitignore syntax: \"*.rs\", \"src/**\")",
        },
        ConfigKey {
            name: "exclude",
            kind: "array of globs",
            required: false,
            default: Some("[]"),
            doc: "files and directories to leave out (gitignore syntax)",
        },
        ConfigKey {
            name: "respect_gitignore",
            kind: "boolean",
            required: false,
            default: Some("true"),
            doc: "leave out what .gitignore, .ignore and .git/info/exclude leave out",
        },
        ConfigKey {
            name: "hash",
            kind: "boolean",
            required: false,
            default: Some("true"),
            doc: "hash contents (BLAKE3); a file touched but unchanged yields nothing",
        },
        ConfigKey {
            name: "emit_existing",
            kind: "boolean",
            required: false,
            default: Some("true"),
            doc: "first sync: one file_modified event per file already there",
        },
        ConfigKey {
            name: "batch_size",
            kind: "integer",
            required: false,
            default: Some("2000"),
            doc: "file changes per stored batch",
        },
    ]
}
