//! `athena-ingest related SOURCE ID` (an event's related events, across sources),
//! `athena-ingest people` (who the events name) and `athena-ingest relink` (every stored
//! event's references and people found again).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use athena_core::config::LinksSettings;
use athena_core::links::{Link, Related};
use athena_core::Store;

use crate::cli::ReportFormat;
use crate::UsageError;

pub(crate) fn show(
    store: &dyn Store,
    source: &str,
    id: &str,
    limit: usize,
    format: ReportFormat,
) -> Result<ExitCode> {
    let Some(found) = store.related(source, id, limit)? else {
        return Err(UsageError(format!(
            "no event {id:?} in source {source:?} (`events --source {source}` lists its events)"
        ))
        .into());
    };
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Json => {
            serde_json::to_writer(&mut out, &found)?;
            writeln!(out)?;
        }
        ReportFormat::Text => write_text(&mut out, &found)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, found: &Related) -> std::io::Result<()> {
    let e = &found.event;
    writeln!(
        out,
        "{} {}/{} {}: {}",
        e.occurred_at.format("%Y-%m-%d %H:%M"),
        e.source_id,
        e.id,
        e.kind,
        e.title
    )?;
    if found.things.is_empty() {
        writeln!(out, "  it names nothing other sources know (no issue key, pull request, commit, Slack or CircleCI link)")?;
        return Ok(());
    }
    writeln!(out, "  {}", things(&found.things))?;
    if found.related.is_empty() {
        writeln!(out, "no related events")?;
        return Ok(());
    }
    writeln!(out, "{} related:", found.related.len())?;
    for r in &found.related {
        let e = &r.event;
        writeln!(
            out,
            "  {} {}/{} {}: {}  [{}]",
            e.occurred_at.format("%Y-%m-%d %H:%M"),
            e.source_id,
            e.id,
            e.kind,
            e.title,
            things(&r.via)
        )?;
    }
    Ok(())
}

/// `about key:PROJ-7, mentions commit:3f9a0c1`.
fn things(links: &[Link]) -> String {
    links
        .iter()
        .map(|l| format!("{} {}", l.role.as_str(), l.thing))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn relink(
    store: &mut dyn Store,
    settings: &LinksSettings,
    registry: &athena_core::Registry,
    shown: &str,
) -> Result<ExitCode> {
    let Some(linker) = settings.linker(registry) else {
        return Err(UsageError(
            "[links] enabled = false: nothing to find (remove it to link events)".into(),
        )
        .into());
    };
    let n = store.relink(&linker)?;
    println!("linked the {n} events of {shown} again");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn write_people(
    people: &athena_server::answers::People,
    format: ReportFormat,
) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Json => {
            serde_json::to_writer(&mut out, people)?;
            writeln!(out)?;
        }
        ReportFormat::Text if people.people.is_empty() => writeln!(out, "no people")?,
        ReportFormat::Text => {
            for p in &people.people {
                let name = p.name.as_deref().unwrap_or("-");
                writeln!(out, "{}  {}  {}", p.id, name, p.handles.join(", "))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
