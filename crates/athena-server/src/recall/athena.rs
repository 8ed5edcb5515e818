//! Our events in the shape of Athena's `EpisodicEvent` (`timestamp`, `event_type`, `context`,
//! `description`, `outcome`, `session_id`), for `events --format athena` and
//! `/v1/events?format=athena`; docs/recall-api.md ("Athena's event shape") documents each field.

use athena_core::episode::Episode;
use athena_core::{Event, Outcome, Registry};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// An event as Athena's `EpisodicEvent` (`format=athena`; docs/recall-api.md, "Athena's event
/// shape", maps each field).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AthenaEvent {
    /// `occurred_at`.
    pub timestamp: DateTime<Utc>,
    /// `kind`.
    pub event_type: String,
    /// `context` plus `source_id`, `source_type`, `id`, `actor`, `url` and `metadata`.
    pub context: Map<String, Value>,
    /// `title`, then a blank line and `body` when there is a body.
    pub description: String,
    /// `outcome`.
    #[schemars(schema_with = "super::answers::outcome_schema")]
    pub outcome: Option<Outcome>,
    /// What groups events into one episode, stable across syncs, prefixed by the source id.
    pub session_id: String,
}

impl AthenaEvent {
    /// `e` as Athena records an episodic event (see [`Episode`]); the work item the store
    /// links it to ([`Recall::sessions`]), else `registry`, says what names its episode
    /// (`session_id`).
    ///
    /// [`Recall::sessions`]: athena_core::recall::Recall::sessions
    pub fn new(e: &Event, registry: &Registry, work_item: Option<&str>) -> Self {
        let Episode {
            timestamp,
            event_type,
            context,
            description,
            outcome,
            session_id,
        } = Episode::linked(e, registry, work_item);
        AthenaEvent {
            timestamp,
            event_type,
            context,
            description,
            outcome,
            session_id,
        }
    }
}

/// `e` as Athena records an episodic event ([`AthenaEvent`]), as JSON.
pub fn athena_event(e: &Event, registry: &Registry, work_item: Option<&str>) -> Value {
    serde_json::to_value(AthenaEvent::new(e, registry, work_item)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::{Outcome, SourceType};
    use serde_json::json;

    /// The JSON shape: every field, by Athena's names (the mapping itself is
    /// `athena_core::episode`'s, and tested there).
    #[test]
    fn the_athena_shape_names_athenas_fields() {
        let at: DateTime<Utc> = "2024-05-02T13:45:10Z".parse().unwrap();
        let mut e = Event::new("C1:1", "message", at, "#general: hi");
        e.source_id = "slack".into();
        e.source_type = "slack".into();
        e.outcome = Some(Outcome::Success);
        e.context.insert("channel".into(), json!("C1"));
        let build: athena_core::BuildFn =
            std::sync::Arc::new(|c| Err(c.error(None, "not built in these tests")));
        let mut registry = Registry::new();
        let slack = SourceType::new("slack", "test", vec![], build).with_episode(&["{channel}"]);
        registry.register(slack).unwrap();
        let a = athena_event(&e, &registry, None);
        assert_eq!(a["timestamp"], "2024-05-02T13:45:10Z");
        assert_eq!(a["event_type"], "message");
        assert_eq!(a["description"], "#general: hi");
        assert_eq!(a["outcome"], "success");
        assert_eq!(a["session_id"], "slack/C1");
        assert_eq!(a["context"]["id"], "C1:1");
        assert_eq!(a["context"]["url"], Value::Null);
    }
}
