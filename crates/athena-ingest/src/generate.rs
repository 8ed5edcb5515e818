//! `completions SHELL` and `man [COMMAND]`: shell completion scripts and manual pages,
//! generated from the clap definitions in `cli`, so they list exactly what the binary takes.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::UsageError;

/// The completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell, out: &mut impl Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "athena-ingest", out);
}

/// The manual page, in roff: `athena-ingest(1)`, or `athena-ingest-COMMAND(1)` with that
/// command's options. An unknown command is refused, naming the known ones.
pub(crate) fn man(command: Option<&str>, out: &mut impl Write) -> anyhow::Result<()> {
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
    render(page, out)?;
    Ok(())
}

fn render(page: clap::Command, out: &mut impl Write) -> io::Result<()> {
    clap_mangen::Man::new(page).render(out)
}
