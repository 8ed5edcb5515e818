//! `athena-ingest export`: every stored event in storing order, as JSON lines or as a Singer
//! tap writes them (`--singer`), so any Singer target can load the memory.
//!
//! The Singer stream is `events`: one SCHEMA (the event's shape; key properties `source_id`
//! and `id`), a RECORD per event (the event as `events --format jsonl` prints it), and a STATE
//! after every [`PAGE`] events read and at the end:
//! `{"bookmarks":{"events":{"positions":{"<source>":N,…}}}}`, per source the storing position
//! of its last event exported. Storing order, not event time: an event stored today about last
//! year (a backfill) is still exported after the events exported before it.
//!
//! Why a position per source: on PostgreSQL several workers store at once, and a transaction
//! that took a lower position may commit after one that took a higher, so "everything up to
//! the highest position seen" could skip an event committed late. A source's own batches
//! commit in position order (one worker holds a source, and a lost lease fences its commit),
//! so per source the highest position exported is a true mark. A run reads from the lowest
//! mark of the sources it exports.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use athena_core::{Event, Store};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::UsageError;

/// Events read from the store at a time; a STATE follows each page.
pub(crate) const PAGE: usize = 1000;

/// What `export` was asked for.
pub(crate) struct Options {
    pub singer: bool,
    pub sources: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub state: Option<PathBuf>,
}

pub(crate) fn run(store: &dyn Store, options: &Options) -> Result<ExitCode> {
    let positions = match &options.state {
        Some(path) => read_state(path)?,
        None => Positions::new(),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = export(store, options, positions, &mut out).and_then(|n| {
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

/// Per source, the storing position of its last event exported.
type Positions = BTreeMap<String, i64>;

/// Writes the events stored after each source's position; returns how many.
fn export(
    store: &dyn Store,
    options: &Options,
    mut positions: Positions,
    out: &mut impl Write,
) -> Result<u64> {
    if options.singer {
        write_line(out, &schema_message())?;
    }
    // Read from the lowest mark of the sources exported (a source never exported: 0).
    let sources = store.sources_status().context("reading the store")?;
    let mut after = (sources.iter())
        .filter(|s| options.sources.is_empty() || options.sources.contains(&s.source_id))
        .map(|s| positions.get(&s.source_id).copied().unwrap_or(0))
        .min();
    let extracted = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut written = 0u64;
    while let Some(from) = after {
        let page = store
            .export_events(from, PAGE)
            .context("reading the store")?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (position, event) in &page {
            let mark = positions.get(&event.source_id).copied().unwrap_or(0);
            if *position <= mark || !wanted(event, options) {
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
            positions.insert(event.source_id.clone(), *position);
            written += 1;
        }
        if options.singer {
            write_line(out, &state_message(&positions))?;
        }
    }
    if options.singer {
        write_line(out, &state_message(&positions))?;
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

fn state_message(positions: &Positions) -> Value {
    json!({"type": "STATE", "value": {"bookmarks": {"events": {"positions": positions}}}})
}

/// The positions a state file says; a missing or empty file starts from the beginning.
fn read_state(path: &std::path::Path) -> Result<Positions> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Positions::new()),
        Err(e) => {
            return Err(UsageError(format!("--state {}: {e}", path.display())).into());
        }
    };
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(Positions::new());
    };
    let bad = |why: &str| UsageError(format!("--state {}: {why}", path.display()));
    let value: Value = serde_json::from_str(line.trim())
        .map_err(|e| bad(&format!("its last line is not JSON: {e}")))?;
    // A whole STATE message, or its value (what targets print).
    let value = match value.get("type").and_then(Value::as_str) {
        Some("STATE") => value.get("value").cloned().unwrap_or(Value::Null),
        _ => value,
    };
    let positions = value
        .pointer("/bookmarks/events/positions")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("has no bookmarks.events.positions (is it the state of another tap?)")
        })?;
    positions
        .iter()
        .map(|(source, p)| match p.as_i64().filter(|p| *p >= 0) {
            Some(p) => Ok((source.clone(), p)),
            None => Err(bad(&format!(
                "the position of {source} is not a whole number: {p}"
            ))
            .into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_is_read_from_its_last_line_as_a_value_or_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(
            read_state(&path).unwrap(),
            Positions::new(),
            "no file: from the beginning"
        );
        let p = |pairs: &[(&str, i64)]| -> Option<Positions> {
            Some(pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect())
        };
        for (text, want) in [
            ("", p(&[])),
            (
                "{\"bookmarks\":{\"events\":{\"positions\":{\"a\":12}}}}\n{\"bookmarks\":{\"events\":{\"positions\":{\"a\":40,\"b\":7}}}}\n\n",
                p(&[("a", 40), ("b", 7)]),
            ),
            (
                "{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"events\":{\"positions\":{\"w\":3}}}}}",
                p(&[("w", 3)]),
            ),
            ("{\"bookmarks\":{\"events\":{\"positions\":{\"w\":-1}}}}", None),
            ("{\"bookmarks\":{\"tickets\":{}}}", None),
            ("not json", None),
        ] {
            std::fs::write(&path, text).unwrap();
            assert_eq!(read_state(&path).ok(), want, "{text}");
        }
    }
}
