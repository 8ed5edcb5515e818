//! `athena-ingest sources [TYPE]`: the registered source types, or one of them, with their
//! config keys, default schedule and documentation page.

use std::io::{self, Write};
use std::process::ExitCode;

use athena_core::{Registry, SourceType};
use serde_json::{json, Value};

use crate::cli::ReportFormat;
use crate::UsageError;

/// `sources [TYPE]`: prints the types, or refuses an unknown TYPE.
pub(crate) fn run(
    registry: &Registry,
    only: Option<&str>,
    format: ReportFormat,
) -> anyhow::Result<ExitCode> {
    let types = select(registry, only)?;
    write_sources(&mut io::stdout().lock(), &types, format)?;
    Ok(ExitCode::SUCCESS)
}

/// The types to show: all of them, or `only`. An unknown name is refused, naming the known ones.
fn select<'r>(
    registry: &'r Registry,
    only: Option<&str>,
) -> Result<Vec<&'r SourceType>, UsageError> {
    let Some(name) = only else {
        return Ok(registry.list().collect());
    };
    match registry.get(name) {
        Some(t) => Ok(vec![t]),
        None => {
            let known: Vec<&str> = registry.list().map(|t| t.name).collect();
            Err(UsageError(format!(
                "unknown source type {name:?} (known types: {})",
                known.join(", ")
            )))
        }
    }
}

/// Where a type's user documentation is, in the repository (every built-in type has a page).
fn docs_page(t: &SourceType) -> String {
    format!("docs/sources/{}.md", t.name)
}

fn write_sources(
    out: &mut impl Write,
    types: &[&SourceType],
    format: ReportFormat,
) -> io::Result<()> {
    match format {
        ReportFormat::Json => {
            let types: Vec<Value> = types
                .iter()
                .map(|t| {
                    json!({
                        "type": t.name,
                        "description": t.description,
                        "schedule": t.schedule.to_string(),
                        "docs": docs_page(t),
                        "keys": t.keys.iter().map(|k| json!({
                            "name": k.name, "kind": k.kind, "required": k.required,
                            "default": k.default,
                            "range": k.range.map(|r| json!({"min": r.min, "max": r.max})),
                            "doc": k.doc,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            writeln!(out, "{}", json!({ "types": types }))
        }
        ReportFormat::Text => {
            for t in types {
                writeln!(out, "{} — {}", t.name, t.description)?;
                writeln!(
                    out,
                    "  schedule under serve: {} (unless the source sets `schedule`); docs: {}",
                    t.schedule,
                    docs_page(t)
                )?;
                writeln!(out, "  id (required): unique source id, names its cursor")?;
                for k in &t.keys {
                    let mut req = if k.required {
                        "required".to_string()
                    } else {
                        format!("default {}", k.default.as_deref().unwrap_or("none"))
                    };
                    if let Some(range) = k.range {
                        req.push_str(&format!(", {range}"));
                    }
                    writeln!(out, "  {} ({}, {}): {}", k.name, k.kind, req, k.doc)?;
                }
            }
            Ok(())
        }
    }
}
