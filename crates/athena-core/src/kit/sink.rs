//! [`Sink`]: where a running source puts what it finds, and where batches are cut.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::cursor::Cursor;
use crate::error::SourceError;
use crate::event::{DeadLetter, Event};
use crate::source::{Batch, EventJson, Progress, StateChange};

/// The channel from a running source to its stream of batches.
pub(crate) type BatchTx = mpsc::Sender<Result<Batch, SourceError>>;

/// The consumer of the source's batches went away (the sync ended or was cancelled): the source
/// stops reading. Nothing is lost: only stored batches moved the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the consumer of the batches went away")
    }
}

impl std::error::Error for Stopped {}

/// Tells threads of a source other than the one holding the [`Sink`] that the consumer went
/// away. It does not keep the stream open.
#[derive(Debug, Clone)]
pub struct StopFlag(mpsc::WeakSender<Result<Batch, SourceError>>);

impl StopFlag {
    /// Whether the consumer went away (or the source's reading ended).
    pub fn is_stopped(&self) -> bool {
        self.0.upgrade().is_none_or(|tx| tx.is_closed())
    }
}

/// When a batch is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Events and dead letters in a batch.
    pub max_items: usize,
    /// How long the first item of a batch may wait for the batch to go: a source that finds
    /// little at a time (a followed log) still has it stored within this.
    pub max_age: Duration,
}

impl Limits {
    /// Batches of `max_items`, or whatever came within one second.
    pub fn items(max_items: usize) -> Self {
        Limits {
            max_items: max_items.max(1),
            max_age: Duration::from_secs(1),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::items(1000)
    }
}

/// Collects a running source's events, dead letters, state changes and progress, and sends
/// them as a [`Batch`] with the cursor the source gives at a checkpoint.
///
/// The one rule: a cursor given to [`Sink::commit`] or [`Sink::checkpoint`] must be true once
/// everything emitted before it is stored. The engine stores each batch with its cursor in one
/// transaction, so a crash at any moment leaves a store whose cursor matches its events.
///
/// Batches are cut only at checkpoints (where the source knows a true cursor): when the batch
/// holds [`Limits::max_items`] items, or its first item has waited [`Limits::max_age`].
/// Sending waits while the engine's queue is full (backpressure), so a source never runs more
/// than a couple of batches ahead of the store.
#[derive(Debug)]
pub struct Sink {
    tx: BatchTx,
    limits: Limits,
    batch: Option<Batch>,
    /// When the batch being built got its first item.
    opened: Option<Instant>,
    /// Events emitted so far.
    emitted: u64,
}

impl Sink {
    pub(crate) fn new(tx: BatchTx, limits: Limits) -> Self {
        Sink {
            tx,
            limits,
            batch: None,
            opened: None,
            emitted: 0,
        }
    }

    fn batch(&mut self) -> &mut Batch {
        self.opened.get_or_insert_with(Instant::now);
        let room = self.room();
        self.batch.get_or_insert_with(|| empty(room))
    }

    /// Room to reserve for a batch's events: no regrowing while a batch fills.
    fn room(&self) -> usize {
        self.limits.max_items.min(8192)
    }

    /// An event; its `context` and `metadata` are serialized by the engine.
    pub fn event(&mut self, event: Event) {
        let batch = self.batch();
        debug_assert!(batch.json.is_empty(), "mixing event and event_json");
        batch.events.push(event);
        self.emitted += 1;
    }

    /// An event whose `context` and `metadata` the source wrote as JSON text itself (see
    /// [`Batch::json`]): its maps stay empty.
    pub fn event_json(&mut self, event: Event, json: EventJson) {
        let room = self.room();
        let batch = self.batch();
        debug_assert_eq!(
            batch.json.len(),
            batch.events.len(),
            "mixing event and event_json"
        );
        if batch.json.capacity() == 0 {
            batch.json.reserve(room);
        }
        batch.events.push(event);
        batch.json.push(json);
        self.emitted += 1;
    }

    /// Input that could not become an event.
    pub fn dead_letter(&mut self, letter: DeadLetter) {
        self.batch().dead_letters.push(letter);
    }

    /// A change to the source's per-item state, stored with the events.
    pub fn state(&mut self, change: StateChange) {
        self.batch().state.push(change);
    }

    /// How far the source has come; sent with the next batch.
    pub fn progress(&mut self, done: u64, total: Option<u64>) {
        let progress = Some(Progress { done, total });
        match &mut self.batch {
            Some(batch) => batch.progress = progress,
            // Progress alone opens no batch: it is not worth a commit.
            None => {
                let mut batch = empty(self.room());
                batch.progress = progress;
                self.batch = Some(batch);
            }
        }
    }

    /// Events emitted through this sink (sent with a checkpoint, or waiting for one): what a
    /// source that fails part-way can truly say it stored (new events or ones already there).
    pub fn events_emitted(&self) -> u64 {
        self.emitted
    }

    /// Events and dead letters waiting for a checkpoint.
    pub fn pending(&self) -> usize {
        self.batch
            .as_ref()
            .map_or(0, |b| b.events.len() + b.dead_letters.len())
    }

    /// Whether anything but progress waits for a checkpoint.
    pub fn has_pending(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| {
            !b.events.is_empty() || !b.dead_letters.is_empty() || !b.state.is_empty()
        })
    }

    /// Whether the batch being built should go at the next checkpoint. Events and dead
    /// letters count towards [`Limits::max_items`], state changes do not: a source that
    /// changes much state per event (or state alone) cuts its own batches with
    /// [`Sink::commit_blocking`] as well.
    pub fn is_due(&self) -> bool {
        self.pending() >= self.limits.max_items
            || self
                .opened
                .is_some_and(|t| self.has_pending() && t.elapsed() >= self.limits.max_age)
    }

    /// Whether the consumer went away: reading further is wasted.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// A flag other threads of the source (a pool of workers) can check to stop early.
    pub fn stop_flag(&self) -> StopFlag {
        StopFlag(self.tx.downgrade())
    }

    /// Resolves when the consumer goes away (for sources that wait for new input).
    pub async fn stopped(&self) {
        self.tx.closed().await
    }

    fn take(&mut self, cursor: Cursor) -> Batch {
        self.opened = None;
        let mut batch = self.batch.take().unwrap_or_else(|| empty(0));
        batch.checkpoint = cursor;
        batch
    }

    /// Sends everything emitted so far with `cursor`, now (an empty batch moves the cursor).
    pub async fn commit(&mut self, cursor: Cursor) -> Result<(), Stopped> {
        let batch = self.take(cursor);
        self.tx.send(Ok(batch)).await.map_err(|_| Stopped)
    }

    /// [`Sink::commit`] from a thread that is not async (a blocking reader).
    pub fn commit_blocking(&mut self, cursor: Cursor) -> Result<(), Stopped> {
        let batch = self.take(cursor);
        self.tx.blocking_send(Ok(batch)).map_err(|_| Stopped)
    }

    /// A point where `cursor()` would be true: the batch goes if it is due. The cursor is built
    /// only then.
    pub async fn checkpoint(&mut self, cursor: impl FnOnce() -> Cursor) -> Result<(), Stopped> {
        if self.is_due() {
            self.commit(cursor()).await?;
        }
        Ok(())
    }

    /// [`Sink::checkpoint`] from a blocking reader.
    pub fn checkpoint_blocking(&mut self, cursor: impl FnOnce() -> Cursor) -> Result<(), Stopped> {
        if self.is_due() {
            self.commit_blocking(cursor())?;
        }
        Ok(())
    }

    /// Sends an error that ends the source (the kit calls this with what the source returned).
    pub(crate) fn fail_blocking(&self, error: SourceError) {
        let _ = self.tx.blocking_send(Err(error));
    }

    pub(crate) async fn fail(&self, error: SourceError) {
        let _ = self.tx.send(Err(error)).await;
    }
}

/// A batch to fill; its cursor is set when it goes.
fn empty(room: usize) -> Batch {
    Batch::new(
        Vec::with_capacity(room),
        Cursor::from_json(serde_json::Value::Null),
    )
}
