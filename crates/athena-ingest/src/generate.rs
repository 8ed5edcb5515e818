//! `completions SHELL` and `man [COMMAND]`: shell completion scripts and manual pages,
//! generated from the clap definitions in `cli`, so they list exactly what the binary takes.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::UsageError;

/// Prints the completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(shell, &mut command, "athena-ingest", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page, in roff: `athena-ingest(1)`, or `athena-ingest-COMMAND(1)` with
/// that command's options. An unknown command is refused, naming the known ones.
pub(crate) fn man(command: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut cli = Cli::command();
    // Gives each subcommand its display name (`athena-ingest-sync`) and its usage's
    // (`athena-ingest sync`).
    cli.build();
    let page = match command {
        None => cli,
        Some(name) => match cli.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let known: Vec<&str> = cli.get_subcommands().map(|s| s.get_name()).collect();
                return Err(UsageError(format!(
                    "no command {name:?} (commands: {})",
                    known.join(", ")
                ))
                .into());
            }
        },
    };
    let mut out = io::stdout().lock();
    clap_mangen::Man::new(page).render(&mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
