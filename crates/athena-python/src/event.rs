//! `EpisodicEvent`: one event, with the design's fields (`timestamp`, `event_type`, `context`,
//! `description`, `outcome`, `session_id`) and ours (`id`, `source_id`, `source_type`, `kind`,
//! `actor`, `title`, `body`, `url`, `metadata`), mapped as `events --format athena` maps them
//! ([`athena_core::episode`]).
//!
//! An event from a Rust source keeps the JSON text its source wrote for its context and
//! metadata, and reads it only when asked: a loop over a million requests that looks at their
//! titles never builds their dicts.

use std::sync::{Arc, OnceLock};

use athena_core::episode::{self, Episode};
use athena_core::{Event, EventJson, Outcome, Registry};
use chrono::{DateTime, NaiveDateTime, Utc};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::{Map, Value};

use crate::convert::{from_py, map_to_py, to_py};

/// An episodic event.
#[pyclass(module = "athena_ingest", name = "EpisodicEvent", frozen)]
pub struct EpisodicEvent {
    /// Whole, or with empty maps when `raw` holds them as text.
    event: Event,
    raw: Option<EventJson>,
    /// Read from `raw` on first use.
    whole: OnceLock<Event>,
    /// Given when the event was made; else derived from its type's declared episodes.
    session_id: OnceLock<String>,
    /// What names an event's episode, per source type.
    registry: Option<Arc<Registry>>,
}

impl EpisodicEvent {
    /// An event a Rust source produced; `raw` is the JSON text of its context and metadata
    /// when the source wrote them so.
    pub fn from_source(event: Event, raw: Option<EventJson>, registry: &Arc<Registry>) -> Self {
        EpisodicEvent {
            event,
            raw,
            whole: OnceLock::new(),
            session_id: OnceLock::new(),
            registry: Some(registry.clone()),
        }
    }

    /// A stored event, in the episode of the work item the store links it to, if any
    /// ([`Store::sessions`](athena_core::Store::sessions)).
    pub fn stored(event: Event, registry: &Arc<Registry>, work_item: Option<String>) -> Self {
        let e = EpisodicEvent::from_source(event, None, registry);
        if let Some(item) = work_item {
            let source_type = registry.get(&e.event.source_type);
            let session = episode::session_in(&e.event, source_type, Some(&item));
            let _ = e.session_id.set(session);
        }
        e
    }

    fn made(event: Event, session_id: Option<String>) -> Self {
        let session = OnceLock::new();
        if let Some(s) = session_id.filter(|s| !s.is_empty()) {
            let _ = session.set(s);
        }
        EpisodicEvent {
            event,
            raw: None,
            whole: OnceLock::new(),
            session_id: session,
            registry: None,
        }
    }

    /// The event whole (its context and metadata read from their text if need be).
    pub fn event(&self) -> &Event {
        let Some(raw) = &self.raw else {
            return &self.event;
        };
        self.whole.get_or_init(|| {
            let mut e = self.event.clone();
            let object = |text: &str| match serde_json::from_str(text) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            if e.context.is_empty() {
                e.context = object(&raw.context);
            }
            if e.metadata.is_empty() {
                e.metadata = object(&raw.metadata);
            }
            e
        })
    }

    fn session(&self) -> &str {
        self.session_id.get_or_init(|| {
            let e = self.event();
            let source_type = self.registry.as_ref().and_then(|r| r.get(&e.source_type));
            episode::session_id(e, source_type)
        })
    }

    fn episode(&self) -> Episode {
        let e = self.event();
        let mut episode = Episode::new(e, &Registry::new());
        episode.session_id = self.session().to_string();
        episode
    }

    /// The event an item a Python source yielded stands for: an `EpisodicEvent`, or a dict
    /// with its fields (the design's six, ours, or both).
    pub fn event_of(item: &Bound<'_, PyAny>) -> PyResult<Event> {
        if let Ok(e) = item.cast::<EpisodicEvent>() {
            return Ok(e.get().event().clone());
        }
        let Ok(dict) = item.cast::<PyDict>() else {
            return Err(PyTypeError::new_err(format!(
                "a source yielded {}: yield EpisodicEvent, a dict with its fields, or Checkpoint(cursor)",
                item.get_type().name()?
            )));
        };
        let get = |key: &str| dict.get_item(key).ok().flatten();
        let Some(timestamp) = get("timestamp").or_else(|| get("occurred_at")) else {
            return Err(PyValueError::new_err(
                "an event dict has no timestamp (or occurred_at)",
            ));
        };
        let Some(event_type) = get("event_type").or_else(|| get("kind")) else {
            return Err(PyValueError::new_err(
                "an event dict has no event_type (or kind)",
            ));
        };
        let known = [
            "timestamp",
            "occurred_at",
            "event_type",
            "kind",
            "context",
            "description",
            "outcome",
            "session_id",
            "id",
            "source_id",
            "source_type",
            "actor",
            "title",
            "body",
            "url",
            "metadata",
        ];
        for (k, _) in dict.iter() {
            let k: String = k.extract()?;
            if !known.contains(&k.as_str()) {
                return Err(PyValueError::new_err(format!(
                    "an event dict has an unknown key {k:?} (known: {})",
                    known.join(", ")
                )));
            }
        }
        let fields = Fields {
            id: get("id"),
            source_id: get("source_id"),
            source_type: get("source_type"),
            kind: get("kind"),
            actor: get("actor"),
            title: get("title"),
            body: get("body"),
            url: get("url"),
            metadata: get("metadata"),
        };
        let made = make(
            &timestamp,
            &text(&event_type, "event_type")?,
            get("context").as_ref(),
            &opt_text(get("description").as_ref(), "description")?.unwrap_or_default(),
            get("outcome").as_ref(),
            opt_text(get("session_id").as_ref(), "session_id")?,
            fields,
        )?;
        Ok(made.event)
    }
}

/// Our fields, as given to the constructor.
struct Fields<'py> {
    id: Option<Bound<'py, PyAny>>,
    source_id: Option<Bound<'py, PyAny>>,
    source_type: Option<Bound<'py, PyAny>>,
    kind: Option<Bound<'py, PyAny>>,
    actor: Option<Bound<'py, PyAny>>,
    title: Option<Bound<'py, PyAny>>,
    body: Option<Bound<'py, PyAny>>,
    url: Option<Bound<'py, PyAny>>,
    metadata: Option<Bound<'py, PyAny>>,
}

fn text(v: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    v.extract::<String>()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a string")))
}

fn opt_text(v: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => text(v, name).map(Some),
    }
}

/// A time: an aware `datetime` (any offset), a naive one (taken as UTC), or RFC 3339 text.
fn time(v: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    if let Ok(t) = v.extract::<DateTime<chrono::FixedOffset>>() {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = v.extract::<NaiveDateTime>() {
        return Ok(t.and_utc());
    }
    if let Ok(s) = v.cast::<PyString>() {
        let s: String = s.extract()?;
        // Not "7d": an event's time must not move with the clock (its id is derived from it).
        if athena_core::time::is_relative_time_arg(&s) {
            return Err(PyValueError::new_err(format!(
                "timestamp {s:?}: give a datetime or RFC 3339 text, not a time relative to now"
            )));
        }
        return athena_core::time::parse_time_arg(&s, Utc::now())
            .map_err(|e| PyValueError::new_err(format!("timestamp {s:?}: {e}")));
    }
    Err(PyTypeError::new_err(
        "timestamp must be a datetime or RFC 3339 text",
    ))
}

fn outcome(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Outcome>> {
    let Some(text) = opt_text(v, "outcome")? else {
        return Ok(None);
    };
    Outcome::parse(&text).map(Some).ok_or_else(|| {
        PyValueError::new_err(format!(
            "outcome {text:?}: use success, failure, client_error, server_error or None"
        ))
    })
}

fn make(
    timestamp: &Bound<'_, PyAny>,
    event_type: &str,
    context: Option<&Bound<'_, PyAny>>,
    description: &str,
    outcome_: Option<&Bound<'_, PyAny>>,
    session_id: Option<String>,
    f: Fields<'_>,
) -> PyResult<EpisodicEvent> {
    let context = match context.map(|c| from_py(c, "context")).transpose()? {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(PyTypeError::new_err("context must be a dict")),
    };
    let episode = Episode {
        timestamp: time(timestamp)?,
        event_type: event_type.to_string(),
        context,
        description: description.to_string(),
        outcome: outcome(outcome_)?,
        session_id: session_id.clone().unwrap_or_default(),
    };
    let mut e = episode.into_event();
    let set = |v: &Option<Bound<'_, PyAny>>, name: &str| opt_text(v.as_ref(), name);
    if let Some(id) = set(&f.id, "id")? {
        e.id = id;
    }
    if let Some(s) = set(&f.source_id, "source_id")? {
        e.source_id = s;
    }
    if let Some(s) = set(&f.source_type, "source_type")? {
        e.source_type = s;
    }
    if let Some(k) = set(&f.kind, "kind")? {
        e.kind = k;
    }
    if let Some(a) = set(&f.actor, "actor")? {
        e.actor = Some(a);
    }
    if let Some(t) = set(&f.title, "title")? {
        e.title = t;
    }
    if let Some(b) = set(&f.body, "body")? {
        e.body = b;
    }
    if let Some(u) = set(&f.url, "url")? {
        e.url = Some(u);
    }
    match f.metadata.map(|m| from_py(&m, "metadata")).transpose()? {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => e.metadata = m,
        Some(_) => return Err(PyTypeError::new_err("metadata must be a dict")),
    }
    Ok(EpisodicEvent::made(e, session_id))
}

#[pymethods]
impl EpisodicEvent {
    /// An event from the design's six fields (a custom source's way), and any of ours; what is
    /// not given is derived: `kind` from `event_type`, `title` and `body` from `description`,
    /// our fields from `context`'s keys of the same names, the `id` from what the event says.
    #[new]
    #[pyo3(signature = (
        timestamp, event_type, context=None, description="", outcome=None, session_id=None, *,
        id=None, source_id=None, source_type=None, kind=None, actor=None, title=None,
        body=None, url=None, metadata=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn py_new<'py>(
        timestamp: &Bound<'py, PyAny>,
        event_type: &str,
        context: Option<Bound<'py, PyAny>>,
        description: &str,
        outcome: Option<Bound<'py, PyAny>>,
        session_id: Option<String>,
        id: Option<Bound<'py, PyAny>>,
        source_id: Option<Bound<'py, PyAny>>,
        source_type: Option<Bound<'py, PyAny>>,
        kind: Option<Bound<'py, PyAny>>,
        actor: Option<Bound<'py, PyAny>>,
        title: Option<Bound<'py, PyAny>>,
        body: Option<Bound<'py, PyAny>>,
        url: Option<Bound<'py, PyAny>>,
        metadata: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let fields = Fields {
            id,
            source_id,
            source_type,
            kind,
            actor,
            title,
            body,
            url,
            metadata,
        };
        make(
            timestamp,
            event_type,
            context.as_ref(),
            description,
            outcome.as_ref(),
            session_id,
            fields,
        )
    }

    /// When it happened: an aware `datetime` in UTC.
    #[getter]
    fn timestamp(&self) -> DateTime<Utc> {
        self.event.occurred_at
    }

    /// What happened (`commit`, `http_request`, …): the same as `kind`.
    #[getter]
    fn event_type(&self) -> &str {
        &self.event.kind
    }

    /// Where it happened, plus where it came from: `source_id`, `source_type`, `id`, `actor`,
    /// `url` and `metadata`, as `events --format athena` writes it.
    #[getter]
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.episode().context)
    }

    /// The title, then a blank line and the body when there is one.
    #[getter]
    fn description(&self) -> String {
        episode::description(&self.event.title, &self.event.body)
    }

    /// How it ended: `success`, `failure`, `client_error`, `server_error`, or None.
    #[getter]
    fn outcome(&self) -> Option<&'static str> {
        self.event.outcome.map(Outcome::as_str)
    }

    /// The episode it belongs to (`<source>/<thread, issue, repository …>`), stable across syncs.
    #[getter]
    fn session_id(&self) -> &str {
        self.session()
    }

    /// Its id, unique within its source and the same every time it is read.
    #[getter]
    fn id(&self) -> &str {
        &self.event.id
    }

    #[getter]
    fn source_id(&self) -> &str {
        &self.event.source_id
    }

    #[getter]
    fn source_type(&self) -> &str {
        &self.event.source_type
    }

    #[getter]
    fn kind(&self) -> &str {
        &self.event.kind
    }

    #[getter]
    fn actor(&self) -> Option<&str> {
        self.event.actor.as_deref()
    }

    #[getter]
    fn title(&self) -> &str {
        &self.event.title
    }

    #[getter]
    fn body(&self) -> &str {
        &self.event.body
    }

    #[getter]
    fn url(&self) -> Option<&str> {
        self.event.url.as_deref()
    }

    /// When the store accepted it (events read back from a store), else None.
    #[getter]
    fn ingested_at(&self) -> Option<DateTime<Utc>> {
        self.event.ingested_at
    }

    /// The source's own details (hashes, sizes, ids).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.event().metadata)
    }

    /// Where it happened, without the provenance `context` adds.
    #[getter]
    fn own_context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.event().context)
    }

    /// The same event from source `source_id` of type `source_type` (a custom source's events
    /// are stamped so).
    fn with_source(&self, source_id: &str, source_type: &str) -> Self {
        let mut e = self.event().clone();
        e.source_id = source_id.to_string();
        e.source_type = source_type.to_string();
        EpisodicEvent::made(e, self.session_id.get().cloned())
    }

    /// Every field, the design's and ours, as a dict (`timestamp` a `datetime`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let e = self.event();
        let d = PyDict::new(py);
        d.set_item("timestamp", e.occurred_at)?;
        d.set_item("event_type", &e.kind)?;
        d.set_item("context", self.context(py)?)?;
        d.set_item("description", self.description())?;
        d.set_item("outcome", self.outcome())?;
        d.set_item("session_id", self.session())?;
        d.set_item("id", &e.id)?;
        d.set_item("source_id", &e.source_id)?;
        d.set_item("source_type", &e.source_type)?;
        d.set_item("kind", &e.kind)?;
        d.set_item("actor", &e.actor)?;
        d.set_item("title", &e.title)?;
        d.set_item("body", &e.body)?;
        d.set_item("url", &e.url)?;
        d.set_item("ingested_at", e.ingested_at)?;
        d.set_item("metadata", map_to_py(py, &e.metadata)?)?;
        Ok(d)
    }

    /// The event as `events --format jsonl` prints it, as a dict of JSON values.
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value =
            serde_json::to_value(self.event()).map_err(|e| PyValueError::new_err(e.to_string()))?;
        to_py(py, &value)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<EpisodicEvent>() {
            Ok(o) => {
                let o = o.get();
                self.event() == o.event() && self.session() == o.session()
            }
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.event.source_id, &self.event.id).hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let title: String = self.event.title.chars().take(60).collect();
        let cut = if self.event.title.chars().count() > 60 {
            "…"
        } else {
            ""
        };
        format!(
            "EpisodicEvent(source_id={:?}, event_type={:?}, timestamp='{}', id={:?}, title={:?}{cut})",
            self.event.source_id,
            self.event.kind,
            self.event
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            self.event.id,
            title,
        )
    }
}
