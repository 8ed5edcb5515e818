//! Progress on a terminal: one bar per source (indicatif). Elsewhere nothing is drawn, and the
//! end of each source is one plain line on stderr.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use athena_core::{Progress, SourceInfo, SourceReport, SyncObserver};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Bars {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub(crate) fn new() -> Arc<Self> {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Arc::new(Bars {
            multi,
            bars: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn finish(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl SyncObserver for Bars {
    fn source_started(&self, info: &SourceInfo) {
        let Some(multi) = &self.multi else { return };
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(info.id.clone());
        bar.set_message(format!("reading {}", info.name));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(info.id.clone(), bar);
        }
    }

    fn batch_committed(&self, info: &SourceInfo, total_written: u64, progress: Option<Progress>) {
        let Ok(bars) = self.bars.lock() else { return };
        let Some(bar) = bars.get(&info.id) else {
            return;
        };
        let msg = match progress {
            Some(Progress {
                done,
                total: Some(total),
            }) => {
                format!(
                    "{total_written} new events · {done}/{total} ({:.0}%)",
                    done as f64 * 100.0 / total.max(1) as f64
                )
            }
            _ => format!("{total_written} new events"),
        };
        bar.set_message(msg);
    }

    fn source_finished(&self, report: &SourceReport) {
        let bar = self
            .bars
            .lock()
            .ok()
            .and_then(|mut b| b.remove(&report.info.id));
        match bar {
            Some(bar) => bar.finish_and_clear(),
            None => {
                let st = &report.stats;
                let http = if st.requests > 0 {
                    format!(
                        ", {} requests ({} not modified, {} retried, {} rate-limit waits)",
                        st.requests, st.not_modified, st.retries, st.rate_limit_waits
                    )
                } else {
                    String::new()
                };
                eprintln!(
                    "{}: {} ({} new events, {} duplicates, {} invalid{http}, {:.2}s)",
                    report.info.id,
                    report.status.as_str(),
                    report.events_written,
                    report.duplicates,
                    report.invalid,
                    st.duration.as_secs_f64()
                )
            }
        }
    }
}
