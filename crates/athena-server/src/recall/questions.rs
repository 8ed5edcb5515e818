//! The questions recall answers, asked of the [`RecallService`] by HTTP, MCP and any
//! program that embeds the server: each resolves its parameters, reads the store within the
//! service's bounds, and answers one of the types of [`super::answers`], or a [`RecallError`]
//! whose text both front ends show as it is.
//!
//! Each takes a `render` run on the store's blocking thread with the answer: a page of 1000
//! events is milliseconds of serialising that would stall one of the runtime's two workers.

use std::time::Duration;

use athena_core::known;
use athena_core::recall::{PageQuery, QueryBudget, Recall, Spent};
use athena_core::search::{all_then_any, Matched};
use athena_core::{Event, EventQuery, StoreError};
use chrono::{DateTime, Utc};

use super::answers::{
    EventView, EventsPage, Kinds, MatchKind, People, RelatedView, Sources, Timeline,
};
use super::params::{
    EventParams, EventsParams, Format, ParamError, PeopleParams, RelatedParams, TimelineParams,
};
use super::service::Refused;
use super::{Cost, RecallService};

/// The work item of each event's session when the shape is Athena's (its `session_id`, see
/// [`Recall::sessions`]); the other shape has no session to read.
fn work_items(
    r: &dyn Recall,
    events: &[Event],
    format: Format,
    budget: &QueryBudget,
) -> Result<Vec<Option<String>>, StoreError> {
    match format {
        Format::Athena => r.sessions(events, budget),
        Format::Jsonl => Ok(vec![None; events.len()]),
    }
}

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecallError {
    /// A parameter that cannot be used (HTTP 400).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// No such event (HTTP 404).
    #[error("no event {id:?} of source {source_id:?} in the store")]
    NotFound {
        /// The source asked for.
        source_id: String,
        /// The id asked for.
        id: String,
    },
    /// Every store connection is taken and the queue is full (HTTP 503 with `Retry-After`).
    #[error(
        "recall is busy: every store connection is taken and the queue is full; try again shortly"
    )]
    Busy {
        /// When to ask again.
        retry_after: Duration,
    },
    /// The query ran out of time, or the server is stopping (HTTP 503).
    #[error("{}", spent_text(.0))]
    Spent(Spent),
    /// The store is busy or locked: worth trying again (HTTP 503).
    #[error("the store cannot be read now: {0}")]
    StoreBusy(StoreError),
    /// The store failed (HTTP 500).
    #[error("the store cannot be read: {0}")]
    Store(StoreError),
    /// The query panicked: a bug, logged (HTTP 500).
    #[error("the query failed unexpectedly (see the server's log)")]
    Internal,
}

fn spent_text(spent: &Spent) -> String {
    match spent {
        Spent::TimedOut(_) => format!(
            "{spent}, and was stopped: narrow it (a shorter window, rarer words, fewer terms, a smaller limit)"
        ),
        _ => format!("{spent}: the server is stopping"),
    }
}

impl From<Refused> for RecallError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Busy { retry_after } => RecallError::Busy { retry_after },
            Refused::Spent(spent) => RecallError::Spent(spent),
            Refused::Store(e) => RecallError::from_store(e),
            Refused::Panicked => RecallError::Internal,
        }
    }
}

impl RecallError {
    fn from_store(e: StoreError) -> Self {
        match e {
            // Only the full-text query can be malformed: `q` is its parameter.
            StoreError::Query(message) => RecallError::Param(ParamError::new(
                "q",
                format!("not a full-text query SQLite accepts: {message}"),
            )),
            e @ (StoreError::TooCostly(_) | StoreError::SearchSyntax(_)) => {
                RecallError::Param(ParamError::new("q", e.to_string()))
            }
            StoreError::Interrupted(spent) => RecallError::Spent(spent),
            e @ (StoreError::Busy { .. } | StoreError::Backend(_)) => {
                tracing::warn!("recall: reading the store: {e}");
                RecallError::StoreBusy(e)
            }
            e => {
                tracing::warn!("recall: reading the store: {e}");
                RecallError::Store(e)
            }
        }
    }
}

impl RecallService {
    /// A page of events, newest first unless `order=asc`.
    pub async fn events<R: Send + 'static>(
        &self,
        params: &EventsParams,
        now: DateTime<Utc>,
        render: impl FnOnce(EventsPage) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let query = params.resolve(now)?;
        let filter = &query.page.filter;
        let cost = Cost::page(
            query.page.limit,
            filter.search.is_some() || filter.actor.is_some(),
        );
        let registry = self.registry();
        let answer = self.run(cost, move |r, budget| {
            // A later page follows a first one that had matches: it never falls back.
            let (page, matched) = match query.page.after {
                Some(_) => (r.page(&query.page, budget)?, Matched::All),
                None => all_then_any(
                    &query.page.filter,
                    |filter| {
                        let page = PageQuery {
                            filter: filter.clone(),
                            ..query.page.clone()
                        };
                        r.page(&page, budget)
                    },
                    |page| page.events.is_empty(),
                )?,
            };
            let unknown = unknown_names(r, &query.page.filter, budget)?;
            let search = query.page.filter.search.as_deref();
            let (format, metadata) = (query.format, query.metadata);
            let items = work_items(r, &page.events, format, budget)?;
            Ok(render(EventsPage {
                events: (EventView::all(page.events, format, &registry, items).into_iter())
                    .map(|e| if metadata { e } else { e.without_metadata() })
                    .collect(),
                next_cursor: page.next.map(|c| c.to_text(query.key)),
                matched: search.map(|_| match matched {
                    Matched::Any(_) => MatchKind::Any,
                    _ => MatchKind::All,
                }),
                note: notes(search.and_then(|s| matched.note(s)), unknown),
            }))
        });
        Ok(answer.await?)
    }

    /// One event by its source and id.
    pub async fn event<R: Send + 'static>(
        &self,
        params: &EventParams,
        render: impl FnOnce(EventView) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let EventParams { source, id, format } = params.clone();
        let (s, i) = (source.clone(), id.clone());
        let registry = self.registry();
        let found = self.run(Cost::ONE, move |r, budget| {
            let Some(e) = r.event(&s, &i, budget)? else {
                return Ok(None);
            };
            let items = work_items(r, std::slice::from_ref(&e), format, budget)?;
            Ok(EventView::all(vec![e], format, &registry, items)
                .pop()
                .map(render))
        });
        found.await?.ok_or(RecallError::NotFound {
            source_id: source,
            id,
        })
    }

    /// An event's related events: those about or mentioning a thing it is about or mentions.
    pub async fn related<R: Send + 'static>(
        &self,
        params: &RelatedParams,
        render: impl FnOnce(RelatedView) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let RelatedParams {
            source,
            id,
            limit,
            format,
        } = params.clone();
        let (s, i) = (source.clone(), id.clone());
        let limit = limit.unwrap_or_default().get();
        let registry = self.registry();
        let found = self.run(Cost::ONE, move |r, budget| {
            let Some(found) = r.related(&s, &i, limit, budget)? else {
                return Ok(None);
            };
            let events: Vec<Event> = std::iter::once(&found.event)
                .chain(found.related.iter().map(|r| &r.event))
                .cloned()
                .collect();
            let items = work_items(r, &events, format, budget)?;
            Ok(Some(render(RelatedView::new(
                found, format, &registry, items,
            ))))
        });
        found.await?.ok_or(RecallError::NotFound {
            source_id: source,
            id,
        })
    }

    /// Every source the store knows.
    pub async fn sources<R: Send + 'static>(
        &self,
        render: impl FnOnce(Sources) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let priorities = self.priorities();
        let answer = self.run(Cost::ONE, move |r, budget| {
            let mut status = r.sources(budget)?;
            if let Some(priorities) = priorities {
                for s in &mut status {
                    s.priority = priorities.get(&s.source_id);
                }
            }
            Ok(render(Sources::new(status)))
        });
        Ok(answer.await?)
    }

    /// The people the stored events name, those matching `params.q` when given.
    pub async fn people<R: Send + 'static>(
        &self,
        params: &PeopleParams,
        render: impl FnOnce(People) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let q = params.query()?;
        let answer = self.run(Cost::ONE, move |r, budget| {
            Ok(render(People::new(r.people(budget)?, q.as_deref())))
        });
        Ok(answer.await?)
    }

    /// The kinds of the stored events, per source.
    pub async fn kinds<R: Send + 'static>(
        &self,
        render: impl FnOnce(Kinds) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let answer = self.run(Cost::ONE, move |r, budget| {
            Ok(render(Kinds::new(r.kinds(budget)?)))
        });
        Ok(answer.await?)
    }

    /// Counts of events per time bucket and source, oldest bucket first.
    pub async fn timeline<R: Send + 'static>(
        &self,
        params: &TimelineParams,
        now: DateTime<Utc>,
        render: impl FnOnce(Timeline) -> R + Send + 'static,
    ) -> Result<R, RecallError> {
        let (filter, bucket) = params.resolve(now)?;
        // Hours over years are many rows: rendered off the runtime's workers, as a page is.
        let answer = self.run(Cost::TIMELINE, move |r, budget| {
            // The same fallback as a first page, so a chart counts the events a list shows.
            let (counts, matched) = all_then_any(
                &filter,
                |filter| r.timeline(filter, bucket, budget),
                |counts| counts.is_empty(),
            )?;
            let unknown = unknown_names(r, &filter, budget)?;
            let search = filter.search.as_deref();
            Ok(render(Timeline {
                matched: search.map(|_| match matched {
                    Matched::Any(_) => MatchKind::Any,
                    _ => MatchKind::All,
                }),
                note: notes(search.and_then(|s| matched.note(s)), unknown),
                ..Timeline::new(bucket, counts)
            }))
        });
        Ok(answer.await?)
    }
}

/// What `filter` names that the store does not have (see [`known::unknown_names`]): asked of
/// the store only when the filter names a source or a kind.
fn unknown_names(
    r: &dyn Recall,
    filter: &EventQuery,
    budget: &QueryBudget,
) -> Result<Option<String>, StoreError> {
    if filter.sources.is_empty() && filter.kinds.is_empty() {
        return Ok(None);
    }
    Ok(known::unknown_names(filter, &r.kinds(budget)?))
}

/// The search's note and the unknown names', in one line.
fn notes(search: Option<String>, unknown: Option<String>) -> Option<String> {
    match (search, unknown) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}
