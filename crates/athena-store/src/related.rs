//! An event's related events, the same on every store: its things, then the events about or
//! mentioning each (for a commit, also its shorter SHAs and the longer ones it begins), the
//! newest first. A store gives the reads ([`LinkReads`]); this puts them together.

use std::collections::BTreeMap;

use athena_core::links::{self, Link, Related, RelatedEvent, Role, Thing};
use athena_core::{Event, StoreError};

/// The reads a store answers for [`related`].
pub(crate) trait LinkReads {
    /// The event `id` of `source_id`, with its storing sequence.
    fn event(&self, source_id: &str, id: &str) -> Result<Option<(i64, Event)>, StoreError>;
    /// The things of event `seq`, sorted.
    fn things(&self, seq: i64) -> Result<Vec<Link>, StoreError>;
    /// Up to `limit` other events with `thing`, the newest first, with their role.
    fn with_thing(
        &self,
        thing: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Role)>, StoreError>;
    /// Up to `limit` other events with a thing that begins with `thing` and is longer (a
    /// commit's longer SHAs), the newest first.
    fn with_longer(
        &self,
        thing: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Role, Thing)>, StoreError>;
    /// The events of `seqs`.
    fn events(&self, seqs: &[i64]) -> Result<Vec<(i64, Event)>, StoreError>;
    /// The things of the event `id` of `source_id` (none when it is not stored), sorted.
    fn things_of(&self, source_id: &str, id: &str) -> Result<Vec<Link>, StoreError>;
    /// The work items ([`links::work_item_rank`]) of the events about one of `things` (for a
    /// commit's short SHA, also of the events about a longer one beginning with it), each
    /// with that event's role, the first [`ITEMS_THROUGH`] by name.
    fn items_about(&self, things: &[Thing]) -> Result<Vec<Link>, StoreError>;
}

/// At most this many work items are read through the events an event shares a thing with.
pub(crate) const ITEMS_THROUGH: usize = 256;

/// A commit thing's SHA when it is a short one (its longer SHAs are a range to read too).
pub(crate) fn short_sha(thing: &str) -> Option<&str> {
    thing.strip_prefix("commit:").filter(|hex| hex.len() < 40)?;
    Some(thing)
}

/// [`Store::sessions`](athena_core::Store::sessions) from a store's reads: each event's
/// work item ([`links::session_of`]), through the events about its things when it names
/// no issue key itself.
pub(crate) fn sessions(
    reads: &impl LinkReads,
    events: &[Event],
) -> Result<Vec<Option<Thing>>, StoreError> {
    events
        .iter()
        .map(|e| {
            let own = reads.things_of(&e.source_id, &e.id)?;
            // Nothing read through another event can beat an issue key of its own.
            if own.is_empty()
                || own
                    .iter()
                    .any(|l| links::work_item_rank(&l.thing) == Some(0))
            {
                return Ok(links::session_of(&own, &[]));
            }
            let things: Vec<Thing> = own.iter().map(|l| l.thing.clone()).collect();
            let through = reads.items_about(&things)?;
            Ok(links::session_of(&own, &through))
        })
        .collect()
}

/// [`Store::related`](athena_core::Store::related) from a store's reads.
pub(crate) fn related(
    reads: &impl LinkReads,
    source_id: &str,
    id: &str,
    limit: usize,
) -> Result<Option<Related>, StoreError> {
    let Some((seq, event)) = reads.event(source_id, id)? else {
        return Ok(None);
    };
    let things = reads.things(seq)?;
    let mut by_seq: BTreeMap<i64, Vec<Link>> = BTreeMap::new();
    for link in &things {
        let mut keys = vec![link.thing.clone()];
        if let Some(shorter) = links::commit_prefixes(&link.thing) {
            keys.extend(shorter);
            for (other, role, thing) in reads.with_longer(&link.thing, seq, limit)? {
                by_seq.entry(other).or_default().push(Link { thing, role });
            }
        }
        for key in keys {
            for (other, role) in reads.with_thing(&key, seq, limit)? {
                by_seq.entry(other).or_default().push(Link {
                    thing: key.clone(),
                    role,
                });
            }
        }
    }
    let chosen: Vec<(i64, Vec<Link>)> = by_seq.into_iter().rev().take(limit).collect();
    let seqs: Vec<i64> = chosen.iter().map(|(s, _)| *s).collect();
    let mut events: BTreeMap<i64, Event> = if seqs.is_empty() {
        BTreeMap::new()
    } else {
        reads.events(&seqs)?.into_iter().collect()
    };
    let mut related: Vec<RelatedEvent> = chosen
        .into_iter()
        .filter_map(|(other, mut via)| {
            via.sort();
            via.dedup();
            events
                .remove(&other)
                .map(|event| RelatedEvent { event, via })
        })
        .collect();
    related.sort_by_key(|r| std::cmp::Reverse(r.event.occurred_at));
    Ok(Some(Related {
        event,
        things,
        related,
    }))
}
