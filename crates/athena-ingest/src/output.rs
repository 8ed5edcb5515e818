//! What the commands print: tables for people, JSON and CSV for programs.
//!
//! Text for people shows stored data with its control characters made visible (`\x1b`), so a
//! logged escape sequence cannot recolour or rewrite the terminal; JSON and CSV carry the data
//! as it is.

use std::borrow::Cow;
use std::io::{self, Write};

use athena_core::known::SourceKinds;
use athena_core::{Event, Registry, SourceStatus, StoredDeadLetter, SyncReport};
use chrono::SecondsFormat;
use serde_json::{json, Value};

use crate::cli::{EventsFormat, LettersFormat, ReportFormat};

pub(crate) fn write_sync_report(
    out: &mut impl Write,
    report: &SyncReport,
    format: ReportFormat,
) -> io::Result<()> {
    match format {
        ReportFormat::Json => writeln!(out, "{}", report.to_json()),
        ReportFormat::Text => {
            let rows: Vec<Vec<String>> = report
                .sources
                .iter()
                .map(|s| {
                    vec![
                        s.info.id.clone(),
                        s.info.source_type.clone(),
                        s.status.as_str().to_string(),
                        s.events_written.to_string(),
                        s.duplicates.to_string(),
                        s.invalid.to_string(),
                        format!("{:.2}s", s.stats.duration.as_secs_f64()),
                    ]
                })
                .collect();
            write_table(
                out,
                &[
                    "SOURCE",
                    "TYPE",
                    "STATUS",
                    "WRITTEN",
                    "DUPLICATES",
                    "INVALID",
                    "TIME",
                ],
                &rows,
            )
        }
    }
}

/// Each failed source's error, once, in full (the report's table and JSON on stdout, these on
/// stderr, whatever the format: the one place a sync tells a failure).
pub(crate) fn write_sync_errors(out: &mut impl Write, report: &SyncReport) -> io::Result<()> {
    for s in &report.sources {
        if let Some(e) = &s.error {
            writeln!(out, "error: {}", visible(e))?;
        }
    }
    Ok(())
}

/// `events` in `format`; `work_items` are their sessions' work items (Athena's `session_id`,
/// [`Store::sessions`](athena_core::Store::sessions)), one for each, when the format is
/// Athena's.
pub(crate) fn write_events(
    out: &mut impl Write,
    events: &[Event],
    format: EventsFormat,
    registry: &Registry,
    work_items: &[Option<String>],
) -> io::Result<()> {
    match format {
        EventsFormat::Jsonl | EventsFormat::Json => {
            for e in events {
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        EventsFormat::Athena => {
            let items = work_items.iter().map(Option::as_deref);
            for (e, item) in events.iter().zip(items.chain(std::iter::repeat(None))) {
                let athena = athena_server::athena_event(e, registry, item);
                serde_json::to_writer(&mut *out, &athena)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        EventsFormat::Csv => {
            writeln!(
                out,
                "id,source_id,source_type,kind,occurred_at,ingested_at,actor,title,body,url,outcome,context,metadata"
            )?;
            for e in events {
                let fields = [
                    e.id.clone(),
                    e.source_id.clone(),
                    e.source_type.clone(),
                    e.kind.clone(),
                    rfc3339(&e.occurred_at),
                    e.ingested_at.as_ref().map(rfc3339).unwrap_or_default(),
                    e.actor.clone().unwrap_or_default(),
                    e.title.clone(),
                    e.body.clone(),
                    e.url.clone().unwrap_or_default(),
                    e.outcome
                        .map(|o| o.as_str().to_string())
                        .unwrap_or_default(),
                    Value::Object(e.context.clone()).to_string(),
                    Value::Object(e.metadata.clone()).to_string(),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
            Ok(())
        }
        EventsFormat::Table => {
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.occurred_at.format("%Y-%m-%d %H:%M").to_string(),
                        e.source_id.clone(),
                        e.kind.clone(),
                        truncate(e.actor.as_deref().unwrap_or("-"), 24),
                        truncate(&e.title, 72),
                    ]
                })
                .collect();
            write_table(
                out,
                &["TIME (UTC)", "SOURCE", "KIND", "ACTOR", "TITLE"],
                &rows,
            )
        }
    }
}

pub(crate) fn write_status(
    out: &mut impl Write,
    status: &[SourceStatus],
    format: ReportFormat,
) -> io::Result<()> {
    match format {
        ReportFormat::Json => writeln!(out, "{}", athena_server::status_json(status)),
        ReportFormat::Text => {
            if status.is_empty() {
                return writeln!(out, "no source has synced into this store yet");
            }
            // Shown when the config gives a source a priority other than the default.
            let prioritised = status.iter().any(|s| s.priority.unwrap_or(0) != 0);
            let rows: Vec<Vec<String>> = status
                .iter()
                .map(|s| {
                    let mut row = vec![
                        s.source_id.clone(),
                        s.source_type.clone().unwrap_or_else(|| "-".into()),
                        s.events.to_string(),
                        s.dead_letters.to_string(),
                        s.last_sync
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_else(|| "never".into()),
                        s.last_status.map_or("-", |s| s.as_str()).to_string(),
                        s.cursor
                            .as_ref()
                            .map(|c| truncate(&c.as_json().to_string(), 60))
                            .unwrap_or_else(|| "-".into()),
                    ];
                    if prioritised {
                        row.insert(2, s.priority.map_or("-".into(), |p| p.to_string()));
                    }
                    row
                })
                .collect();
            let mut header = vec![
                "SOURCE",
                "TYPE",
                "EVENTS",
                "DEAD LETTERS",
                "LAST SYNC (UTC)",
                "STATUS",
                "CURSOR",
            ];
            if prioritised {
                header.insert(2, "PRIORITY");
            }
            write_table(out, &header, &rows)?;
            for s in status {
                if let Some(e) = &s.last_error {
                    writeln!(
                        out,
                        "last error of {}: {}",
                        visible(&s.source_id),
                        visible(e)
                    )?;
                }
            }
            Ok(())
        }
    }
}

pub(crate) fn write_kinds(
    out: &mut impl Write,
    sources: Vec<SourceKinds>,
    format: ReportFormat,
) -> io::Result<()> {
    let kinds = athena_server::answers::Kinds::new(sources);
    match format {
        ReportFormat::Json => writeln!(out, "{}", json!(kinds)),
        ReportFormat::Text if kinds.kinds.is_empty() => {
            writeln!(out, "no events are stored yet")
        }
        ReportFormat::Text => {
            let rows: Vec<Vec<String>> = (kinds.kinds.iter())
                .map(|k| vec![k.source.clone(), k.kind.clone(), k.events.to_string()])
                .collect();
            write_table(out, &["SOURCE", "KIND", "EVENTS"], &rows)
        }
    }
}

pub(crate) fn write_dead_letters(
    out: &mut impl Write,
    letters: &[StoredDeadLetter],
    format: LettersFormat,
) -> io::Result<()> {
    match format {
        LettersFormat::Jsonl | LettersFormat::Json => {
            for d in letters {
                let v = json!({
                    "source_id": d.source_id,
                    "origin": d.letter.origin,
                    "reason": d.letter.reason,
                    "raw": d.letter.raw,
                    "created_at": rfc3339(&d.created_at),
                });
                writeln!(out, "{v}")?;
            }
            Ok(())
        }
        LettersFormat::Table => {
            if letters.is_empty() {
                return writeln!(out, "no dead letters");
            }
            let rows: Vec<Vec<String>> = letters
                .iter()
                .map(|d| {
                    vec![
                        d.source_id.clone(),
                        d.letter.origin.clone(),
                        truncate(&d.letter.reason, 40),
                        truncate(&d.letter.raw, 60),
                    ]
                })
                .collect();
            write_table(out, &["SOURCE", "ORIGIN", "REASON", "RAW"], &rows)
        }
    }
}

fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn truncate(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `s` with what a terminal would act on shown as text: control characters (C0, DEL, C1) as
/// `\x1b` or `\u{9b}`, and the bidirectional controls that reorder a line as `\u{202e}`.
fn visible(s: &str) -> Cow<'_, str> {
    let acts =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(acts) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !acts(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Writes aligned columns; every cell is passed through [`visible`].
fn write_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| visible(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(|c| c.as_ref()).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }

    #[test]
    fn truncate_keeps_one_line_within_width() {
        assert_eq!(truncate("a\nb", 10), "a b");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn control_characters_are_shown_as_text() {
        assert_eq!(visible("GET /\x1b[31mred\x07"), "GET /\\x1b[31mred\\x07");
        assert_eq!(visible("a\u{9b}b\u{202e}c\x7f"), "a\\u{9b}b\\u{202e}c\\x7f");
        assert!(matches!(visible("plain, ümlaut"), Cow::Borrowed(_)));
    }

    #[test]
    fn table_columns_line_up() {
        let mut out = Vec::new();
        write_table(&mut out, &["A", "B"], &[vec!["long".into(), "x".into()]]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "A     B\nlong  x\n");
    }
}
