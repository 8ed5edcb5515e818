//! The `files` source's configuration: a `[[sources]]` entry with `type = "files"`.

use athena_core::config::BATCH_SIZE_RANGE;

athena_core::declare_config! {
    /// Configuration of a `files` source.
    #[derive(Debug, Clone)]
    pub struct FilesConfig {
        /// The directory to watch, relative to the config file.
        #[key(kind = "path")]
        pub path: String,
        /// Only files matching one of these globs (gitignore syntax: `*.rs`, `src/**`); none:
        /// every file.
        #[key(kind = "array of globs")]
        pub include: Vec<String> = Vec::new(),
        /// Files and directories matching these globs are left out (gitignore syntax).
        #[key(kind = "array of globs")]
        pub exclude: Vec<String> = Vec::new(),
        /// Leave out what `.gitignore`, `.ignore` and `.git/info/exclude` leave out.
        pub respect_gitignore: bool = true,
        /// Hash contents (BLAKE3): a file touched but not changed yields no event.
        pub hash: bool = true,
        /// On the first sync, one `file_modified` event per file already there.
        pub emit_existing: bool = true,
        /// File changes per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = 2_000,
    }
}
