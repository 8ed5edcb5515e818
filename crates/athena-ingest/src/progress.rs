//! Progress on a terminal: one bar per source (indicatif), which also says what a source
//! waits for when the wait is longer than a second (`retrying api.github.com in 4 s (2/3)`,
//! from the HTTP client's [`WaitNotice`]s). Elsewhere nothing is drawn, and the end of each
//! source is one plain line on stderr.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use athena_core::{Progress, SourceInfo, SourceReport, SyncObserver};
use athena_http::wait::{WaitNotice, WaitReason};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;

/// Waits no longer than this are not shown: they pass before anyone reads them.
const SHOWN_WAIT: Duration = Duration::from_secs(1);

/// The bars of the sync under way, for the notices of waits (which come through tracing).
static CURRENT: Mutex<Option<Weak<Bars>>> = Mutex::new(None);

pub(crate) struct Bars {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// The message a bar showed before a wait took its place, back when the wait is over.
    before_wait: Mutex<HashMap<String, String>>,
}

impl Bars {
    /// Bars on stderr if it is a terminal, else none; the current ones for wait notices.
    pub(crate) fn new() -> Arc<Self> {
        let target = std::io::stderr()
            .is_terminal()
            .then(ProgressDrawTarget::stderr);
        let bars = Bars::drawn_to(target);
        bars.show_waits();
        bars
    }

    /// Makes these the bars the wait notices go to (those of the sync under way).
    pub(crate) fn show_waits(self: &Arc<Self>) {
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::downgrade(self));
    }

    /// Bars drawn to `target` (`None`: not a terminal, nothing drawn).
    pub(crate) fn drawn_to(target: Option<ProgressDrawTarget>) -> Arc<Self> {
        Arc::new(Bars {
            multi: target.map(MultiProgress::with_draw_target),
            bars: Mutex::new(HashMap::new()),
            before_wait: Mutex::new(HashMap::new()),
        })
    }

    /// Shows a wait of the client on its source's bar (if it is long enough to be read), and
    /// what the bar said before once it is over. Without a terminal: nothing.
    pub(crate) fn notice(&self, notice: &WaitNotice) {
        let Ok(bars) = self.bars.lock() else { return };
        let mut before = self.before_wait.lock().unwrap_or_else(|p| p.into_inner());
        match notice {
            WaitNotice::Waiting {
                source_id,
                api,
                wait,
                why,
            } => {
                let (Some(bar), Some(text)) = (bars.get(source_id), wait_message(api, *wait, *why))
                else {
                    return;
                };
                before
                    .entry(source_id.clone())
                    .or_insert_with(|| bar.message());
                bar.set_message(text);
            }
            WaitNotice::Over { source_id } => {
                if let (Some(bar), Some(text)) = (bars.get(source_id), before.remove(source_id)) {
                    bar.set_message(text);
                }
            }
            _ => {}
        }
    }

    /// The message of `source_id`'s bar, if it has one.
    #[cfg(test)]
    pub(crate) fn message(&self, source_id: &str) -> Option<String> {
        self.bars.lock().ok()?.get(source_id).map(|b| b.message())
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
        if let Ok(mut before) = self.before_wait.lock() {
            // A batch stored: the wait is behind.
            before.remove(&info.id);
        }
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

/// What a bar says of a wait of `wait` for `why` on `api`; `None` when it is too short to
/// show.
pub(crate) fn wait_message(api: &str, wait: Duration, why: WaitReason) -> Option<String> {
    if wait <= SHOWN_WAIT {
        return None;
    }
    let secs = wait.as_secs_f64().ceil();
    Some(match why {
        WaitReason::Retry { attempt, of } => format!("retrying {api} in {secs} s ({attempt}/{of})"),
        WaitReason::RateLimit => format!("rate limited by {api}; waiting {secs} s"),
        _ => format!("waiting {secs} s for {api}"),
    })
}

/// The tracing layer that hands the HTTP client's wait notices to the bars of the sync under
/// way; `None` when stderr is not a terminal (no bars to show them on).
pub(crate) fn wait_layer<S>(terminal: bool) -> Option<impl Layer<S>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let only_waits = Targets::new().with_target(athena_http::wait::TARGET, tracing::Level::TRACE);
    terminal.then(|| Waits.with_filter(only_waits))
}

/// See [`wait_layer`].
struct Waits;

impl<S: tracing::Subscriber> Layer<S> for Waits {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let Some(notice) = WaitNotice::from_event(event) else {
            return;
        };
        let bars = CURRENT.lock().ok().and_then(|c| c.as_ref()?.upgrade());
        if let Some(bars) = bars {
            bars.notice(&notice);
        }
    }
}
