//! The outbox that feeds publish from (`[[feeds]]`).
//!
//! A store that keeps an outbox ([`Outbox::keep_outbox`]) writes, in the transaction of every
//! batch that stores events, one outbox entry naming them: so an event is in the outbox if and
//! only if it is stored, whatever moment a crash comes. A feed reads the entries of each source
//! in order, publishes their events, and records how far it got
//! ([`Outbox::record_published`]) together with the stream sequence of the last message of
//! each subject it wrote, which it checks its next publish against.

use chrono::{DateTime, Utc};

use crate::store::StoreError;
use crate::Event;

/// One stored batch of a source, as the outbox gives it.
#[derive(Debug, Clone)]
pub struct OutboxBatch {
    /// Its place in the outbox: increasing, per source, in the order its batches were stored.
    pub seq: i64,
    /// Its source.
    pub source_id: String,
    /// The events the batch stored, in storing order, each with its storing sequence.
    pub events: Vec<(i64, Event)>,
    /// When it was stored.
    pub stored_at: DateTime<Utc>,
}

/// What waits in the outbox for one feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Events not yet published.
    pub events: u64,
    /// When the oldest of them was stored.
    pub oldest: Option<DateTime<Utc>>,
}

/// A store's outbox. Feeds are named by their `id`; what one feed has published does not move
/// another. Reads take `&mut self`: a store whose connection was lost connects again.
pub trait Outbox: Send {
    /// From now on, every batch that stores events writes an outbox entry for them, in its own
    /// transaction.
    fn keep_outbox(&mut self) -> Result<(), StoreError>;

    /// The sources with batches `feed` has not published, in name order.
    fn outbox_sources(&mut self, feed: &str) -> Result<Vec<String>, StoreError>;

    /// The batches of `source_id` that `feed` has not published, oldest first, whole, until
    /// they hold at least `max_events` events (at least one batch when there is one).
    fn unpublished(
        &mut self,
        feed: &str,
        source_id: &str,
        max_events: usize,
    ) -> Result<Vec<OutboxBatch>, StoreError>;

    /// The stream sequence `feed` recorded for the last message of `subject` (0: none).
    fn subject_sequence(&mut self, feed: &str, subject: &str) -> Result<u64, StoreError>;

    /// Records, in one transaction, that `feed` has published `source_id`'s batches up to and
    /// including outbox entry `through`, its events up to storing sequence `published` (a
    /// batch may be published in parts), and the last message of each subject it wrote as of
    /// that event. Neither number goes back (0 leaves one as it was).
    fn record_published(
        &mut self,
        feed: &str,
        source_id: &str,
        through: i64,
        published: i64,
        subjects: &[(String, u64)],
    ) -> Result<(), StoreError>;

    /// The storing sequence up to which `feed` recorded `source_id`'s events as published
    /// (0: none).
    fn published_through(&mut self, feed: &str, source_id: &str) -> Result<i64, StoreError>;

    /// The storing sequence of `source_id`'s event `id`, if stored.
    fn storing_sequence(&mut self, source_id: &str, id: &str) -> Result<Option<i64>, StoreError>;

    /// What waits for `feed`.
    fn backlog(&mut self, feed: &str) -> Result<Backlog, StoreError>;

    /// Forgets the entries every one of `feeds` has published.
    fn trim_outbox(&mut self, feeds: &[&str]) -> Result<u64, StoreError>;
}
