//! `workflow_runs`: GitHub Actions runs once completed, one event per attempt. A run is listed
//! by creation but stored when it completes, so passes read on a day past the mark, and runs
//! seen waiting (for an approval, say) are asked for by id until they complete.

use std::collections::BTreeMap;

use async_trait::async_trait;
use athena_core::{Event, Outcome};
use athena_http::HttpErrorKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::List;
use crate::github::config::Stream;
use crate::github::cursor::{ListCursor, StreamCursor, Streams};
use crate::github::fetch::{Api, Failure};
use crate::github::json::{item, login, time, Account, Ctx, Lax};
use crate::github::pass::{Page, Reading};

/// The most waiting runs a cursor follows (the newest are kept).
const MAX_WAITING_RUNS: usize = 200;

/// Days after its latest start a run that has not completed is no longer followed (GitHub
/// lets a run wait 30 days for approval).
const WAITING_DAYS: i64 = 35;

/// An element of the runs list, or a run (or attempt) asked for by id.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Run {
    id: Lax<u64>,
    run_attempt: Lax<u64>,
    run_number: Lax<u64>,
    name: Lax<String>,
    status: Lax<String>,
    conclusion: Lax<String>,
    display_title: Lax<String>,
    head_branch: Lax<String>,
    html_url: Lax<String>,
    actor: Lax<Account>,
    triggering_actor: Lax<Account>,
    created_at: Lax<String>,
    updated_at: Lax<String>,
    run_started_at: Value,
    event: Value,
    head_sha: Value,
    workflow_id: Value,
}

impl Run {
    fn completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }

    fn attempt(&self) -> u64 {
        self.run_attempt.unwrap_or(1)
    }

    /// Whether a run not completed has waited past the point where GitHub would still finish
    /// it: [`WAITING_DAYS`] after its latest attempt started (or after its creation).
    fn abandoned(&self) -> bool {
        let started = [
            self.run_started_at.as_str().and_then(time),
            self.created_at.time(),
        ];
        let started = started.into_iter().flatten().max();
        started.is_some_and(|t| Utc::now() - t > chrono::Duration::days(WAITING_DAYS))
    }
}

/// A workflow run seen not completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct WaitingRun {
    pub id: u64,
    /// The attempt that was not completed: a re-run started before the next sync has a higher
    /// one, and the attempts in between are asked for one by one.
    pub attempt: u64,
}

impl WaitingRun {
    /// The run as listed, if it is not completed and recent enough to follow.
    fn of(run: &Run) -> Option<WaitingRun> {
        if run.completed() || run.abandoned() {
            return None;
        }
        Some(WaitingRun {
            id: (*run.id)?,
            attempt: run.attempt(),
        })
    }
}

/// The cursor of `workflow_runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunsCursor {
    #[serde(flatten)]
    pub list: ListCursor,
    /// The runs listed while still queued, waiting or running, with the attempt seen. One
    /// waiting longer than the overlap (an approval) is listed beyond where the next passes
    /// stop, so each sync asks for these by id until they complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<WaitingRun>,
}

impl StreamCursor for RunsCursor {
    fn list(&self) -> &ListCursor {
        &self.list
    }
    fn list_mut(&mut self) -> &mut ListCursor {
        &mut self.list
    }
}

#[derive(Default)]
pub(crate) struct WorkflowRuns {
    /// Each run this pass listed: its attempt, and whether it is still to follow.
    listed: BTreeMap<u64, (u64, Option<WaitingRun>)>,
    /// The runs to follow when the pass completes.
    waiting: Vec<WaitingRun>,
}

#[async_trait]
impl List for WorkflowRuns {
    const STREAM: Stream = Stream::WorkflowRuns;
    type Item = Run;
    type Cursor = RunsCursor;

    fn slot(streams: &mut Streams) -> &mut Option<RunsCursor> {
        &mut streams.workflow_runs
    }

    /// Not `status=completed`: GitHub caps filtered lists at 1,000 runs. Runs still running
    /// are skipped here and stored once completed.
    fn path(&self, repo: &str) -> String {
        format!("{repo}/actions/runs?per_page=100")
    }

    fn items(page: &Value) -> Option<&Vec<Value>> {
        page.get("workflow_runs")?.as_array()
    }

    fn order_time(item: &Run) -> Option<DateTime<Utc>> {
        item.created_at.time()
    }

    fn mark(item: &Run) -> Option<DateTime<Utc>> {
        item.updated_at.time().filter(|_| item.completed())
    }

    fn stop_before(&self, mark: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(mark - chrono::Duration::days(1))
    }

    fn read(&mut self, item: &Run, ctx: &Ctx<'_>, page: &mut Page) {
        if let Some(e) = event(item) {
            page.event(ctx, e);
        }
    }

    fn listed(&mut self, item: &Run) {
        if let Some(id) = *item.id {
            self.listed
                .insert(id, (item.attempt(), WaitingRun::of(item)));
        }
    }

    /// A waiting run listed beyond the first page completes without changing it: the runs
    /// waiting are asked for; their events are stored under the cursor still waiting for
    /// them, then the cursor moves.
    async fn not_modified(
        &mut self,
        saved: &RunsCursor,
        reading: &mut Reading<'_, '_>,
    ) -> Result<(), Failure> {
        if saved.waiting.is_empty() {
            return Ok(());
        }
        let (found, waiting) = waiting_runs(&saved.waiting, reading.api).await?;
        let out = &mut *reading.out;
        if found.events.is_empty() && waiting == out.entry::<Self>().waiting {
            return Ok(());
        }
        out.emit(found).await?;
        out.entry::<Self>().waiting = waiting;
        out.commit(true).await?;
        Ok(())
    }

    /// Runs waiting at an earlier sync and not listed by this pass are asked for by id. A
    /// listed run is asked for too if an attempt it was waiting on is behind it (a re-run
    /// started since): the list shows only the latest attempt.
    async fn finish(
        &mut self,
        saved: &RunsCursor,
        api: &Api<'_>,
        last: &mut Page,
    ) -> Result<(), Failure> {
        let ask: Vec<WaitingRun> = saved
            .waiting
            .iter()
            .copied()
            .filter(|w| match self.listed.get(&w.id) {
                None => true,
                Some((listed, _)) => *listed > w.attempt,
            })
            .collect();
        let (found, mut waiting) = waiting_runs(&ask, api).await?;
        last.events.extend(found.events);
        waiting.extend(self.listed.values().filter_map(|(_, follow)| *follow));
        waiting.sort_unstable();
        waiting.dedup_by_key(|w| w.id);
        if waiting.len() > MAX_WAITING_RUNS {
            tracing::warn!(source = %api.source_id, "{} runs are waiting; following the newest {MAX_WAITING_RUNS}", waiting.len());
            waiting.drain(..waiting.len() - MAX_WAITING_RUNS);
        }
        self.waiting = waiting;
        Ok(())
    }

    fn complete(&mut self, cursor: &mut RunsCursor) {
        cursor.waiting = std::mem::take(&mut self.waiting);
    }
}

/// Asks for each run in `runs` by id: returns the events of the attempts completed since
/// (an attempt a re-run has replaced is asked for by its number), and the runs still
/// waiting. A run deleted meanwhile (404), or waiting past [`WAITING_DAYS`], is let go. A
/// run that cannot be read now stays waiting, and a spent rate limit leaves the rest for
/// the next sync; only a rejected token fails the stream.
async fn waiting_runs(
    runs: &[WaitingRun],
    api: &Api<'_>,
) -> Result<(Page, Vec<WaitingRun>), Failure> {
    let (mut found, mut still) = (Page::default(), Vec::new());
    let base = format!(
        "repos/{}/{}/actions/runs",
        api.config.owner, api.config.repo
    );
    for (i, w) in runs.iter().enumerate() {
        let run: Run = match api.get_value(&format!("{base}/{}", w.id)).await {
            Ok(Some(run)) => item(&run),
            Ok(None) => continue, // deleted
            Err(e) if e.kind == HttpErrorKind::Unauthorized => return Err(api.failure(&e)),
            Err(e) if e.kind == HttpErrorKind::RateLimited => {
                tracing::warn!(source = %api.source_id, "{e}; {} waiting runs are asked for next time", runs.len() - i);
                still.extend_from_slice(&runs[i..]);
                break;
            }
            Err(e) => {
                tracing::warn!(source = %api.source_id, run = w.id, "{e}");
                still.push(*w);
                continue;
            }
        };
        let latest = run.attempt();
        // Attempts before the latest are completed (a re-run starts after its attempt ends).
        let mut asked_all = true;
        for attempt in w.attempt..latest {
            match api
                .get_value(&format!("{base}/{}/attempts/{attempt}", w.id))
                .await
            {
                Ok(Some(a)) => {
                    if let Some(e) = event(&item(&a)) {
                        found.event(&api.ctx, e);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(source = %api.source_id, run = w.id, attempt, "{e}");
                    asked_all = false;
                    break;
                }
            }
        }
        if !asked_all {
            still.push(*w);
        } else if run.completed() {
            if let Some(e) = event(&run) {
                found.event(&api.ctx, e);
            }
        } else if run.abandoned() {
            tracing::warn!(source = %api.source_id, run = w.id, "run still not completed after {WAITING_DAYS} days; no longer followed");
        } else {
            still.push(WaitingRun {
                id: w.id,
                attempt: latest,
            });
        }
    }
    Ok((found, still))
}

fn event(run: &Run) -> Option<Event> {
    if !run.completed() {
        return None;
    }
    let id = (*run.id)?;
    let attempt = run.attempt();
    let at = run.updated_at.time()?;
    let conclusion = run.conclusion.as_deref();
    let name = run.name.as_deref().unwrap_or("workflow");
    let number = run.run_number.unwrap_or(0);
    let mut e = Event::new(
        format!("run:{id}:{attempt}"),
        "workflow_run_completed",
        at,
        format!("{name} #{number} {}", conclusion.unwrap_or("completed")),
    );
    e.outcome = match conclusion {
        Some("success") => Some(Outcome::Success),
        Some("failure" | "timed_out" | "startup_failure") => Some(Outcome::Failure),
        _ => None,
    };
    e.actor = login(&run.triggering_actor).or_else(|| login(&run.actor));
    e.url = run.html_url.0.clone();
    e.body = run.display_title.as_deref().unwrap_or("").to_string();
    if let Some(b) = run.head_branch.as_deref() {
        e.context.insert("branch".into(), json!(b));
    }
    let mut m = Map::new();
    m.insert("run_id".into(), json!(id));
    m.insert("run_attempt".into(), json!(attempt));
    m.insert("run_number".into(), json!(number));
    m.insert("conclusion".into(), json!(conclusion));
    m.insert("event".into(), run.event.clone());
    m.insert("head_sha".into(), run.head_sha.clone());
    m.insert("workflow_id".into(), run.workflow_id.clone());
    m.insert("run_started_at".into(), run.run_started_at.clone());
    e.metadata = m;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_outcomes_come_from_the_conclusion() {
        for (conclusion, outcome) in [
            ("success", Some(Outcome::Success)),
            ("failure", Some(Outcome::Failure)),
            ("timed_out", Some(Outcome::Failure)),
            ("cancelled", None),
        ] {
            let run = json!({"id": 5, "run_attempt": 2, "updated_at": "2024-01-01T00:00:00Z", "status": "completed",
                             "conclusion": conclusion, "name": "CI", "run_number": 9});
            let e = event(&item(&run)).unwrap();
            assert_eq!(e.outcome, outcome, "{conclusion}");
            assert_eq!(e.id, "run:5:2");
        }
    }

    #[test]
    fn a_run_not_completed_is_followed_until_it_is_abandoned() {
        let now = Utc::now().to_rfc3339();
        let running: Run = item(&json!({"id": 7, "status": "queued", "created_at": now}));
        assert_eq!(
            WaitingRun::of(&running),
            Some(WaitingRun { id: 7, attempt: 1 })
        );
        assert_eq!(WorkflowRuns::mark(&running), None);
        let old: Run =
            item(&json!({"id": 7, "status": "queued", "created_at": "2020-01-01T00:00:00Z"}));
        assert_eq!(WaitingRun::of(&old), None);
    }
}
