//! The relay: publishes the outbox to the stream, each source's events in storing order,
//! each exactly once.
//!
//! A source's events go in atomic batches of at most `batch` messages; the first message of
//! each subject in a batch carries `Nats-Expected-Last-Subject-Sequence` (the sequence the
//! relay recorded for that subject), every message `Nats-Msg-Id` (`<source>/<event id>`).
//! After each batch the relay records, in one store transaction, the outbox entries it
//! finished and each subject's new last sequence.
//!
//! When the server refuses a batch because what the relay assumed moved (a subject's last
//! sequence, a message id already there), or does not answer, part or all of it may already
//! be stored: a batch whose acknowledgement was lost, or one sent before a crash that the
//! relay did not get to record. The relay then reads the last message of each subject of the
//! batch: its message id names the newest event of this source on that subject the stream
//! holds, and since a source's events are published in storing order, every event up to the
//! newest of those is in the stream. It skips them and sends the rest, with the subjects'
//! sequences as read. This holds inside the duplicate window and beyond it.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use async_nats::jetstream;
use athena_core::outbox::OutboxBatch;
use athena_core::{CancelToken, Event};
use bytes::Bytes;

use super::batch::{self, Outgoing, Replies, Sent};
use super::settings::NatsSettings;
use super::store::FeedStore;

/// How many times a batch is sent again after reading the stream, before the relay gives up
/// on the source for this round.
const RETRIES: usize = 5;

/// One feed's relay.
pub struct Relay<S> {
    settings: NatsSettings,
    client: async_nats::Client,
    /// Where its batches are answered.
    replies: Replies,
    stream: jetstream::stream::Stream<()>,
    store: S,
    /// The last sequence of each subject, as recorded or read.
    subjects: HashMap<String, u64>,
    /// Per source, the storing sequence up to which the stream is known to hold its events
    /// (read back after a conflict): an event up to it is never sent again, in this batch or
    /// a later one (past the duplicate window, nothing else would stop it).
    known: HashMap<String, i64>,
}

/// What a round of publishing did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Events sent and acknowledged.
    pub events: u64,
    /// Events found already in the stream (sent before a lost acknowledgement or a crash).
    pub found: u64,
}

/// An event to publish, with where it is in the store.
struct Pending {
    /// Its storing sequence.
    seq: i64,
    /// The outbox entry it belongs to, and whether it is that entry's last event.
    entry: i64,
    ends_entry: bool,
    event: Event,
}

impl<S: FeedStore> Relay<S> {
    /// A relay for `settings`' feed over `client`; the stream must exist (`feed init`).
    pub async fn new(settings: NatsSettings, client: async_nats::Client, store: S) -> Result<Self> {
        let js = jetstream::new(client.clone());
        let stream = js.get_stream_no_info(&settings.stream).await.map_err(|e| {
            anyhow!(
                "feed {}: stream {}: {e} (make it with `athena-ingest feed init`)",
                settings.id,
                settings.stream
            )
        })?;
        let replies = Replies::new(&client).await?;
        Ok(Relay {
            settings,
            replies,
            client,
            stream,
            store,
            subjects: HashMap::new(),
            known: HashMap::new(),
        })
    }

    /// Publishes everything the outbox holds now, source by source; stops early when `stop`
    /// is cancelled (what was acknowledged is recorded).
    pub async fn drain(&mut self, stop: &CancelToken) -> Result<Published> {
        self.drain_some(&|_: &str| true, stop).await
    }

    /// [`drain`](Self::drain) of the sources `mine` accepts (those a worker holds a lease on,
    /// when workers share the store).
    pub async fn drain_some(
        &mut self,
        mine: &(dyn Fn(&str) -> bool + Sync),
        stop: &CancelToken,
    ) -> Result<Published> {
        let mut total = Published::default();
        let mut failed = None;
        let sources = self.store.sources(&self.settings.id).await?;
        for source in sources.into_iter().filter(|s| mine(s)) {
            if stop.is_cancelled() {
                break;
            }
            // One source's trouble (an event too large for NATS, say) holds back no other.
            match self.publish_source(&source, mine, stop).await {
                Ok(done) => {
                    total.events += done.events;
                    total.found += done.found;
                }
                Err(e) => {
                    tracing::warn!(feed = %self.settings.id, source, "{e:#}");
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// Publishes `source`'s unpublished events, while `mine` accepts it (a worker that lost
    /// its lease stops).
    pub async fn publish_source(
        &mut self,
        source: &str,
        mine: &(dyn Fn(&str) -> bool + Sync),
        stop: &CancelToken,
    ) -> Result<Published> {
        let mut done = Published::default();
        let feed = self.settings.id.clone();
        if !self.known.contains_key(source) {
            // What an earlier run recorded as in the stream is never sent again.
            let published = self.store.published_through(&feed, source).await?;
            self.known.insert(source.to_string(), published);
        }
        loop {
            if stop.is_cancelled() || !mine(source) {
                return Ok(done);
            }
            let batches = (self.store)
                .unpublished(&feed, source, self.settings.batch)
                .await?;
            if batches.is_empty() {
                return Ok(done);
            }
            // An entry whose events are all gone would hold the feed back for ever.
            let last_entry = batches.last().map(|b| b.seq);
            let mut pending = flatten(batches);
            if pending.is_empty() {
                if let Some(through) = last_entry {
                    (self.store)
                        .record(&feed, source, through, 0, Vec::new())
                        .await?;
                }
                continue;
            }
            while !pending.is_empty() {
                let take = pending.len().min(self.settings.batch);
                let chunk: Vec<Pending> = pending.drain(..take).collect();
                let (sent, found) = self.publish_chunk(source, &chunk).await?;
                done.events += sent;
                done.found += found;
                // The whole chunk is in the stream now. Recorded together: the outbox entries
                // it finished, the newest event it holds, and the subjects' sequences as of
                // that event, so that a later run sends neither it nor anything before it.
                let newest = chunk.last().map_or(0, |p| p.seq);
                let known = self.known.entry(source.to_string()).or_insert(newest);
                *known = (*known).max(newest);
                let published = *known;
                let through = (chunk.iter().rev().find(|p| p.ends_entry)).map_or(0, |p| p.entry);
                let subjects = self.subjects_of(&chunk);
                (self.store)
                    .record(&feed, source, through, published, subjects)
                    .await?;
            }
        }
    }

    /// The chunk's subjects with their last sequences, to record.
    fn subjects_of(&self, chunk: &[Pending]) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for p in chunk {
            let subject = self.settings.subject(&p.event.source_id, &p.event.kind);
            if !out.iter().any(|(s, _)| *s == subject) {
                // A subject the relay has not learnt this run is left as it was recorded.
                if let Some(seq) = self.subjects.get(&subject) {
                    out.push((subject, *seq));
                }
            }
        }
        out
    }

    /// Sends `chunk` until the stream holds all of it; returns how many were sent and how
    /// many found there already.
    async fn publish_chunk(&mut self, source: &str, chunk: &[Pending]) -> Result<(u64, u64)> {
        let known = self.known.get(source).copied();
        let mut rest: Vec<&Pending> = chunk
            .iter()
            .filter(|p| known.is_none_or(|k| p.seq > k))
            .collect();
        let mut found = (chunk.len() - rest.len()) as u64;
        if rest.is_empty() {
            return Ok((0, found));
        }
        for attempt in 0..=RETRIES {
            let messages = self.messages(&rest).await?;
            let id = batch_id(source, rest[0].seq, attempt);
            match batch::send(&self.client, &mut self.replies, &id, &messages).await? {
                Sent::Stored { last, count } => {
                    if count != messages.len() as u64 {
                        bail!(
                            "feed {}: JetStream stored {count} of a batch of {}",
                            self.settings.id,
                            messages.len()
                        );
                    }
                    let first = last + 1 - count;
                    for (i, m) in messages.iter().enumerate() {
                        self.subjects.insert(m.subject.clone(), first + i as u64);
                    }
                    return Ok((count, found));
                }
                Sent::Conflict { code, description } => {
                    tracing::info!(feed = %self.settings.id, source, code, "{description}: reading the stream to see what it holds");
                }
                Sent::Unknown(why) => {
                    tracing::warn!(feed = %self.settings.id, source, "no answer to a batch ({why}): reading the stream to see what it holds");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            let through = self.read_back(source, &rest).await?;
            if let Some(t) = through {
                let k = self.known.entry(source.to_string()).or_insert(t);
                *k = (*k).max(t);
            }
            let before = rest.len();
            rest.retain(|p| through.is_none_or(|t| p.seq > t));
            found += (before - rest.len()) as u64;
            if rest.is_empty() {
                return Ok((0, found));
            }
        }
        bail!(
            "feed {}: source {source}: the stream kept refusing a batch after {RETRIES} reads of it",
            self.settings.id
        )
    }

    /// The messages of `pending`, the first of each subject with its expected last sequence.
    async fn messages(&mut self, pending: &[&Pending]) -> Result<Vec<Outgoing>> {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let subject = self.settings.subject(&p.event.source_id, &p.event.kind);
            let expected = if seen.contains(&subject) {
                None
            } else {
                seen.push(subject.clone());
                Some(self.subject_sequence(&subject).await?)
            };
            let payload = Bytes::from(serde_json::to_vec(&p.event)?);
            // Room for the subject and headers: a larger message is refused by the client.
            let max = self.client.server_info().max_payload;
            if payload.len() + 1024 > max {
                bail!(
                    "feed {}: event {} of source {} is {} bytes as JSON, more than this NATS server takes in a message ({max}): raise its max_payload",
                    self.settings.id,
                    p.event.id,
                    p.event.source_id,
                    payload.len()
                );
            }
            out.push(Outgoing {
                msg_id: format!("{}/{}", p.event.source_id, p.event.id),
                expected,
                payload,
                subject,
            });
        }
        Ok(out)
    }

    async fn subject_sequence(&mut self, subject: &str) -> Result<u64> {
        if let Some(seq) = self.subjects.get(subject) {
            return Ok(*seq);
        }
        let seq = self
            .store
            .subject_sequence(&self.settings.id, subject)
            .await?;
        self.subjects.insert(subject.to_string(), seq);
        Ok(seq)
    }

    /// Reads the last message of each subject of `pending`: sets the subjects' sequences as
    /// the stream has them, and returns the storing sequence of the newest of this source's
    /// events the stream holds on them (`None`: none).
    async fn read_back(&mut self, source: &str, pending: &[&Pending]) -> Result<Option<i64>> {
        let mut subjects: Vec<String> = pending
            .iter()
            .map(|p| self.settings.subject(&p.event.source_id, &p.event.kind))
            .collect();
        subjects.dedup();
        subjects.sort();
        subjects.dedup();
        let mut newest: Option<i64> = None;
        for subject in subjects {
            let last = self.stream.get_last_raw_message_by_subject(&subject).await;
            let message = match last {
                Ok(m) => m,
                Err(e)
                    if matches!(
                        e.kind(),
                        jetstream::stream::LastRawMessageErrorKind::NoMessageFound
                    ) =>
                {
                    self.subjects.insert(subject, 0);
                    continue;
                }
                Err(e) => bail!(
                    "feed {}: reading the last message of {subject}: {e}",
                    self.settings.id
                ),
            };
            self.subjects.insert(subject.clone(), message.sequence);
            let id = message
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            let Some(event_id) = id.strip_prefix(&format!("{source}/")) else {
                bail!(
                    "feed {}: subject {subject} holds message {} ({id:?}), which this feed did not publish for source {source}",
                    self.settings.id,
                    message.sequence
                );
            };
            let Some(seq) = self.store.storing_sequence(source, event_id).await? else {
                bail!(
                    "feed {}: subject {subject} holds event {id:?}, which the store does not have",
                    self.settings.id
                );
            };
            newest = newest.max(Some(seq));
        }
        Ok(newest)
    }
}

/// The events of `batches`, in order, each knowing its outbox entry.
fn flatten(batches: Vec<OutboxBatch>) -> Vec<Pending> {
    let mut out = Vec::new();
    for b in batches {
        let n = b.events.len();
        for (i, (seq, event)) in b.events.into_iter().enumerate() {
            out.push(Pending {
                seq,
                entry: b.seq,
                ends_entry: i + 1 == n,
                event,
            });
        }
    }
    out
}

/// A batch id: unique per source, first event and attempt, at most 64 characters, and a
/// subject token (no `.`: it is also the last token of the batch's reply subject).
fn batch_id(source: &str, first: i64, attempt: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let source: String = (source.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut id = format!("{first}-{attempt}-{nanos:x}-{source}");
    id.truncate(64);
    id
}
