//! `events` with a search: the store's answer, or (no event has every plain word) the events
//! with any of them, said on stderr; a search that cannot be read is a usage error with advice.
//! A source or kind the store does not have is named on stderr with the ones it has.

use anyhow::Result;
use athena_core::search::all_then_any;
use athena_core::{Event, EventQuery, Store, StoreError};

use crate::UsageError;

/// The events of `query`, falling back to any word of its search when none has them all.
pub(crate) fn events(store: &dyn Store, query: &EventQuery) -> Result<Vec<Event>> {
    let (events, matched) =
        all_then_any(query, |q| store.query_events(q), Vec::is_empty).map_err(|e| match e {
            StoreError::Query(m) => anyhow::Error::new(UsageError(format!("--search: {m}"))),
            e @ (StoreError::TooCostly(_) | StoreError::SearchSyntax(_)) => {
                anyhow::Error::new(UsageError(format!("--search: {e}")))
            }
            other => anyhow::Error::new(other),
        })?;
    if let Some(note) = query.search.as_deref().and_then(|s| matched.note(s)) {
        eprintln!("note: {note}");
    }
    if !query.sources.is_empty() || !query.kinds.is_empty() {
        if let Some(note) = athena_core::known::unknown_names(query, &store.kinds()?) {
            eprintln!("note: {note}");
        }
    }
    Ok(events)
}
