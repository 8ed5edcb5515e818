//! The `athena-ingest` binary: parses the command line, runs the command, maps errors to exit
//! codes (0 ok, 1 a source failed, 2 usage or config error — a store path that holds no store,
//! or a store of a newer release, included —, 130 interrupted).
//!
//! - `cli`: the clap definitions; `commands`: one function per subcommand;
//! - `output`: tables, CSV and JSON; `progress`: progress bars on a terminal;
//! - `search`: `events --search`, its any-word fallback and its advice;
//! - `redact`: stderr for the logs, with the config's secrets masked (`athena_server::redact`);
//! - `interrupt`: Ctrl-C during a sync, and the exit code and message that follow from it.
//! - `auth`: `auth google`, the browser consent that yields a refresh token.
//! - `source_types`: `sources [TYPE]`; `generate`: shell completions and the man page.
//!
//! `serve` and `mcp` (the server, the recall API, MCP and the web page) are the `athena-server`
//! library; the binary passes them their options and maps their errors to exit codes.

mod auth;
mod cli;
mod commands;
mod export;
mod feed;
mod generate;
mod interrupt;
mod output;
mod progress;
mod redact;
mod related;
mod runtime;
mod search;
mod source_types;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// An error that is the user's to fix in the command line or config: exit code 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    runtime::tune_allocator();
    let cli = cli::Cli::parse();
    init_tracing(
        cli.verbose,
        matches!(cli.command, cli::Command::Serve { .. }),
        cli.log_format,
    );
    match commands::run(cli.command, std::sync::Arc::new(athena_sources::registry())) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            match err.downcast_ref::<athena_core::ConfigError>() {
                // Every problem of a config on a line of its own.
                Some(config) if err.chain().count() == 1 => {
                    for problem in config.problems() {
                        eprintln!("error: {}", redact::redact(&problem.to_string()));
                    }
                }
                _ => eprintln!("error: {}", redact::redact(&format!("{err:#}"))),
            }
            if err.downcast_ref::<athena_core::ConfigError>().is_some()
                || err.downcast_ref::<UsageError>().is_some()
                || is_not_a_store(&err)
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `--db` (or the config's store path) names something that is not a store, or a store of a
/// newer release: the user's to fix (another path, or an upgrade).
fn is_not_a_store(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<athena_core::StoreError>(),
        Some(
            athena_core::StoreError::NotAStore { .. } | athena_core::StoreError::NewerSchema { .. }
        )
    )
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `serve`: a daemon logs its own line per source run by default (`-v` adds the engine's).
/// `sync` tells each failure once, in its report: the engine's log line of a failed source
/// (`athena_core::telemetry`) is left out unless `-v` asks for the logs. On a terminal, the
/// HTTP client's waits go to the progress bars as well.
fn init_tracing(verbose: u8, serve: bool, format: cli::LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let default = match verbose {
        0 if serve => "warn,athena_ingest=info,athena_server=info",
        0 => "warn,athena_core::telemetry=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let terminal = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry().with(progress::wait_layer(terminal));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(redact::Stderr)
        .with_target(false);
    match format {
        cli::LogFormat::Text => registry
            .with(logs.with_ansi(terminal).with_filter(filter))
            .init(),
        // One object a line, fields at the top level: what log shippers index.
        cli::LogFormat::Json => registry
            .with(
                logs.with_ansi(false)
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(filter),
            )
            .init(),
    }
}
