//! What recall answers, as the types that are serialised for every answer, over HTTP and MCP
//! alike, and whose schemas (schemars) are `/openapi.json`'s components and the MCP tools'
//! output schemas. Every field an answer always carries is written, `null` where it may be.

use athena_core::known::SourceKinds;
use athena_core::recall::{Bucket, TimelineCount};
use athena_core::{Event, Outcome, Registry, SourceStatus};
use chrono::{DateTime, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value};

pub use super::athena::AthenaEvent;
use super::params::Format;

/// An event as `events --format jsonl` prints it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Event")]
pub struct EventJson {
    /// Deterministic id, unique within its source.
    pub id: String,
    /// The configured id of the source that produced it.
    pub source_id: String,
    /// The source type (`git`, `github`, …).
    pub source_type: String,
    /// What happened: `commit`, `file_modified`, `http_request`, `message`, …
    pub kind: String,
    /// When it happened (UTC).
    pub occurred_at: DateTime<Utc>,
    /// When the store accepted it.
    pub ingested_at: Option<DateTime<Utc>>,
    /// Who did it.
    pub actor: Option<String>,
    /// One line.
    pub title: String,
    /// Free text, possibly empty.
    pub body: String,
    /// Where to see it.
    pub url: Option<String>,
    /// How it ended, for events that end.
    #[schemars(schema_with = "outcome_schema")]
    pub outcome: Option<Outcome>,
    /// Where it happened: repository, branch, path, channel, thread …
    pub context: Map<String, Value>,
    /// Source-specific details; left out when `include_metadata` is false (MCP's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl From<Event> for EventJson {
    fn from(e: Event) -> Self {
        EventJson {
            id: e.id,
            source_id: e.source_id,
            source_type: e.source_type,
            kind: e.kind,
            occurred_at: e.occurred_at,
            ingested_at: e.ingested_at,
            actor: e.actor,
            title: e.title,
            body: e.body,
            url: e.url,
            outcome: e.outcome,
            context: e.context,
            metadata: Some(e.metadata),
        }
    }
}

/// `success`, `failure`, `client_error`, `server_error` or null.
pub(crate) fn outcome_schema(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<Value> = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::ClientError,
        Outcome::ServerError,
    ]
    .iter()
    .map(|o| Value::from(o.as_str()))
    .chain([Value::Null])
    .collect();
    json_schema!({
        "description": "How it ended, for events that end.",
        "type": ["string", "null"],
        "enum": names,
    })
}

/// An event in the shape `format` asked for.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "EventOrAthena")]
// Unboxed: a page holds one shape, and the common one (jsonl) is the large one.
#[allow(clippy::large_enum_variant)]
pub enum EventView {
    /// `format=jsonl`.
    Event(EventJson),
    /// `format=athena`.
    Athena(AthenaEvent),
}

impl EventView {
    /// `e` in the shape `format` names; the work item the store links it to, else
    /// `registry`, says what names its episode (Athena's `session_id`).
    pub fn new(e: Event, format: Format, registry: &Registry, work_item: Option<&str>) -> Self {
        match format {
            Format::Jsonl => EventView::Event(EventJson::from(e)),
            Format::Athena => EventView::Athena(AthenaEvent::new(&e, registry, work_item)),
        }
    }

    /// `events` in the shape `format` names, in order; `work_items` are their sessions'
    /// work items (read only for Athena's shape), one for each.
    pub fn all(
        events: Vec<Event>,
        format: Format,
        registry: &Registry,
        work_items: Vec<Option<String>>,
    ) -> Vec<Self> {
        let items = work_items.into_iter().chain(std::iter::repeat(None));
        (events.into_iter().zip(items))
            .map(|(e, item)| EventView::new(e, format, registry, item.as_deref()))
            .collect()
    }

    /// Without its `metadata` (the jsonl shape; Athena's keeps its own).
    pub fn without_metadata(mut self) -> Self {
        if let EventView::Event(e) = &mut self {
            e.metadata = None;
        }
        self
    }
}

/// An event, what it is about and mentions, and the events related to it through them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Related")]
pub struct RelatedView {
    /// The event asked about.
    pub event: EventView,
    /// Its things: `key:PROJ-7` (a Jira or Linear issue), `gh:owner/repo#12` (a GitHub issue or
    /// pull request), `commit:SHA`, `slack:CHANNEL/TS`, `circleci:VCS/ORG/REPO/NUMBER`; each
    /// with the event's role, `about` or `mentions`.
    pub things: Vec<LinkView>,
    /// The events about or mentioning one of its things, the newest first, each with the
    /// things it shares.
    pub related: Vec<RelatedEventView>,
}

/// A related event.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RelatedEventView {
    /// The event.
    pub event: EventView,
    /// The things it shares with the event asked about, with this event's role.
    pub via: Vec<LinkView>,
}

/// A thing and an event's role towards it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LinkView {
    /// The thing's key.
    pub thing: String,
    /// `about` (the event is the thing or happened to it) or `mentions`.
    pub role: String,
}

impl RelatedView {
    /// `r` with its events in the shape `format` names; `work_items` are the sessions' work
    /// items of the event asked about, then of each related event (read only for Athena's
    /// shape).
    pub fn new(
        r: athena_core::links::Related,
        format: Format,
        registry: &Registry,
        work_items: Vec<Option<String>>,
    ) -> Self {
        let links = |links: Vec<athena_core::links::Link>| {
            links
                .into_iter()
                .map(|l| LinkView {
                    thing: l.thing,
                    role: l.role.as_str().to_string(),
                })
                .collect()
        };
        let mut items = work_items.into_iter().chain(std::iter::repeat(None));
        RelatedView {
            event: EventView::new(r.event, format, registry, items.next().flatten().as_deref()),
            things: links(r.things),
            related: (r.related.into_iter().zip(items))
                .map(|(e, item)| RelatedEventView {
                    event: EventView::new(e.event, format, registry, item.as_deref()),
                    via: links(e.via),
                })
                .collect(),
        }
    }
}

/// A page of events (in the shape `format` asked for; MCP lists them briefer by default).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "EventsPage")]
pub struct EventsPage<E = EventView> {
    /// In the page's order.
    pub events: Vec<E>,
    /// Pass as `cursor` (with the same filters and `order`) for the next page; `null` on the
    /// last page (and on a page of any word, which is the best `limit` matches).
    pub next_cursor: Option<String>,
    /// With `q`: `all` (the events have every plain word, or match the syntax as written) or
    /// `any` (no event had every word: these have some of them, best match first); `null`
    /// without `q`.
    #[serde(rename = "match")]
    pub matched: Option<MatchKind>,
    /// Says why a page is not what was asked (`match` is `any`), or names a source or kind
    /// asked for that the store does not have, with the ones it has; else `null`.
    pub note: Option<String>,
}

impl<E> EventsPage<E> {
    /// The same page with each event in another shape.
    pub fn map<F>(self, f: impl FnMut(E) -> F) -> EventsPage<F> {
        EventsPage {
            events: self.events.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            matched: self.matched,
            note: self.note,
        }
    }
}

/// How a search's words matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// Every word, or the syntax as written.
    All,
    /// No event had every word: any of them, best match first.
    Any,
}

/// What `status --format json` prints of a source.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SourceRow {
    /// The source id.
    pub id: String,
    /// Its type, if known.
    #[serde(rename = "type")]
    pub source_type: Option<String>,
    /// Its saved cursor (versioned JSON, the source's own shape).
    pub cursor: Option<Value>,
    /// Events stored.
    pub events: u64,
    /// Dead letters stored.
    pub dead_letters: u64,
    /// When the last sync ended.
    pub last_sync: Option<DateTime<Utc>>,
    /// `ok`, `failed`, `interrupted`, `running` or `unfinished`.
    pub last_status: Option<&'static str>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// The error's kind, if it failed: `unauthorized`, `rate_limited`, `http`, `io`,
    /// `cursor`, `config` or `other`.
    pub error_kind: Option<String>,
    /// The worker running it, when `serve` workers share the store (PostgreSQL); else null.
    pub worker: Option<String>,
    /// Its `priority` (higher runs first where sources wait), when the config was read
    /// (`status` with a config); else null.
    pub priority: Option<i32>,
    /// The kinds of its events, the most frequent first.
    pub kinds: Vec<KindRow>,
}

/// How many events of a source are of one kind.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KindRow {
    /// The kind, as `kind` filters take it.
    pub kind: String,
    /// Its events stored.
    pub events: u64,
}

impl From<SourceStatus> for SourceRow {
    fn from(s: SourceStatus) -> Self {
        SourceRow {
            id: s.source_id,
            source_type: s.source_type,
            cursor: s.cursor.map(|c| c.into_json()),
            events: s.events,
            dead_letters: s.dead_letters,
            last_sync: s.last_sync,
            last_status: s.last_status.map(|s| s.as_str()),
            last_error: s.last_error,
            error_kind: s.last_error_kind,
            worker: s.worker,
            priority: s.priority,
            kinds: (s.kinds.into_iter())
                .map(|k| KindRow {
                    kind: k.kind,
                    events: k.events,
                })
                .collect(),
        }
    }
}

/// Every source the store knows: what `/v1/sources`, MCP's `list_sources` and
/// `status --format json` answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Sources {
    /// One per source.
    pub sources: Vec<SourceRow>,
}

impl Sources {
    /// The rows of `status`.
    pub fn new(status: Vec<SourceStatus>) -> Self {
        Sources {
            sources: status.into_iter().map(SourceRow::from).collect(),
        }
    }
}

/// How many events of one source are of one kind.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SourceKindRow {
    /// The source id.
    pub source: String,
    /// The kind, as `kind` filters take it.
    pub kind: String,
    /// Its events stored.
    pub events: u64,
}

/// The people the stored events name: what `/v1/people` answers and `people --format json`
/// prints.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct People {
    /// Each person once, by id.
    pub people: Vec<PersonView>,
}

/// A person across sources.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PersonView {
    /// The person's id: `person:NAME` for one configured in `[[people]]`, else one of their
    /// handles. Give it (or any handle) as `person` to `/v1/events`.
    pub id: String,
    /// The configured name, else a name a source showed with one of their handles.
    pub name: Option<String>,
    /// Their handles: `email:…`, `github:…`, `slack:…`.
    pub handles: Vec<String>,
}

impl People {
    /// `people`, only those matching `q` (a handle, id or name containing it) when given.
    pub fn new(people: Vec<athena_core::people::Person>, q: Option<&str>) -> Self {
        let q = q.map(str::to_lowercase);
        let matches = |p: &athena_core::people::Person| match &q {
            None => true,
            Some(q) => {
                p.id.to_lowercase().contains(q)
                    || p.name
                        .as_ref()
                        .is_some_and(|n| n.to_lowercase().contains(q))
                    || p.handles.iter().any(|h| h.0.to_lowercase().contains(q))
            }
        };
        People {
            people: people
                .into_iter()
                .filter(matches)
                .map(|p| PersonView {
                    id: p.id,
                    name: p.name,
                    handles: p.handles.into_iter().map(|h| h.0).collect(),
                })
                .collect(),
        }
    }
}

/// The kinds of the stored events: what `/v1/kinds` answers and `kinds --format json` prints.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Kinds {
    /// By source id; within a source, the most frequent kind first.
    pub kinds: Vec<SourceKindRow>,
}

impl Kinds {
    /// The rows of `sources`' kinds.
    pub fn new(sources: Vec<SourceKinds>) -> Self {
        Kinds {
            kinds: (sources.into_iter())
                .flat_map(|s| {
                    let source = s.source_id;
                    (s.kinds.into_iter()).map(move |k| SourceKindRow {
                        source: source.clone(),
                        kind: k.kind,
                        events: k.events,
                    })
                })
                .collect(),
        }
    }
}

/// Events of one source in one bucket.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TimelineRow {
    /// The bucket's start (UTC).
    pub start: DateTime<Utc>,
    /// The source id.
    pub source: String,
    /// Its events in the bucket.
    pub count: u64,
}

/// Counts per bucket and source.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Timeline {
    /// `hour`, `day`, `week` or `month`.
    pub bucket: &'static str,
    /// Oldest bucket first, one row per source that has events in it; buckets without
    /// events are left out.
    pub counts: Vec<TimelineRow>,
    /// With `q`: `all` when the counts are of events matching the search, `any` when no
    /// event had every word and the counts are of events with any of them; `null` without `q`.
    #[serde(rename = "match")]
    pub matched: Option<MatchKind>,
    /// Says why the counts are not what was asked (`match` is `any`), or names a source or
    /// kind asked for that the store does not have; else `null`.
    pub note: Option<String>,
}

impl Timeline {
    /// The store's counts, in buckets of `bucket`.
    pub fn new(bucket: Bucket, counts: Vec<TimelineCount>) -> Self {
        Timeline {
            bucket: bucket.as_str(),
            counts: (counts.into_iter())
                .map(|c| TimelineRow {
                    start: c.start,
                    source: c.source_id,
                    count: c.count,
                })
                .collect(),
            matched: None,
            note: None,
        }
    }

    /// Events in all buckets.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.count).sum()
    }
}

/// `{"error": "…"}`: what went wrong, naming the parameter when one is at fault.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// One line for a person.
    pub error: String,
}

#[cfg(test)]
#[path = "answers_tests.rs"]
mod tests;
