//! How `search_events` lists events unless asked for their details: an agent pays for every
//! character it reads, so a listed event carries what it reads to recall an episode — what,
//! when, who, where — and leaves out what is empty or rarely needed (the details, the source
//! type, when it was stored). `get_event` shows one event whole.

use athena_core::Outcome;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::recall::answers::{outcome_schema, EventJson, EventView};

/// A body is cut after this many characters in a list.
pub(crate) const BODY_CHARS: usize = 200;

/// An event as `search_events` lists it by default: fields that would be null or empty are
/// left out, and a long body is cut.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct EventBrief {
    /// Deterministic id, unique within its source (with `source_id`, what `get_event` takes).
    pub id: String,
    /// The configured id of the source that produced it.
    pub source_id: String,
    /// What happened: `commit`, `file_modified`, `http_request`, `message`, …
    pub kind: String,
    /// When it happened (UTC).
    pub occurred_at: DateTime<Utc>,
    /// Who did it; left out when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// One line.
    pub title: String,
    /// Free text, cut after 200 characters (ending in `…`: `get_event` has it all); left out
    /// when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Where to see it; left out when there is no such place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How it ended, for events that end; left out for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "outcome_schema")]
    pub outcome: Option<Outcome>,
    /// Where it happened: repository, branch, path, channel, thread …; left out when empty.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

impl From<EventJson> for EventBrief {
    fn from(e: EventJson) -> Self {
        EventBrief {
            id: e.id,
            source_id: e.source_id,
            kind: e.kind,
            occurred_at: e.occurred_at,
            actor: e.actor,
            title: e.title,
            body: cut(e.body, BODY_CHARS),
            url: e.url,
            outcome: e.outcome,
            context: e.context,
        }
    }
}

/// An event in a `search_events` page: brief, or whole when its details were asked for (or
/// in Athena's shape, which is its own).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "ListedEvent")]
// Unboxed: a page holds one shape.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Listed {
    /// Without `include_metadata`.
    Brief(EventBrief),
    /// With `include_metadata`, or `format=athena`.
    Whole(EventView),
}

impl Listed {
    /// `e` brief, unless `whole` or in Athena's shape.
    pub(crate) fn new(e: EventView, whole: bool) -> Self {
        match e {
            EventView::Event(e) if !whole => Listed::Brief(e.into()),
            e => Listed::Whole(e),
        }
    }

    /// When it happened.
    pub(crate) fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Listed::Brief(e) => e.occurred_at,
            Listed::Whole(EventView::Event(e)) => e.occurred_at,
            Listed::Whole(EventView::Athena(a)) => a.timestamp,
        }
    }
}

/// `text` cut after `max` characters, with `…` in place of the rest.
fn cut(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_body_is_cut_on_a_character() {
        assert_eq!(cut("short".into(), 200), "short");
        let long = "é".repeat(250);
        let brief = cut(long, BODY_CHARS);
        assert_eq!(brief.chars().count(), BODY_CHARS + 1);
        assert!(brief.ends_with("é…"), "{brief}");
    }

    #[test]
    fn a_brief_event_leaves_out_what_is_empty_and_keeps_the_rest() {
        let mut e = athena_core::Event::new(
            "1",
            "commit",
            "2024-05-01T00:00:00Z".parse().unwrap(),
            "fix",
        );
        e.source_id = "git".into();
        e.source_type = "git".into();
        let brief = serde_json::to_value(Listed::new(EventView::Event(e.clone().into()), false));
        assert_eq!(
            brief.unwrap(),
            serde_json::json!({"id": "1", "source_id": "git", "kind": "commit",
                "occurred_at": "2024-05-01T00:00:00Z", "title": "fix"})
        );
        e.actor = Some("ada".into());
        e.outcome = Some(Outcome::Failure);
        e.context.insert("branch".into(), "main".into());
        let brief = serde_json::to_value(Listed::new(EventView::Event(e.clone().into()), false));
        let brief = brief.unwrap();
        assert_eq!(brief["actor"], "ada");
        assert_eq!(brief["outcome"], "failure");
        assert_eq!(brief["context"]["branch"], "main");
        // Whole, it has every field.
        let whole = serde_json::to_value(Listed::new(EventView::Event(e.into()), true)).unwrap();
        assert!(
            whole["ingested_at"].is_null() && whole["metadata"].is_object(),
            "{whole}"
        );
    }
}
