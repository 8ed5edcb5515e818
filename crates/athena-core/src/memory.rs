//! An in-memory [`Store`], for tests and for embedding the engine without a database.

use std::collections::{BTreeMap, HashSet};

use crate::cursor::Cursor;
use crate::event::Event;
use crate::source::{Batch, SourceInfo, SourceState};
use crate::store::{
    sort_kinds, CommitReport, EventQuery, KindCount, RunRecord, SourceStatus, Store, StoreError,
    StoredDeadLetter,
};

/// Keeps everything in memory; commits are trivially atomic.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    /// Stored events, in commit order.
    pub events: Vec<Event>,
    /// Saved cursors.
    pub cursors: BTreeMap<String, Cursor>,
    /// Recorded runs, last per source.
    pub runs: BTreeMap<String, RunRecord>,
    /// Stored dead letters, oldest first.
    pub dead_letters: Vec<StoredDeadLetter>,
    /// Per-item state, per source.
    pub states: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    ids: HashSet<(String, String)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn kinds_of(&self, source_id: &str) -> Vec<KindCount> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for e in self.events.iter().filter(|e| e.source_id == source_id) {
            *counts.entry(e.kind.as_str()).or_default() += 1;
        }
        let mut kinds: Vec<KindCount> = (counts.into_iter())
            .map(|(kind, events)| KindCount {
                kind: kind.to_string(),
                events,
            })
            .collect();
        sort_kinds(&mut kinds);
        kinds
    }
}

impl Store for MemoryStore {
    fn load_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError> {
        Ok(self.cursors.get(source_id).cloned())
    }

    fn load_state(&mut self, source_id: &str) -> Result<SourceState, StoreError> {
        Ok(self
            .states
            .get(source_id)
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn commit_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        let mut report = CommitReport::default();
        let now = chrono::Utc::now();
        for (i, e) in batch.events.iter().enumerate() {
            let key = (source.id.clone(), e.id.clone());
            if self.ids.insert(key) {
                let mut e = e.clone();
                if let Some(json) = batch.json_of(i) {
                    // A source that wrote its JSON itself left the maps empty.
                    if e.context.is_empty() {
                        e.context = serde_json::from_str(&json.context).unwrap_or_default();
                    }
                    if e.metadata.is_empty() {
                        e.metadata = serde_json::from_str(&json.metadata).unwrap_or_default();
                    }
                }
                source.stamp(&mut e);
                e.ingested_at = Some(now);
                self.events.push(e);
                report.written += 1;
            } else {
                report.duplicates += 1;
            }
        }
        for letter in &batch.dead_letters {
            let known = self
                .dead_letters
                .iter()
                .any(|d| d.source_id == source.id && d.letter.origin == letter.origin);
            if !known {
                self.dead_letters.push(StoredDeadLetter {
                    source_id: source.id.clone(),
                    letter: letter.clone(),
                    created_at: now,
                });
                report.dead_letters += 1;
            }
        }
        if !batch.state.is_empty() {
            let state = self.states.entry(source.id.clone()).or_default();
            for change in &batch.state {
                match &change.value {
                    Some(v) => state.insert(change.key.clone(), v.clone()),
                    None => state.remove(&change.key),
                };
            }
        }
        self.cursors
            .insert(source.id.clone(), batch.checkpoint.clone());
        Ok(report)
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.runs.insert(run.source_id.clone(), run.clone());
        Ok(())
    }

    fn reset_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        self.states.remove(source_id);
        Ok(self.cursors.remove(source_id).is_some())
    }

    fn query_events(&self, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let mut out: Vec<Event> = self
            .events
            .iter()
            .filter(|e| q.sources.is_empty() || q.sources.contains(&e.source_id))
            .filter(|e| q.kinds.is_empty() || q.kinds.contains(&e.kind))
            // This store keeps no people: a person filter matches nothing.
            .filter(|_| q.person.is_none())
            .filter(|e| q.outcomes.is_empty() || e.outcome.is_some_and(|o| q.outcomes.contains(&o)))
            .filter(|e| {
                q.actor.as_ref().is_none_or(|a| {
                    e.actor
                        .as_ref()
                        .is_some_and(|x| x.to_lowercase().contains(&a.to_lowercase()))
                })
            })
            .filter(|e| q.since.is_none_or(|t| e.occurred_at >= t))
            .filter(|e| q.until.is_none_or(|t| e.occurred_at < t))
            .filter(|e| {
                q.search.as_ref().is_none_or(|s| {
                    let has = |s: &str| {
                        e.title.to_lowercase().contains(s) || e.body.to_lowercase().contains(s)
                    };
                    let words = crate::search::any_words(s);
                    match q.search_match {
                        crate::search::SearchMatch::Any if !words.is_empty() => {
                            words.iter().any(|w| has(w))
                        }
                        _ => has(&s.to_lowercase()),
                    }
                })
            })
            .cloned()
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.occurred_at));
        if let Some(limit) = q.limit {
            out.truncate(limit);
        }
        Ok(out)
    }

    fn sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let mut ids: Vec<&String> = self.cursors.keys().chain(self.runs.keys()).collect();
        ids.sort();
        ids.dedup();
        Ok(ids
            .into_iter()
            .map(|id| {
                let run = self.runs.get(id);
                SourceStatus {
                    source_id: id.clone(),
                    source_type: run.map(|r| r.source_type.clone()),
                    cursor: self.cursors.get(id).cloned(),
                    events: self.events.iter().filter(|e| &e.source_id == id).count() as u64,
                    dead_letters: self
                        .dead_letters
                        .iter()
                        .filter(|d| &d.source_id == id)
                        .count() as u64,
                    last_sync: run.map(|r| r.finished_at),
                    last_status: run.map(|r| r.status),
                    last_error: run.and_then(|r| r.error.clone()),
                    last_error_kind: run.and_then(|r| r.error_kind.clone()),
                    worker: None,
                    priority: None,
                    kinds: self.kinds_of(id),
                }
            })
            .collect())
    }
    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        Ok(self
            .dead_letters
            .iter()
            .rev()
            .filter(|d| source.is_none_or(|s| d.source_id == s))
            .take(limit)
            .cloned()
            .collect())
    }
}

/// A [`MemoryStore`] that stays readable while the engine owns it: the engine gets one handle,
/// the caller keeps a clone and looks inside after (or during) a sync.
#[derive(Debug, Default, Clone)]
pub struct SharedMemoryStore(pub std::sync::Arc<std::sync::Mutex<MemoryStore>>);

impl SharedMemoryStore {
    /// A new, empty shared store.
    pub fn new() -> Self {
        SharedMemoryStore::default()
    }

    /// Runs `f` on the store.
    pub fn with<T>(&self, f: impl FnOnce(&mut MemoryStore) -> T) -> T {
        // A panic while holding the lock leaves plain data behind; keep using it.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

impl Store for SharedMemoryStore {
    fn load_cursor(&mut self, source_id: &str) -> Result<Option<Cursor>, StoreError> {
        self.with(|s| s.load_cursor(source_id))
    }

    fn load_state(&mut self, source_id: &str) -> Result<SourceState, StoreError> {
        self.with(|s| s.load_state(source_id))
    }

    fn commit_batch(
        &mut self,
        source: &SourceInfo,
        batch: &Batch,
    ) -> Result<CommitReport, StoreError> {
        self.with(|s| s.commit_batch(source, batch))
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.with(|s| s.record_run(run))
    }

    fn reset_cursor(&mut self, source_id: &str) -> Result<bool, StoreError> {
        self.with(|s| s.reset_cursor(source_id))
    }

    fn query_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.with(|s| s.query_events(query))
    }

    fn sources_status(&self) -> Result<Vec<SourceStatus>, StoreError> {
        self.with(|s| s.sources_status())
    }

    fn dead_letters(
        &self,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        self.with(|s| s.dead_letters(source, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::EventJson;
    use crate::JsonObject;

    #[test]
    fn json_written_by_the_source_is_what_the_event_shows() {
        let mut context = JsonObject::default();
        context.str("file", "a.log").u64("line", 3);
        let mut metadata = JsonObject::default();
        metadata.u64("status", 200);
        let mut batch = Batch::new(
            vec![Event::new("x", "http_request", chrono::Utc::now(), "GET /")],
            Cursor::from_json(serde_json::json!({"version": 1})),
        );
        batch.json = vec![EventJson {
            context: context.finish(),
            metadata: metadata.finish(),
        }];
        // Already encoded: the engine's encoding leaves it alone.
        batch.encode_json();
        assert_eq!(batch.json[0].metadata, r#"{"status":200}"#);
        let info = SourceInfo {
            id: "web".into(),
            source_type: "api_log".into(),
            name: "web".into(),
        };
        let mut store = MemoryStore::default();
        store.commit_batch(&info, &batch).unwrap();
        let e = &store.events[0];
        assert_eq!(e.context["file"], "a.log");
        assert_eq!(e.context["line"], 3);
        assert_eq!(e.metadata["status"], 200);
    }
}
