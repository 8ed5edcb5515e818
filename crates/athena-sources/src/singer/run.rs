//! One run of a tap: its messages taken line by line. Records and dead letters wait outside
//! the sink until a STATE covers them; the sink holds only what its last STATE covers, so a
//! batch and its cursor are always true together (see `source` for the model).

use std::collections::HashMap;

use athena_core::kit::{Sink, Stopped};
use athena_core::{Cursor, DeadLetter, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lines::Line;
use super::mapping::{event_of, StreamMapping, StreamSchema};
use super::message::{self, Message};
use super::schema;
use super::source::SingerSource;

/// The cursor's format.
pub(super) const CURSOR_VERSION: u64 = 1;
/// How much of a bad line a dead letter keeps.
const RAW_BYTES: usize = 4096;

/// What is stored as the cursor: the tap's last stored STATE, as the tap gave it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SingerCursor {
    version: u64,
    pub(super) state: Option<Value>,
}

pub(super) fn cursor_of(state: &Option<Value>) -> Cursor {
    Cursor::encode(&SingerCursor {
        version: CURSOR_VERSION,
        state: state.clone(),
    })
}

/// One run of the tap: the streams' schemas so far and the last STATE.
pub(super) struct Run<'a> {
    source: &'a SingerSource,
    schemas: HashMap<String, (StreamSchema, Value)>,
    state: Option<Value>,
    /// The events since the last STATE: they go into the sink with the next one (the sink
    /// holds only what a STATE covers).
    unstated: Vec<Event>,
    /// The dead letters since the last STATE, likewise.
    unstated_letters: Vec<DeadLetter>,
    /// Whether the sink's last STATE is not sent yet.
    state_unsent: bool,
    pub(super) invalid: u64,
}

impl<'a> Run<'a> {
    /// A run of `source`'s tap, started from `state`.
    pub(super) fn new(source: &'a SingerSource, state: Option<Value>) -> Self {
        Run {
            source,
            schemas: HashMap::new(),
            state,
            unstated: Vec::new(),
            unstated_letters: Vec::new(),
            state_unsent: false,
            invalid: 0,
        }
    }

    /// The tap exited 0: everything it sent is stored with its final state.
    pub(super) fn store_final(&mut self, sink: &mut Sink) -> Result<(), Stopped> {
        self.settle(sink);
        sink.commit_blocking(cursor_of(&self.state))
    }

    /// Moves what came since the last STATE into the sink.
    fn settle(&mut self, sink: &mut Sink) {
        for event in self.unstated.drain(..) {
            sink.event(event);
        }
        for letter in self.unstated_letters.drain(..) {
            sink.dead_letter(letter);
        }
    }

    /// Sends what the last STATE covers, with it, if anything waits.
    pub(super) fn store_stated(&mut self, sink: &mut Sink) -> Result<(), Stopped> {
        if sink.has_pending() || self.state_unsent {
            sink.commit_blocking(cursor_of(&self.state))?;
            self.state_unsent = false;
        }
        Ok(())
    }

    /// The tap is silent: what its last STATE covers is stored now.
    pub(super) fn quiet(&mut self, sink: &mut Sink) -> Result<(), Stopped> {
        self.store_stated(sink)
    }

    /// Takes line `number` of the tap's output.
    pub(super) fn line(&mut self, number: u64, line: Line<'_>, sink: &mut Sink) -> Result<(), Stopped> {
        self.take(number, line, sink)?;
        // A tap silent about its state for long: what it sent is stored with the STATE before
        // it (read again from that STATE, the records are duplicates), so memory stays bounded.
        if self.unstated.len() + self.unstated_letters.len() >= self.source.batch_size.saturating_mul(4) {
            self.settle(sink);
            sink.commit_blocking(cursor_of(&self.state))?;
            self.state_unsent = false;
        }
        Ok(())
    }

    fn take(&mut self, number: u64, line: Line<'_>, sink: &mut Sink) -> Result<(), Stopped> {
        let text = match line {
            Line::TooLong { head, bytes } => {
                let reason = format!("{bytes} bytes, longer than max_record_bytes ({})", self.source.max_record_bytes);
                self.reject(number, reason, &String::from_utf8_lossy(&head));
                return Ok(());
            }
            Line::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) if text.trim().is_empty() => return Ok(()),
                Ok(text) => text,
                Err(e) => {
                    self.reject(number, format!("not UTF-8: {e}"), &String::from_utf8_lossy(bytes));
                    return Ok(());
                }
            },
        };
        let message = match message::parse(text, number) {
            Ok(message) => message,
            Err(e) => {
                self.reject(number, e.reason, text);
                return Ok(());
            }
        };
        match message {
            Message::Schema { stream, schema, key_properties, bookmark_properties } => {
                let shape = StreamSchema {
                    key_properties,
                    replication_key: bookmark_properties.into_iter().next(),
                };
                self.schemas.insert(stream, (shape, schema));
            }
            Message::Record { stream, record, time_extracted } => {
                self.record(number, text, stream, record, time_extracted);
            }
            Message::State { value } => {
                self.settle(sink);
                self.state = Some(value);
                self.state_unsent = true;
                if sink.is_due() {
                    self.store_stated(sink)?;
                }
            }
            Message::ActivateVersion { .. } => {}
        }
        Ok(())
    }

    fn record(
        &mut self,
        number: u64,
        text: &str,
        stream: String,
        record: serde_json::Map<String, Value>,
        time_extracted: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let streams = &self.source.streams;
        let default = StreamMapping::default();
        let mapping = match streams.get(&stream) {
            Some(mapping) => mapping,
            None if streams.is_empty() => &default,
            // A stream the config does not name (a parent a tap syncs for its children).
            None => return,
        };
        let Some((shape, json_schema)) = self.schemas.get(&stream) else {
            self.reject(number, format!("a RECORD of {stream} before its SCHEMA"), text);
            return;
        };
        let record = Value::Object(record);
        if let Err(why) = schema::check(json_schema, &record) {
            self.reject(number, format!("does not match the SCHEMA of {stream}: {why}"), text);
            return;
        }
        let Value::Object(record) = record else { unreachable!("built as an object") };
        match event_of(&stream, record, shape, mapping, time_extracted) {
            Ok(mut event) => {
                self.source.info.stamp(&mut event);
                self.unstated.push(event);
            }
            Err(why) => self.reject(number, why, text),
        }
    }

    fn reject(&mut self, number: u64, reason: String, raw: &str) {
        self.invalid += 1;
        let mut end = raw.len().min(RAW_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        // The store keeps one dead letter per origin: the line's number alone would be the same
        // for another bad line of another run; with a hash of the line, the same line read
        // again is the same dead letter, and another is another.
        let hash = blake3::hash(raw.as_bytes()).to_hex();
        self.unstated_letters.push(DeadLetter {
            origin: format!("tap output line {number} ({})", &hash[..12]),
            reason,
            raw: raw[..end].to_string(),
        });
    }
}
