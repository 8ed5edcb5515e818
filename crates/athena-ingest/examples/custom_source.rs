//! A complete custom source: every line of a notes file becomes a `note` event.
//!
//! Run it with `cargo run --example custom_source -- NOTES_FILE` (stores into ./notes.db).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use athena_core::config::Declared;
use athena_core::kit::{Blocking, BlockingSource, Context, ReadError};
use athena_core::{
    ConfigError, Cursor, Engine, EngineSettings, Event, EventSource, SourceConfig, SourceError,
    SourceInfo, SourceType, SyncOptions,
};
use serde::{Deserialize, Serialize};

athena_core::declare_config! {
    /// The source's config: the keys of its `[[sources]]` table besides `id` and `type`, each
    /// declared once (type, default, doc); `athena-ingest sources` lists them.
    struct NotesConfig {
        /// The notes file, one note a line.
        path: PathBuf,
    }
}

/// The cursor: how many lines are stored. Versioned, so the format can change later.
#[derive(Serialize, Deserialize)]
struct NotesCursor {
    version: u32,
    lines: usize,
}

/// The source is its own logic only: the kit runs it on a thread, cuts its batches, and stops
/// it when the sync ends or is interrupted.
struct NotesSource {
    info: SourceInfo,
    path: PathBuf,
}

impl BlockingSource for NotesSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn validate(&self) -> Result<(), SourceError> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(SourceError::path(&self.info.id, &self.path, "not a file")),
            Err(e) => Err(SourceError::path(&self.info.id, &self.path, e.to_string())),
        }
    }

    fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let saved: Option<NotesCursor> = Cursor::decode_saved(ctx.take_cursor(), &self.info.id, 1)?;
        let start = saved.map_or(0, |c| c.lines);
        let cursor = |lines| Cursor::encode(&NotesCursor { version: 1, lines });
        let io = |e: std::io::Error| SourceError::path(&self.info.id, &self.path, e.to_string());
        let file = std::io::BufReader::new(std::fs::File::open(&self.path).map_err(io)?);
        let mut n = start;
        for line in file.lines().skip(start) {
            let line = line.map_err(io)?;
            n += 1;
            // The id comes from the natural key, so a re-read is a duplicate, not a new event.
            let mut e = Event::new(format!("line-{n}"), "note", chrono::Utc::now(), line);
            e.context
                .insert("file".into(), self.path.display().to_string().into());
            ctx.sink.event(e);
            // True once this line and all before it are stored; a batch goes when it is due.
            ctx.sink.checkpoint_blocking(|| cursor(n))?;
        }
        ctx.sink.commit_blocking(cursor(n))?;
        Ok(())
    }
}

fn from_config(config: &SourceConfig) -> Result<NotesSource, ConfigError> {
    let notes: NotesConfig = config.parse()?;
    let path = config.resolve_path(&notes.path);
    Ok(NotesSource {
        info: SourceInfo {
            id: config.id.clone(),
            source_type: "notes".into(),
            name: format!("notes {}", path.display()),
        },
        path,
    })
}

/// The registry entry: a name, the keys `athena-ingest sources` lists, and the constructor.
fn notes_type() -> SourceType {
    SourceType::new(
        "notes",
        "one event per line of a text file",
        NotesConfig::keys(),
        Arc::new(|c| Ok(Box::new(Blocking::new(from_config(c)?)) as Box<dyn EventSource>)),
    )
    // The notes of one file are one episode; it runs every 5 minutes under `serve` (the default).
    .with_episode(&["{file}"])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args()
        .nth(1)
        .ok_or("usage: custom_source NOTES_FILE")?;
    let mut registry = athena_sources::registry();
    registry.register(notes_type())?;

    let config = athena_core::Config::parse(
        &format!("[[sources]]\nid = \"notes\"\ntype = \"notes\"\npath = {file:?}\n"),
        None,
    )?;
    let store = athena_store::SqliteStore::open_for_sync(
        std::path::Path::new("notes.db"),
        std::time::Duration::from_secs(2),
    )?;
    let engine = Engine::new(Arc::new(registry), EngineSettings::default());
    let (report, _store) = engine
        .sync(Box::new(store), &config.sources, SyncOptions::default())
        .await?;
    for s in &report.sources {
        println!(
            "{}: {} new events, {} already stored",
            s.info.id, s.events_written, s.duplicates
        );
    }
    Ok(())
}
