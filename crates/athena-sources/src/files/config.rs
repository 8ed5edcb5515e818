//! The `files` source's configuration: a `[[sources]]` entry with `type = "files"`.

use athena_core::config::BATCH_SIZE_RANGE;

athena_core::declare_config! {
    /// Configuration of a `files` source.
    #[derive(Debug, Clone)]
    pub struct FilesConfig {
        /// The directory, relative to the config file.
        #[key(kind = "path")]
        pub path: String,
        /// Only files matching one of these globs (gitignore syntax: `"*.rs"`, `"src/"`).
        #[key(kind = "array of globs", default_text = "`[]` (every file)")]
        pub include: Vec<String> = Vec::new(),
        /// Files and directories to leave out (gitignore syntax); an excluded directory is not
        /// entered.
        #[key(kind = "array of globs")]
        pub exclude: Vec<String> = Vec::new(),
        /// Leave out what `.gitignore`, `.ignore` and `.git/info/exclude` leave out: those in
        /// the tree always, those above it only inside a git work tree; the user's global
        /// excludes are not read, so a tree scans the same on every machine.
        pub respect_gitignore: bool = true,
        /// Hash contents with BLAKE3, so a file touched but not changed yields nothing.
        pub hash: bool = true,
        /// On the first sync, one `file_modified` event per file already there.
        pub emit_existing: bool = true,
        /// Keep the text of a created or modified file of at most this many bytes whose name
        /// ends in one of `keep_text_extensions` in its event's body, so that a search finds
        /// what it says; `0` keeps none. A file that is not UTF-8 text (a NUL byte, invalid
        /// UTF-8) never keeps text.
        #[key(range = 0..=16_777_216)]
        pub keep_text_max_bytes: u64 = 65_536,
        /// The name endings (without the dot, any case) whose text is kept.
        pub keep_text_extensions: Vec<String> = ["md", "markdown", "txt", "text", "org", "rst", "adoc"]
            .iter()
            .map(|e| e.to_string())
            .collect(),
        /// File changes per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = 2_000,
    }
}
