//! Our events in the shape of Athena's `EpisodicEvent` (`timestamp`, `event_type`, `context`,
//! `description`, `outcome`, `session_id`), and back: `events --format athena`,
//! `/v1/events?format=athena` and the Python package's `EpisodicEvent` all use this mapping
//! (docs/recall-api.md, "Athena's event shape", documents each field).
//!
//! Nothing of ours is lost going there: `context` carries our context plus the provenance
//! (`source_id`, `source_type`, `id`, `actor`, `url`, `metadata`). Coming back, an episode a
//! program made from the six fields alone gets what those keys give, and an id derived from
//! what it says.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::event::{Event, Outcome};
use crate::registry::{Registry, SourceType};

/// The key of `context` where an event made from an episode keeps the `session_id` it was
/// given, so that it reads back the same from the store.
pub const SESSION_KEY: &str = "session_id";

/// The keys of `context` that carry our fields, not the source's context.
pub const PROVENANCE: [&str; 6] = ["source_id", "source_type", "id", "actor", "url", "metadata"];

/// An event as Athena records an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// `occurred_at`.
    pub timestamp: DateTime<Utc>,
    /// `kind`.
    pub event_type: String,
    /// `context` plus the provenance keys ([`PROVENANCE`]), which win over a context key of the
    /// same name: they are what finds the event again.
    pub context: Map<String, Value>,
    /// `title`, then a blank line and `body` when there is a body.
    pub description: String,
    /// `outcome`.
    pub outcome: Option<Outcome>,
    /// What groups events into one episode, stable across syncs, prefixed by the source id.
    pub session_id: String,
}

impl Episode {
    /// `e` as Athena records it; `registry` says what names its episode (`session_id`).
    pub fn new(e: &Event, registry: &Registry) -> Self {
        Episode::linked(e, registry, None)
    }

    /// `e` as Athena records it, in the episode of `work_item` when the store links it to
    /// one (an issue key or a GitHub issue or pull request, [`Store::sessions`]), else of
    /// what its type names (see [`session_id`]).
    ///
    /// [`Store::sessions`]: crate::Store::sessions
    pub fn linked(e: &Event, registry: &Registry, work_item: Option<&str>) -> Self {
        let mut context: Map<String, Value> = e.context.clone();
        context.insert("source_id".into(), json!(e.source_id));
        context.insert("source_type".into(), json!(e.source_type));
        context.insert("id".into(), json!(e.id));
        context.insert("actor".into(), json!(e.actor));
        context.insert("url".into(), json!(e.url));
        context.insert("metadata".into(), Value::Object(e.metadata.clone()));
        Episode {
            timestamp: e.occurred_at,
            event_type: e.kind.clone(),
            context,
            description: description(&e.title, &e.body),
            outcome: e.outcome,
            session_id: session_in(e, registry.get(&e.source_type), work_item),
        }
    }

    /// The event this episode describes: `kind` from `event_type`, `title` and `body` from
    /// `description` (its first line, and what follows a blank line or the first line), our
    /// fields from the provenance keys of `context` where it has them (the rest stays context).
    /// Without an `id` there, the id is a hash of what the episode says (its time, type,
    /// description and session), so the same episode made twice is one event.
    pub fn into_event(self) -> Event {
        let mut context = self.context;
        let mut take = |key: &str| context.remove(key);
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let source_id = text(take("source_id"));
        let source_type = text(take("source_type"));
        let id = text(take("id"));
        let actor = text(take("actor"));
        let url = text(take("url"));
        let metadata = match take("metadata") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let (title, body) = split_description(&self.description);
        let id = id.unwrap_or_else(|| {
            derived_id(
                &self.timestamp,
                &self.event_type,
                &self.description,
                &self.session_id,
            )
        });
        // An episode of ours (with its provenance) gets its session back from its type; one a
        // program made keeps the session it named.
        if source_id.is_none() && !self.session_id.is_empty() {
            context.insert(SESSION_KEY.into(), Value::String(self.session_id.clone()));
        }
        let mut e = Event::new(id, self.event_type, self.timestamp, title);
        e.body = body;
        e.source_id = source_id.unwrap_or_default();
        e.source_type = source_type.unwrap_or_default();
        e.actor = actor;
        e.url = url;
        e.outcome = self.outcome;
        e.context = context;
        e.metadata = metadata;
        e
    }
}

/// The title, and the body after a blank line when there is one: what an agent reads back.
pub fn description(title: &str, body: &str) -> String {
    if body.trim().is_empty() {
        title.to_string()
    } else {
        format!("{title}\n\n{body}")
    }
}

/// [`description`] undone: the first line is the title; the body is what follows it (after
/// the blank line [`description`] puts there, if any).
fn split_description(description: &str) -> (String, String) {
    match description.split_once('\n') {
        None => (description.to_string(), String::new()),
        Some((title, rest)) => {
            let body = rest.strip_prefix('\n').unwrap_or(rest);
            (title.trim_end_matches('\r').to_string(), body.to_string())
        }
    }
}

/// The episode an event belongs to, stable across syncs: `<source>/<episode>` where its type
/// declares what names an episode ([`SourceType::episode_of`]: a Slack thread, a GitHub issue
/// or pull request, a Jira or Linear issue, a mail thread, a repository, a log file …), else
/// the source id (a type that declares none, or one no longer registered).
pub fn session_id(e: &Event, source_type: Option<&SourceType>) -> String {
    session_in(e, source_type, None)
}

/// [`session_id`], where an event linked to a work item is in that item's episode (its
/// thing key: `key:PROJ-7`, `gh:acme/app#12`), unless a program named its episode itself.
pub fn session_in(e: &Event, source_type: Option<&SourceType>, work_item: Option<&str>) -> String {
    // An episode a program named itself (a Python source's `session_id`) is kept as named.
    if let Some(Value::String(named)) = e.context.get(SESSION_KEY) {
        if !named.is_empty() {
            return named.clone();
        }
    }
    if let Some(item) = work_item {
        return item.to_string();
    }
    match source_type.and_then(|t| t.episode_of(&e.context)) {
        Some(episode) => format!("{}/{episode}", e.source_id),
        None => e.source_id.clone(),
    }
}

/// An id for an episode that brought none: FNV-1a (64 bits, stable across releases and
/// platforms) over what it says, in hex.
fn derived_id(at: &DateTime<Utc>, kind: &str, description: &str, session: &str) -> String {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let millis = at.timestamp_millis().to_string();
    for part in [millis.as_str(), kind, description, session] {
        for b in part.bytes().chain([0xff]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let at: DateTime<Utc> = "2024-05-02T13:45:10Z".parse().unwrap();
        let mut e = Event::new("C1:1714657510.000100", "message", at, "#general: hi");
        e.source_id = "slack".into();
        e.source_type = "slack".into();
        e.actor = Some("ada".into());
        e
    }

    /// A type declaring threads, then channels, as its episodes.
    fn threaded() -> SourceType {
        let build: crate::BuildFn =
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
    fn every_athena_field_is_mapped_and_provenance_is_kept() {
        let mut e = event();
        e.body = "hi all".into();
        e.outcome = Some(Outcome::Success);
        e.context.insert("channel".into(), json!("C1"));
        e.metadata.insert("edited".into(), json!(false));
        let a = Episode::new(&e, &registry());
        assert_eq!(a.timestamp, e.occurred_at);
        assert_eq!(a.event_type, "message");
        assert_eq!(a.description, "#general: hi\n\nhi all");
        assert_eq!(a.outcome, Some(Outcome::Success));
        assert_eq!(a.session_id, "slack/C1");
        assert_eq!(a.context["channel"], "C1");
        assert_eq!(a.context["source_id"], "slack");
        assert_eq!(a.context["id"], "C1:1714657510.000100");
        assert_eq!(a.context["actor"], "ada");
        assert_eq!(a.context["url"], Value::Null);
        assert_eq!(a.context["metadata"]["edited"], false);
        // And back: the same event.
        let mut back = a.into_event();
        back.ingested_at = e.ingested_at;
        assert_eq!(back, e);
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
        // Linked to a work item: its episode.
        assert_eq!(session_in(&e, Some(&t), Some("key:PROJ-7")), "key:PROJ-7");
        assert_eq!(
            Episode::linked(&e, &registry(), Some("gh:o/r#1")).session_id,
            "gh:o/r#1"
        );
        assert_eq!(
            session_id(&e, None),
            "slack",
            "an unregistered type has no episodes"
        );
        assert_eq!(description(&e.title, &e.body), "#general: hi");
    }

    #[test]
    fn an_episode_of_the_six_fields_alone_is_an_event_with_a_stable_id() {
        let episode = |description: &str| Episode {
            timestamp: "2024-05-02T13:45:10Z".parse().unwrap(),
            event_type: "deploy".into(),
            context: [("env".to_string(), json!("prod"))].into_iter().collect(),
            description: description.into(),
            outcome: Some(Outcome::Failure),
            session_id: "release-42".into(),
        };
        let e = episode("Deploy failed\nrolled back").into_event();
        assert_eq!(
            (e.kind.as_str(), e.title.as_str()),
            ("deploy", "Deploy failed")
        );
        assert_eq!(e.body, "rolled back");
        assert_eq!(e.context["env"], "prod");
        assert_eq!(
            session_id(&e, None),
            "release-42",
            "the session it was given"
        );
        assert_eq!(e.outcome, Some(Outcome::Failure));
        assert_eq!(e.id.len(), 16);
        assert_eq!(e.id, episode("Deploy failed\nrolled back").into_event().id);
        assert_ne!(e.id, episode("Deploy failed").into_event().id);
        assert_eq!(episode("a\n\nb").into_event().body, "b");
    }
}
