//! One sync of a `circleci` source.
//!
//! First the workflows followed since an earlier sync (the cursor's `pending`) are asked for
//! by id; each one finished since is stored and leaves the list. Then the pipelines are listed
//! newest first down to the stored mark less the overlap (CircleCI has no "since" filter, and
//! a re-run adds a workflow to an old pipeline without changing it); each pipeline's workflows
//! and their jobs are read, and the pipeline's events go to the sink together, followed by a
//! checkpoint under a cursor that says how far the pass came (`Pass`).
//!
//! Exactly once: a pipeline's events are emitted only once all of its requests succeeded,
//! and the cursor changes only with them, so every checkpoint's cursor is true for everything
//! emitted before it. A pass cut short (a kill, a failing request) is resumed by the next
//! sync: pipelines newer than the pass's top are read, its stored range is skipped, and the
//! pass goes on below its bottom. What is read twice (the overlap) has the same event ids and
//! is stored once.

use std::collections::HashSet;

use athena_core::kit::Sink;
use athena_core::{ErrorKind, Event, SourceError};
use athena_http::HttpErrorKind;
use serde_json::Value;

use super::client::{encode, Api};
use super::cursor::{CircleciCursor, Key, Mark, Pass, Pending, Stored};
use super::model::{item, Job, Pipeline, Project, Workflow};
use crate::api::Failure;

/// The most workflows a cursor follows (the newest are kept).
const MAX_PENDING: usize = 500;

/// The most finished workflows a cursor remembers as stored (see `Stored`).
const MAX_STORED: usize = 2000;

/// Days after its creation a workflow not finished is no longer followed (a workflow on hold
/// for approval is kept by CircleCI for weeks; past this it is taken as abandoned).
const PENDING_DAYS: i64 = 35;

/// One sync: the API, the project, and the cursor as it moves.
pub(super) struct Run<'a> {
    pub api: Api<'a>,
    pub project: &'a Project,
    pub branch: Option<&'a str>,
    pub overlap: chrono::Duration,
    pub cursor: CircleciCursor,
    /// The workflows stored by this sync's [`Run::follow`], not read again by its pass.
    pub followed: HashSet<String>,
}

impl Run<'_> {
    /// Follows the pending workflows, then reads the pipelines; the cursor is true for what
    /// was emitted whenever this returns (the driver stores it, after a failure too).
    pub async fn run(&mut self, sink: &mut Sink) -> Result<(), Failure> {
        self.follow(sink).await?;
        self.pass(sink).await
    }

    /// Asks for each workflow followed since an earlier sync. A finished one is stored and let
    /// go; one deleted (404) or abandoned is let go; one that cannot be read now stays (a
    /// rejected token or a spent rate limit fails the sync, the cursor kept).
    async fn follow(&mut self, sink: &mut Sink) -> Result<(), Failure> {
        let followed = self.cursor.pending.clone();
        for p in followed {
            let url = self.api.url(&format!("workflow/{}", encode(&p.id)), &[])?;
            let w: Workflow = match self.api.get(&url).await {
                Ok(v) => item(&v),
                Err(e) if e.kind == HttpErrorKind::NotFound => {
                    self.cursor.pending.retain(|q| q.id != p.id);
                    continue;
                }
                Err(e)
                    if matches!(
                        e.kind,
                        HttpErrorKind::Unauthorized
                            | HttpErrorKind::Forbidden
                            | HttpErrorKind::RateLimited
                    ) =>
                {
                    return Err(self.api.explain(&e).into())
                }
                Err(e) => {
                    tracing::warn!(source = %self.api.source_id, workflow = %p.id, "{e}; asked for again next sync");
                    continue;
                }
            };
            if w.finished() {
                let events = match self
                    .workflow_events(&w, p.pipeline, p.branch.as_deref())
                    .await
                {
                    Ok(events) => events,
                    Err(e)
                        if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::RateLimited) =>
                    {
                        return Err(e.into())
                    }
                    Err(e) => {
                        tracing::warn!(source = %self.api.source_id, workflow = %p.id, "{e}; asked for again next sync");
                        continue;
                    }
                };
                for e in events {
                    sink.event(e);
                }
                self.followed.insert(p.id.clone());
                // Its own creation stands for its pipeline's (a little later: kept a little
                // longer), so a pass over the overlap does not ask for its jobs again.
                if let Some(t) = w.created_at() {
                    self.cursor.stored.push(Stored {
                        id: p.id.clone(),
                        created_at: Mark::of((t, 0)).created_at,
                    });
                }
            } else if w.abandoned(PENDING_DAYS) {
                tracing::warn!(source = %self.api.source_id, workflow = %p.id, "not finished {PENDING_DAYS} days after its creation; no longer followed");
            } else {
                continue;
            }
            self.cursor.pending.retain(|q| q.id != p.id);
            let cursor = &self.cursor;
            sink.checkpoint(|| cursor.encode()).await?;
        }
        Ok(())
    }

    /// Lists the pipelines newest first down to the mark less the overlap (or to the end),
    /// storing each one; then the mark moves to the newest one listed.
    async fn pass(&mut self, sink: &mut Sink) -> Result<(), Failure> {
        let stop = self.cursor.mark.as_ref().map(|m| m.key().0 - self.overlap);
        // The range an earlier pass stored, skipped once this pass reaches it.
        let old = self.cursor.pass.clone();
        let old_range = old.as_ref().map(|o| (o.top.key(), o.bottom.key()));
        let mut crossed = false;
        let mut newest: Option<Key> = None;
        let query: Vec<(&str, &str)> = self.branch.iter().map(|b| ("branch", *b)).collect();
        let first = self
            .api
            .url(&format!("{}/pipeline", self.api.project_path()), &query)?;
        let mut list = self.api.list(first);
        let mut done = 0u64;
        'pages: loop {
            let items = match list.next(&self.api).await {
                Ok(Some(items)) => items,
                Ok(None) => break,
                Err(e) => return Err(self.api.explain(&e).into()),
            };
            for value in items {
                let p: Pipeline = item(&value);
                let Some(key) = p.key() else {
                    tracing::warn!(source = %self.api.source_id, "a pipeline without a creation time or number is skipped: {}", excerpt(&value));
                    continue;
                };
                if stop.is_some_and(|s| key.0 < s) {
                    break 'pages;
                }
                newest = newest.max(Some(key));
                if let Some((top, bottom)) = old_range {
                    if !crossed && key <= top {
                        // Everything from the newest listed down to here is stored now, and
                        // the old range below it was before: one range again.
                        crossed = true;
                        self.cursor.pass = Some(Pass {
                            top: Mark::of(newest.unwrap_or(key).max(top)),
                            bottom: Mark::of(bottom),
                        });
                    }
                    if crossed && key >= bottom {
                        continue;
                    }
                }
                let mut found = self.pipeline(&p).await?;
                for e in std::mem::take(&mut found.events) {
                    sink.event(e);
                }
                self.stored(found);
                match (&mut self.cursor.pass, old_range.is_some()) {
                    // Above an earlier pass's range: that range stays what the cursor says.
                    (_, true) if !crossed => {}
                    (Some(pass), true) => pass.bottom = Mark::of(key),
                    (pass, _) => {
                        *pass = Some(Pass {
                            top: Mark::of(newest.unwrap_or(key)),
                            bottom: Mark::of(key),
                        })
                    }
                }
                done += 1;
                sink.progress(done, None);
                let cursor = &self.cursor;
                sink.checkpoint(|| cursor.encode()).await?;
            }
        }
        let marks = [
            self.cursor.mark.as_ref().map(Mark::key),
            old_range.map(|(top, _)| top),
            newest,
        ];
        let mark = marks.into_iter().flatten().max();
        self.cursor.mark = mark.map(Mark::of);
        self.cursor.pass = None;
        // Only workflows of pipelines the next pass lists again are worth remembering.
        if let Some((t, _)) = mark {
            let start = t - self.overlap;
            self.cursor.stored.retain(|s| {
                Mark {
                    created_at: s.created_at.clone(),
                    number: 0,
                }
                .key()
                .0 >= start
            });
        }
        let stored = &mut self.cursor.stored;
        stored.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        if stored.len() > MAX_STORED {
            stored.drain(..stored.len() - MAX_STORED);
        }
        Ok(())
    }

    /// A pipeline's events (its creation, its finished workflows and their failed jobs) and
    /// what the cursor learns once they are stored. Nothing changes here: a request failing
    /// half-way leaves the cursor as it was.
    async fn pipeline(&self, p: &Pipeline) -> Result<Found, SourceError> {
        let mut found = Found {
            events: p.event(self.project).into_iter().collect(),
            ..Found::default()
        };
        let (Some(id), Some(key)) = (p.id.0.as_deref(), p.key()) else {
            return Ok(found);
        };
        let workflows = self
            .api
            .all(&format!("pipeline/{}/workflow", encode(id)))
            .await?;
        for value in &workflows {
            let w: Workflow = item(value);
            let Some(wid) = w.id.0.clone() else { continue };
            let stored =
                self.followed.contains(&wid) || self.cursor.stored.iter().any(|s| s.id == wid);
            if w.finished() && !stored {
                let events = self.workflow_events(&w, p.number(), p.branch()).await?;
                found.events.extend(events);
                found.finished.push(Stored {
                    id: wid,
                    created_at: Mark::of(key).created_at,
                });
            } else if !w.finished()
                && !w.abandoned(PENDING_DAYS)
                && !self.cursor.pending.iter().any(|q| q.id == wid)
            {
                found.follow.push(Pending {
                    id: wid,
                    pipeline: w.pipeline_number().unwrap_or(p.number()),
                    branch: p.branch().map(str::to_string),
                });
            }
        }
        Ok(found)
    }

    /// What a pipeline's events, now emitted, change in the cursor.
    fn stored(&mut self, found: Found) {
        let pending = &mut self.cursor.pending;
        pending.retain(|q| !found.finished.iter().any(|f| f.id == q.id));
        pending.extend(found.follow);
        // Oldest first, so the oldest are let go past the cap.
        pending.sort_by_key(|q| q.pipeline);
        if pending.len() > MAX_PENDING {
            tracing::warn!(source = %self.api.source_id, "{} workflows are not finished; following the newest {MAX_PENDING}", pending.len());
            pending.drain(..pending.len() - MAX_PENDING);
        }
        self.cursor.stored.extend(found.finished);
    }

    /// A finished workflow's event and its failed jobs'.
    async fn workflow_events(
        &self,
        w: &Workflow,
        pipeline: u64,
        branch: Option<&str>,
    ) -> Result<Vec<Event>, SourceError> {
        let Some(id) = w.id.0.as_deref() else {
            return Ok(Vec::new());
        };
        let jobs: Vec<Job> = self
            .api
            .all(&format!("workflow/{}/job", encode(id)))
            .await?
            .iter()
            .map(item)
            .collect();
        let mut events: Vec<Event> = w
            .event(self.project, pipeline, branch, &jobs)
            .into_iter()
            .collect();
        events.extend(
            jobs.iter()
                .filter_map(|j| j.event(self.project, pipeline, branch, id)),
        );
        Ok(events)
    }
}

/// A pipeline read: its events, the workflows it has that are not finished, and those stored
/// with it.
#[derive(Default)]
struct Found {
    events: Vec<Event>,
    follow: Vec<Pending>,
    finished: Vec<Stored>,
}

/// The start of an odd item, for a log line.
fn excerpt(v: &Value) -> String {
    let text = v.to_string();
    text.chars().take(200).collect()
}
