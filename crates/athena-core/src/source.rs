//! The `EventSource` trait that every source implements, and the batches it yields.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;

use crate::cursor::Cursor;
use crate::error::SourceError;
use crate::event::{DeadLetter, Event};

/// A group of events together with the cursor that is valid once they are stored.
///
/// The engine stores `events`, `dead_letters` and `checkpoint` in one transaction: either all of
/// them are stored or none. A source must therefore only put into `checkpoint` a position that is
/// true *after* exactly these events (and every earlier batch) are stored.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The events, in the order the source produced them.
    pub events: Vec<Event>,
    /// Input that could not become an event.
    pub dead_letters: Vec<DeadLetter>,
    /// The cursor to save with this batch.
    pub checkpoint: Cursor,
    /// Changes to the source's per-item state (see [`SourceState`]), stored in the same
    /// transaction as the events.
    pub state: Vec<StateChange>,
    /// How far the source has come, when it knows.
    pub progress: Option<Progress>,
    /// Each event's `context` and `metadata` as JSON text, in event order: filled by
    /// [`Batch::encode_json`] (the engine calls it on the source's task, so the store's writer
    /// thread, the bottleneck of a bulk sync, does not), or by the source itself: a source
    /// that writes its events' JSON directly ([`JsonObject`](crate::JsonObject)) leaves their
    /// maps empty and puts the text here, one entry per event. Empty until then.
    pub json: Vec<EventJson>,
    /// Each event's things (what it is about and mentions), in event order: filled by
    /// [`Batch::find_links`] on the source's task, stored with the events. Empty: not linked.
    pub links: Vec<crate::links::EventLinks>,
    /// The people each event names (see [`people`](crate::people)), in event order: filled
    /// with the links, stored with the events. Empty: not read.
    pub people: Vec<Vec<crate::people::Claim>>,
    /// Each event's `context` and `metadata` in its store's packed form, made on the source's
    /// task by the store's [`BatchPacker`] (so the writer thread does not): a store that knows
    /// the form writes these; another ignores them. `None`: not packed.
    pub packed: Option<Box<Packed>>,
}

/// A batch's documents packed by a store's [`BatchPacker`].
#[derive(Debug, Clone)]
pub struct Packed {
    /// What they were packed with; the store keeps it with the batch if it does not have it.
    pub dictionary: std::sync::Arc<PackDictionary>,
    /// One per event, in event order; `None`: that event's stays JSON text.
    pub docs: Vec<Option<Vec<u8>>>,
}

/// A dictionary documents are packed with.
#[derive(Debug)]
pub struct PackDictionary {
    /// Its id in the store.
    pub id: i64,
    /// The source it was trained for.
    pub source_id: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Packs batches on their source's task for a store (see [`Store::batch_packer`]): fills
/// [`Batch::packed`] from [`Batch::json`].
///
/// [`Store::batch_packer`]: crate::Store::batch_packer
pub trait BatchPacker: Send + Sync {
    /// Packs `batch`'s documents (its JSON is encoded), of source `source_id`, if it can.
    fn pack(&self, source_id: &str, batch: &mut Batch);
}

/// An event's `context` and `metadata`, serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventJson {
    /// `context` as a JSON object.
    pub context: String,
    /// `metadata` as a JSON object.
    pub metadata: String,
}

/// A source's per-item state as stored: (key, value) pairs of opaque bytes, in no particular
/// order, each key once.
///
/// For state too large to rewrite with every batch (one entry per file of a 100,000-file
/// tree): a batch carries only the entries it changes ([`Batch::state`]), and the engine hands
/// all of them to [`EventSource::restore_state`] before a sync. The cursor stays small. A list,
/// not a map: the source builds whatever index it needs, once.
pub type SourceState = Vec<(Vec<u8>, Vec<u8>)>;

/// One change to a source's per-item state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The item (a relative path, an object id).
    pub key: Vec<u8>,
    /// Its new value; `None` removes it.
    pub value: Option<Vec<u8>>,
}

impl Batch {
    /// A batch of events with its checkpoint.
    pub fn new(events: Vec<Event>, checkpoint: Cursor) -> Self {
        Batch {
            events,
            dead_letters: Vec::new(),
            checkpoint,
            state: Vec::new(),
            progress: None,
            json: Vec::new(),
            links: Vec::new(),
            people: Vec::new(),
            packed: None,
        }
    }

    /// Finds each event's things into [`Batch::links`], and the people it names (its source
    /// being of `source_type`) into [`Batch::people`].
    pub fn find_links(&mut self, linker: &crate::links::Linker, source_type: &str) {
        self.links = (self.events.iter())
            .map(|e| crate::links::links_of(e, &linker.scanner))
            .collect();
        self.people = (self.events.iter())
            .map(|e| linker.people(source_type, e))
            .collect();
    }

    /// The people event `i` names, when [`Batch::find_links`] has run since the events
    /// changed.
    pub fn people_of(&self, i: usize) -> Option<&[crate::people::Claim]> {
        if self.people.len() == self.events.len() {
            self.people.get(i).map(Vec::as_slice)
        } else {
            None
        }
    }

    /// The things of event `i`, when [`Batch::find_links`] has run since the events changed.
    pub fn links_of(&self, i: usize) -> Option<&crate::links::EventLinks> {
        if self.links.len() == self.events.len() {
            self.links.get(i)
        } else {
            None
        }
    }

    /// Serializes every event's `context` and `metadata` into [`Batch::json`], unless the
    /// source already filled it.
    pub fn encode_json(&mut self) {
        if self.json.len() == self.events.len() {
            return;
        }
        let encode = |m: &serde_json::Map<String, serde_json::Value>| {
            serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
        };
        self.json = self
            .events
            .iter()
            .map(|e| EventJson {
                context: encode(&e.context),
                metadata: encode(&e.metadata),
            })
            .collect();
    }

    /// The JSON of event `i`, when [`Batch::encode_json`] has run since the events last changed.
    pub fn json_of(&self, i: usize) -> Option<&EventJson> {
        if self.json.len() == self.events.len() {
            self.json.get(i)
        } else {
            None
        }
    }
}

/// Units of work done and, when known, to do (commits, bytes, pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Units done so far in this run.
    pub done: u64,
    /// Units in this run, if known.
    pub total: Option<u64>,
}

/// The stream of batches a source yields for one sync.
pub type BatchStream<'a> = Pin<Box<dyn Stream<Item = Result<Batch, SourceError>> + Send + 'a>>;

/// Counters a source keeps about its own work; the engine adds what it counts itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Events yielded.
    pub events: u64,
    /// Inputs rejected to the dead-letter table.
    pub invalid: u64,
    /// HTTP requests sent (API sources).
    pub requests: u64,
    /// Requests retried.
    pub retries: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Requests answered `304 Not Modified` (API sources).
    pub not_modified: u64,
    /// Waits for a rate limit to reset (API sources).
    pub rate_limit_waits: u64,
    /// Requests by how they were answered, each attempt once (a `429` waited for and then a
    /// `200` are one of each); they add up to `requests` (API sources).
    pub responses: BTreeMap<HttpStatus, u64>,
    /// Wall time of the sync.
    pub duration: Duration,
}

/// How one HTTP request was answered: label `status` of `athena_ingest_http_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum HttpStatus {
    /// The server answered with this status code.
    Code(u16),
    /// No answer: the connection failed or timed out.
    Error,
}

impl std::fmt::Display for HttpStatus {
    /// The code (`200`, `429`), or `error`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpStatus::Code(code) => write!(f, "{code}"),
            HttpStatus::Error => f.write_str("error"),
        }
    }
}

/// A place events come from.
///
/// Three methods are required: [`info`](EventSource::info), the source's identity (from its
/// config, see [`SourceInfo`]); [`validate`](EventSource::validate), a cheap health check run
/// before anything is read; and [`events`](EventSource::events), which streams batches from a
/// cursor.
#[async_trait]
pub trait EventSource: Send {
    /// Who this source is: id, type and a human name.
    fn info(&self) -> &SourceInfo;

    /// Checks that the source can be read (path exists, credentials accepted, …).
    async fn validate(&mut self) -> Result<(), SourceError>;

    /// Streams the events after `cursor` (`None`: from the beginning), in batches.
    ///
    /// The stream ends when the source has nothing more for this sync. Dropping the stream early
    /// must be safe: nothing is lost, because only batches that were stored moved the cursor.
    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_>;

    /// A deeper health check for `athena-ingest validate`: reach the service, try the
    /// credentials. Defaults to [`validate`](EventSource::validate); sources whose `validate`
    /// stays cheap for every sync do the expensive part here.
    async fn health_check(&mut self) -> Result<(), SourceError> {
        self.validate().await
    }

    /// Receives the per-item state stored by earlier batches' [`Batch::state`], before
    /// [`events`](EventSource::events) is called. Sources that keep no such state ignore it
    /// (the default); `sync --full` passes an empty map.
    fn restore_state(&mut self, state: SourceState) {
        let _ = state;
    }

    /// Releases connections, files and threads. Called once after the stream ends or is dropped.
    async fn close(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// The source's own counters (requests, retries, bytes); the engine counts events itself.
    fn stats(&self) -> SourceStats {
        SourceStats::default()
    }

    /// What to watch when the source runs live (`schedule = "live"` under `serve`); `None`
    /// (the default) has it run again on a short interval instead.
    fn watch(&self) -> Option<crate::watch::Watch> {
        None
    }
}

/// A source's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The unique id from the config; names the cursor.
    pub id: String,
    /// The registered type name (`git`).
    pub source_type: String,
    /// A human description (`git /home/me/repo`).
    pub name: String,
}

impl SourceInfo {
    /// Stamps an event with this source's id and type.
    pub fn stamp(&self, event: &mut Event) {
        event.source_id.clone_from(&self.id);
        event.source_type.clone_from(&self.source_type);
    }
}
