//! A complete custom source: every line of a notes file becomes a `note` event.
//!
//! Run it with `cargo run --example custom_source -- NOTES_FILE` (stores into ./notes.db).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use athena_core::config::Declared;
use athena_core::{
    Batch, BatchStream, ConfigError, Cursor, Engine, EngineSettings, Event, EventSource,
    SourceConfig, SourceError, SourceInfo, SourceType, SyncOptions,
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

struct NotesSource {
    info: SourceInfo,
    path: PathBuf,
}

impl NotesSource {
    fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
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
}

#[async_trait]
impl EventSource for NotesSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    async fn validate(&mut self) -> Result<(), SourceError> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(SourceError::path(&self.info.id, &self.path, "not a file")),
            Err(e) => Err(SourceError::path(&self.info.id, &self.path, e.to_string())),
        }
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let result = (|| {
            let start = match cursor {
                Some(c) => {
                    let c: NotesCursor = c.decode().map_err(|e| SourceError::Cursor {
                        source_id: self.info.id.clone(),
                        message: e.to_string(),
                    })?;
                    c.lines
                }
                None => 0,
            };
            let text = std::fs::read_to_string(&self.path)
                .map_err(|e| SourceError::path(&self.info.id, &self.path, e.to_string()))?;
            let lines: Vec<&str> = text.lines().collect();
            let mut batches = Vec::new();
            // Batches of 100 lines, each with the cursor that is true once it is stored.
            for (n, chunk) in lines.chunks(100).enumerate().skip(start / 100) {
                let first = n * 100;
                let events = chunk
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| first + i >= start)
                    .map(|(i, line)| {
                        // The id comes from the natural key, so a re-read is a duplicate.
                        let mut e = Event::new(
                            format!("line-{}", first + i + 1),
                            "note",
                            chrono::Utc::now(),
                            *line,
                        );
                        e.context
                            .insert("file".into(), self.path.display().to_string().into());
                        e
                    })
                    .collect();
                let checkpoint = Cursor::encode(&NotesCursor {
                    version: 1,
                    lines: first + chunk.len(),
                });
                batches.push(Ok(Batch::new(events, checkpoint)));
            }
            Ok::<_, SourceError>(batches)
        })();
        let items = result.unwrap_or_else(|e| vec![Err(e)]);
        Box::pin(futures_util::stream::iter(items))
    }
}

/// The registry entry: a name, the keys `athena-ingest sources` lists, and the constructor.
fn notes_type() -> SourceType {
    SourceType {
        name: "notes",
        description: "one event per line of a text file",
        keys: NotesConfig::keys(),
        build: Arc::new(|c| Ok(Box::new(NotesSource::from_config(c)?) as Box<dyn EventSource>)),
    }
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
