//! `type = "files"`: files created, modified and deleted under a directory, found by scanning
//! it on each sync.
//!
//! - `source`: the source, one sync as named steps: walk, diff, hash, emit.
//! - `scan`: the walk (`.gitignore` and `exclude` honoured) collecting size and time per file.
//! - `diff`: the stored state against the walk, and what happened to each changed file (pure).
//! - `hash`: hashing contents, and the state a hashed file is stored with.
//! - `emit`: events, state rows and dead letters into the kit's sink, checkpointed per file
//!   change. `event`: the events and their ids.
//! - `state`: the bytes stored per file; `cursor`: the cursor; `language`: a language from the
//!   file name; `text`: which files keep their text in the body; `config`: the keys.
//!
//! Per-file state lives in the store's `source_state` table, changed by the same transaction
//! as the events (see `athena_core::Batch::state`); the cursor only says whether the first scan
//! was stored completely.

mod config;
mod cursor;
mod diff;
mod emit;
mod event;
mod hash;
mod language;
mod scan;
mod source;
mod state;
mod text;
mod watch;

use std::sync::Arc;

use athena_core::kit::Blocking;
use athena_core::{EventSource, SourceType};

pub use config::FilesConfig;
pub use source::FilesSource;

/// The registry entry of the `files` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "files",
        "files created, modified and deleted under a directory (.gitignore honoured)",
        <config::FilesConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Blocking::new(FilesSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("live")
    .with_episode(&["{root}"])
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# Files created, modified and deleted under a directory (.gitignore honoured).
# [[sources]]
# id = "notes"
# type = "files"
# path = "notes"
# exclude = ["*.tmp", "build/"]
"#;
