//! `athena-ingest export`: every stored event in storing order, as JSON lines or as a Singer
//! tap writes them (`--singer`), so any Singer target can load the memory.
//!
//! The Singer stream is `events`: one SCHEMA (the event's shape; key properties `source_id`
//! and `id`), a RECORD per event (the event as `events --format jsonl` prints it), and a STATE
//! every [`STATE_EVERY`] records and at the end: `{"bookmarks":{"events":{"storing_position":N}}}`,
//! the position of the last event read. Storing order, not event time: an event stored today
//! about last year (a backfill) is still exported after the events exported before it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use athena_core::{Event, Store};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::UsageError;

/// Records between two STATE messages.
pub(crate) const STATE_EVERY: usize = 1000;

/// What `export` was asked for.
pub(crate) struct Options {
    pub singer: bool,
    pub sources: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub state: Option<PathBuf>,
}

pub(crate) fn run(store: &dyn Store, options: &Options) -> Result<ExitCode> {
    let after = match &options.state {
        Some(path) => read_state(path)?,
        None => 0,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = export(store, options, after, &mut out).and_then(|n| {
        out.flush()?;
        Ok(n)
    });
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        // A reader that stopped reading (`| head`) is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes the events stored after position `after`; returns how many.
fn export(
    store: &dyn Store,
    options: &Options,
    mut after: i64,
    out: &mut impl Write,
) -> Result<u64> {
    if options.singer {
        write_line(out, &schema_message())?;
    }
    let extracted = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let (mut written, mut since_state) = (0u64, 0usize);
    loop {
        let page = store
            .export_events(after, STATE_EVERY)
            .context("reading the store")?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, event) in &page {
            if !wanted(event, options) {
                continue;
            }
            if options.singer {
                write_line(
                    out,
                    &json!({"type": "RECORD", "stream": "events", "record": event, "time_extracted": extracted}),
                )?;
            } else {
                write_line(out, &serde_json::to_value(event)?)?;
            }
            written += 1;
            since_state += 1;
        }
        if options.singer && since_state >= STATE_EVERY {
            write_line(out, &state_message(after))?;
            since_state = 0;
        }
    }
    if options.singer {
        write_line(out, &state_message(after))?;
    }
    Ok(written)
}

fn wanted(event: &Event, options: &Options) -> bool {
    (options.sources.is_empty() || options.sources.contains(&event.source_id))
        && options.since.is_none_or(|since| event.occurred_at >= since)
}

fn write_line(out: &mut impl Write, value: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The stream's SCHEMA: an event as `events --format jsonl` prints it.
fn schema_message() -> Value {
    let text = json!({"type": "string"});
    let optional = json!({"type": ["string", "null"]});
    let time = json!({"type": "string", "format": "date-time"});
    json!({
        "type": "SCHEMA",
        "stream": "events",
        "key_properties": ["source_id", "id"],
        "schema": {
            "type": "object",
            "required": ["id", "source_id", "source_type", "kind", "occurred_at", "title"],
            "properties": {
                "id": text, "source_id": text, "source_type": text, "kind": text,
                "occurred_at": time,
                "ingested_at": {"type": ["string", "null"], "format": "date-time"},
                "actor": optional, "title": text, "body": text, "url": optional,
                "outcome": optional,
                "context": {"type": "object"}, "metadata": {"type": "object"}
            }
        }
    })
}

fn state_message(position: i64) -> Value {
    json!({"type": "STATE", "value": {"bookmarks": {"events": {"storing_position": position}}}})
}

/// The storing position a state file says; an empty file starts from the beginning.
fn read_state(path: &std::path::Path) -> Result<i64> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(UsageError(format!("--state {}: {e}", path.display())).into());
        }
    };
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(0);
    };
    let bad = |why: &str| UsageError(format!("--state {}: {why}", path.display()));
    let value: Value = serde_json::from_str(line.trim())
        .map_err(|e| bad(&format!("its last line is not JSON: {e}")))?;
    // A whole STATE message, or its value (what targets print).
    let value = match value.get("type").and_then(Value::as_str) {
        Some("STATE") => value.get("value").cloned().unwrap_or(Value::Null),
        _ => value,
    };
    value
        .pointer("/bookmarks/events/storing_position")
        .and_then(Value::as_i64)
        .filter(|p| *p >= 0)
        .ok_or_else(|| {
            bad("has no bookmarks.events.storing_position (is it the state of another tap?)").into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_is_read_from_its_last_line_as_a_value_or_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(read_state(&path).unwrap(), 0, "no file: from the beginning");
        for (text, want) in [
            ("", Some(0)),
            ("{\"bookmarks\":{\"events\":{\"storing_position\":12}}}\n{\"bookmarks\":{\"events\":{\"storing_position\":40}}}\n\n", Some(40)),
            ("{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"events\":{\"storing_position\":7}}}}", Some(7)),
            ("{\"bookmarks\":{\"tickets\":{}}}", None),
            ("not json", None),
        ] {
            std::fs::write(&path, text).unwrap();
            assert_eq!(read_state(&path).ok(), want, "{text}");
        }
    }
}
