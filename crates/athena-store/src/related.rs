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
