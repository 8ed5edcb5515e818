//! Ctrl-C during a sync: what it stops, and what the tool says and returns about it, so that
//! the message and the exit code agree with what happened to the sources.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use athena_core::{
    CancelToken, Progress, SourceInfo, SourceReport, SourceStatusKind, SyncObserver, SyncReport,
};

/// Passes progress on to `inner` and counts the sources that have not finished, so a Ctrl-C
/// that comes when there is nothing left to stop does not claim to stop anything.
pub(crate) struct Tracked {
    inner: Arc<dyn SyncObserver>,
    unfinished: AtomicUsize,
}

impl Tracked {
    pub(crate) fn new(inner: Arc<dyn SyncObserver>, sources: usize) -> Arc<Self> {
        Arc::new(Tracked {
            inner,
            unfinished: AtomicUsize::new(sources),
        })
    }

    fn all_finished(&self) -> bool {
        self.unfinished.load(Ordering::SeqCst) == 0
    }
}

impl SyncObserver for Tracked {
    fn source_started(&self, info: &SourceInfo) {
        self.inner.source_started(info);
    }
    fn batch_committed(&self, info: &SourceInfo, total_written: u64, progress: Option<Progress>) {
        self.inner.batch_committed(info, total_written, progress);
    }
    fn source_finished(&self, report: &SourceReport) {
        self.unfinished.fetch_sub(1, Ordering::SeqCst);
        self.inner.source_finished(report);
    }
}

/// Handles SIGINT for the rest of the sync (call inside the runtime, before any source runs:
/// a Ctrl-C before the handler is registered would kill the process mid-batch). The first
/// Ctrl-C while sources run cancels them (the batches handed to the store are committed); a
/// second quits at once with 130. A Ctrl-C once every source has finished changes nothing.
pub(crate) fn handle_ctrl_c(cancel: CancelToken, tracked: Arc<Tracked>) {
    let interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let mut interrupts = match interrupts {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("Ctrl-C will stop the sync abruptly: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        while interrupts.recv().await.is_some() {
            if tracked.all_finished() {
                continue;
            }
            if cancel.is_cancelled() {
                std::process::exit(130);
            }
            eprintln!("Ctrl-C: stopping; committing what was read (Ctrl-C again to quit now)");
            cancel.cancel();
        }
    });
}

/// The exit code of a sync, and what to tell the user about a Ctrl-C, from what happened to
/// the sources: a failure is 1 (it outranks an interruption, which must not hide it), a source
/// cut short is 130, else 0. `ctrl_c`: whether the user pressed Ctrl-C.
pub(crate) fn verdict(report: &SyncReport, ctrl_c: bool) -> (u8, Option<String>) {
    let count = |kind| report.sources.iter().filter(|s| s.status == kind).count();
    let (failed, cut) = (
        count(SourceStatusKind::Failed),
        count(SourceStatusKind::Interrupted),
    );
    let note = match (cut, ctrl_c) {
        (0, false) => None,
        (0, true) => Some(
            "Ctrl-C came after every source had finished: nothing was cut short".to_string(),
        ),
        (n, _) => Some(format!(
            "interrupted: {n} source{} stopped early; what was read is committed, and the next sync goes on from there",
            if n == 1 { "" } else { "s" }
        )),
    };
    let code = if failed > 0 {
        1
    } else if cut > 0 {
        130
    } else {
        0
    };
    (code, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::SourceStats;

    fn report(statuses: &[SourceStatusKind]) -> SyncReport {
        SyncReport {
            sources: statuses
                .iter()
                .enumerate()
                .map(|(i, &status)| SourceReport {
                    info: SourceInfo {
                        id: format!("s{i}"),
                        source_type: "test".into(),
                        name: "test".into(),
                    },
                    status,
                    events_written: 0,
                    duplicates: 0,
                    invalid: 0,
                    error: None,
                    error_kind: None,
                    stats: SourceStats::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_ctrl_c_after_every_source_finished_exits_0_without_claiming_an_interruption() {
        let (code, note) = verdict(&report(&[SourceStatusKind::Ok, SourceStatusKind::Ok]), true);
        assert_eq!(code, 0);
        let note = note.unwrap();
        assert!(!note.contains("interrupted"), "{note}");
        assert!(note.contains("nothing was cut short"), "{note}");
    }

    #[test]
    fn a_source_cut_short_by_ctrl_c_exits_130_and_says_so() {
        let (code, note) = verdict(
            &report(&[SourceStatusKind::Ok, SourceStatusKind::Interrupted]),
            true,
        );
        assert_eq!(code, 130);
        assert!(note
            .unwrap()
            .starts_with("interrupted: 1 source stopped early"));
    }

    #[test]
    fn a_failure_outranks_an_interruption() {
        let (code, _) = verdict(
            &report(&[SourceStatusKind::Failed, SourceStatusKind::Interrupted]),
            true,
        );
        assert_eq!(code, 1);
    }

    #[test]
    fn a_sync_without_ctrl_c_says_nothing_about_it() {
        assert_eq!(verdict(&report(&[SourceStatusKind::Ok]), false), (0, None));
    }

    #[test]
    fn the_ctrl_c_handler_knows_when_every_source_has_finished() {
        struct Quiet;
        impl SyncObserver for Quiet {}
        let tracked = Tracked::new(Arc::new(Quiet), 2);
        let one = report(&[SourceStatusKind::Ok]).sources.remove(0);
        tracked.source_finished(&one);
        assert!(!tracked.all_finished());
        tracked.source_finished(&one);
        assert!(tracked.all_finished());
    }
}
