//! Our events in the shape of Athena's `EpisodicEvent` (`timestamp`, `event_type`, `context`,
//! `description`, `outcome`, `session_id`), for `events --format athena` and
//! `/v1/events?format=athena`; docs/recall-api.md ("Athena's event shape") documents each field.

use athena_core::{Event, Outcome, Registry, SourceType};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

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
    /// `e` as Athena records an episodic event. Nothing of ours is lost: `context` carries our
    /// context plus the provenance (`source_id`, `source_type`, `id`, `actor`, `url`, `kind`,
    /// `metadata`), so an event can be found again from what Athena kept. `registry` says
    /// what names its episode (`session_id`).
    pub fn new(e: &Event, registry: &Registry) -> Self {
        let mut context: Map<String, Value> = e.context.clone();
        // Provenance wins over a context key of the same name: it is what finds the event again.
        context.insert("source_id".into(), json!(e.source_id));
        context.insert("source_type".into(), json!(e.source_type));
        context.insert("id".into(), json!(e.id));
        context.insert("actor".into(), json!(e.actor));
        context.insert("url".into(), json!(e.url));
        context.insert("metadata".into(), Value::Object(e.metadata.clone()));
        AthenaEvent {
            timestamp: e.occurred_at,
            event_type: e.kind.clone(),
            context,
            description: description(e),
            outcome: e.outcome,
            session_id: session_id(e, registry.get(&e.source_type)),
        }
    }
}

/// `e` as Athena records an episodic event ([`AthenaEvent`]), as JSON.
pub fn athena_event(e: &Event, registry: &Registry) -> Value {
    serde_json::to_value(AthenaEvent::new(e, registry)).unwrap_or(Value::Null)
}

/// The title, and the body after a blank line when there is one: what an agent reads back.
fn description(e: &Event) -> String {
    if e.body.trim().is_empty() {
        e.title.clone()
    } else {
        format!("{}\n\n{}", e.title, e.body)
    }
}

/// The episode an event belongs to, stable across syncs: `<source>/<episode>` where its type
/// declares what names an episode ([`SourceType::episode`]: a Slack thread, a GitHub issue or
/// pull request, a Jira or Linear issue, a mail thread, a repository, a log file …), else the
/// source id (a type that declares none, or one no longer registered).
fn session_id(e: &Event, source_type: Option<&SourceType>) -> String {
    match source_type.and_then(|t| t.episode_of(&e.context)) {
        Some(episode) => format!("{}/{episode}", e.source_id),
        None => e.source_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_core::Outcome;
    use chrono::{DateTime, Utc};

    fn event() -> Event {
        let at: DateTime<Utc> = "2024-05-02T13:45:10Z".parse().unwrap();
        let mut e = Event::new("C1:1714657510.000100", "message", at, "#general: hi");
        e.source_id = "slack".into();
        e.source_type = "slack".into();
        e.actor = Some("ada".into());
        e
    }

    #[test]
    fn every_athena_field_is_mapped_and_provenance_is_kept() {
        let mut e = event();
        e.body = "hi all".into();
        e.outcome = Some(Outcome::Success);
        e.context.insert("channel".into(), json!("C1"));
        e.metadata.insert("edited".into(), json!(false));
        let a = athena_event(&e, &registry());
        assert_eq!(a["timestamp"], "2024-05-02T13:45:10Z");
        assert_eq!(a["event_type"], "message");
        assert_eq!(a["description"], "#general: hi\n\nhi all");
        assert_eq!(a["outcome"], "success");
        assert_eq!(a["session_id"], "slack/C1");
        assert_eq!(a["context"]["channel"], "C1");
        assert_eq!(a["context"]["source_id"], "slack");
        assert_eq!(a["context"]["id"], "C1:1714657510.000100");
        assert_eq!(a["context"]["actor"], "ada");
        assert_eq!(a["context"]["url"], Value::Null);
        assert_eq!(a["context"]["metadata"]["edited"], false);
    }

    /// A type declaring threads, then channels, as its episodes.
    fn threaded() -> SourceType {
        let build: athena_core::BuildFn =
            std::sync::Arc::new(|c| Err(c.error(None, "not built in these tests")));
        SourceType::new("slack", "test", vec![], build)
            .with_episode(&["{channel}/{thread_ts}", "{channel}"])
    }

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register(threaded()).unwrap();
        r
    }

    #[test]
    fn sessions_follow_the_types_declared_episodes_else_the_source() {
        let t = threaded();
        let mut e = event();
        assert_eq!(session_id(&e, Some(&t)), "slack");
        // A key no template names is not guessed at.
        e.context.insert("issue".into(), json!("ENG-123"));
        assert_eq!(session_id(&e, Some(&t)), "slack");
        e.context.insert("channel".into(), json!("C1"));
        assert_eq!(session_id(&e, Some(&t)), "slack/C1");
        e.context.insert("thread_ts".into(), json!("1.2"));
        assert_eq!(session_id(&e, Some(&t)), "slack/C1/1.2");
        assert_eq!(
            session_id(&e, None),
            "slack",
            "an unregistered type has no episodes"
        );
        assert_eq!(description(&e), "#general: hi", "no body, no blank line");
        assert_eq!(athena_event(&e, &registry())["outcome"], Value::Null);
    }
}
