//! Signals under `serve`: SIGTERM or SIGINT stop it (a second one at once), SIGHUP reloads the
//! config.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use athena_core::CancelToken;

/// How long a stop waits for the running syncs to commit before the process exits anyway (the
/// store stays consistent: every batch is committed with its cursor or not at all).
const STOP_DEADLINE: Duration = Duration::from_secs(9);

/// SIGTERM or SIGINT: cancel (the running syncs commit what they handed over, no run starts);
/// after [`STOP_DEADLINE`] exit regardless, with status 1; a second signal exits at once. SIGHUP asks the
/// supervisor to reload the config.
pub(super) fn handle_signals(cancel: CancelToken, reload: Arc<tokio::sync::Notify>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("handling SIGHUP")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config");
                    reload.notify_one();
                    continue;
                }
            }
            if cancel.is_cancelled() {
                eprintln!("second signal: exiting now");
                std::process::exit(130);
            }
            eprintln!(
                "stopping: committing what the running sync has read (signal again to exit now)"
            );
            cancel.cancel();
            tokio::spawn(async {
                tokio::time::sleep(STOP_DEADLINE).await;
                eprintln!(
                    "the running sync did not stop within {}s; exiting with status 1 (every committed batch is whole; the next run reads on from the stored cursors)",
                    STOP_DEADLINE.as_secs()
                );
                std::process::exit(1);
            });
        }
    });
    Ok(())
}
