//! References across sources: which things (an issue key, a pull request, a commit, a Slack
//! message, a pipeline) an event is *about*, and which it *mentions*. Two events are related
//! when one mentions or is about a thing the other is about or mentions; the store keeps the
//! pairs (event, thing, role) in the transaction that stores the event, and resolves them when
//! asked, so a reference to something not stored yet links once it arrives.
//!
//! - `scan`: finding thing keys in text and URLs.

pub mod scan;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::event::Event;
pub use scan::{ScanConfig, Scanner, Thing};

/// What an event has to do with a thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The event is the thing, or happened to it (an issue's comment is about the issue).
    About,
    /// The event names the thing (a commit message naming `PROJ-7`).
    Mentions,
}

impl Role {
    /// Its name in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::About => "about",
            Role::Mentions => "mentions",
        }
    }

    /// A role by name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "about" => Some(Role::About),
            "mentions" => Some(Role::Mentions),
            _ => None,
        }
    }

    /// Its number in the store.
    pub fn code(self) -> i64 {
        match self {
            Role::About => 0,
            Role::Mentions => 1,
        }
    }

    /// A role by its number in the store.
    pub fn of_code(code: i64) -> Role {
        if code == 0 {
            Role::About
        } else {
            Role::Mentions
        }
    }
}

/// An event's things, each once, with its role (about wins over mentions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventLinks {
    /// The things, sorted.
    pub things: Vec<(Thing, Role)>,
}

/// What finds each event's things ([`Scanner`]) and the people it names (its source type's
/// reading, [`SourceType::people`](crate::SourceType::people)), on the source's task as a sync
/// stores its events, and over a whole store for `relink`.
#[derive(Debug, Clone, Default)]
pub struct Linker {
    /// Finds the things.
    pub scanner: Scanner,
    people: std::collections::HashMap<String, crate::people::PeopleOf>,
}

impl Linker {
    /// A linker finding things with `scanner`, and no people.
    pub fn new(scanner: Scanner) -> Self {
        Linker {
            scanner,
            people: Default::default(),
        }
    }

    /// Reads the people of each type of `registry` that declares how.
    pub fn with_people_of(mut self, registry: &crate::Registry) -> Self {
        for t in registry.list() {
            if let Some(people) = t.people {
                self.people.insert(t.name.to_string(), people);
            }
        }
        self
    }

    /// The people `event`, of a source of `source_type`, names.
    pub fn people(&self, source_type: &str, event: &Event) -> Vec<crate::people::Claim> {
        self.people
            .get(source_type)
            .map_or_else(Vec::new, |people| crate::people::dedup(people(event)))
    }
}

/// An event with the events related to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Related {
    /// The event asked about.
    pub event: Event,
    /// What it is about and mentions.
    pub things: Vec<Link>,
    /// The events that are about or mention one of its things, newest first.
    pub related: Vec<RelatedEvent>,
}

/// An event related to another, and through which things.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RelatedEvent {
    /// The event.
    pub event: Event,
    /// The things it shares with the one asked about, each with this event's role.
    pub via: Vec<Link>,
}

/// A thing, and what an event has to do with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Link {
    /// The thing's key (`key:PROJ-7`, `gh:acme/app#12`, `commit:3f9a…`).
    pub thing: Thing,
    /// `about` or `mentions`.
    pub role: Role,
}

/// The thing keys that may name the same commit as `thing`, when it is one: its shorter
/// prefixes (7 hex digits and up) are exact keys, longer SHAs starting with it are a range.
/// `None` for other things.
pub fn commit_prefixes(thing: &str) -> Option<Vec<String>> {
    let hex = thing.strip_prefix("commit:")?;
    Some(
        (7..hex.len())
            .map(|n| format!("commit:{}", &hex[..n]))
            .collect(),
    )
}

/// How a thing ranks as the work item naming an episode of linked events (the Athena shape's
/// `session_id`): an issue key (Jira, Linear) first, then a GitHub issue or pull request;
/// `None` for other things (a commit, a Slack message, a pipeline are steps of some work, not
/// the work).
pub fn work_item_rank(thing: &str) -> Option<u8> {
    if thing.starts_with("key:") {
        Some(0)
    } else if thing.starts_with("gh:") {
        Some(1)
    } else {
        None
    }
}

/// The work item that names the episode of an event with the things `own`, where `through`
/// are the things of the events *about* one of them (one step: a pipeline's commit, a Slack
/// message's thread or pull request): the best ranked ([`work_item_rank`]), the event's own
/// before one found through another event, what it is about before what it mentions, then
/// the first by name. `None`: no work item is linked.
pub fn session_of(own: &[Link], through: &[Link]) -> Option<Thing> {
    let own = own.iter().map(|l| (l, 0u8));
    let through = through.iter().map(|l| (l, 1u8));
    own.chain(through)
        .filter_map(|(l, step)| work_item_rank(&l.thing).map(|rank| (rank, step, l.role, l)))
        .min_by(|a, b| (a.0, a.1, a.2, &a.3.thing).cmp(&(b.0, b.1, b.2, &b.3.thing)))
        .map(|(.., l)| l.thing.clone())
}

/// The metadata fields that hold a commit or a reference worth linking (not every string of
/// an event's metadata is scanned: a log line's paths and user agents are full of hex that is
/// no commit).
const LINKED_FIELDS: &[&str] = &[
    "sha",
    "head_sha",
    "merge_commit_sha",
    "revision",
    "vcs_revision",
    "commit",
    "commit_sha",
    "target_commitish",
    "description",
    "text",
];

/// Finds the things `event` is about and mentions.
pub fn links_of(event: &Event, scanner: &Scanner) -> EventLinks {
    let repo = event
        .context
        .get("repository")
        .and_then(Value::as_str)
        .filter(|r| r.contains('/'));
    let mut about = BTreeSet::new();
    if let Some(url) = &event.url {
        scanner.scan(url, None, &mut about);
    }
    about.extend(own_things(event));
    let mut mentions = BTreeSet::new();
    scanner.scan(&event.title, repo, &mut mentions);
    scanner.scan(&event.body, repo, &mut mentions);
    for field in LINKED_FIELDS {
        if let Some(Value::String(text)) = event.metadata.get(*field) {
            scanner.scan(text, repo, &mut mentions);
        }
    }
    let mut things: Vec<(Thing, Role)> = about.iter().map(|t| (t.clone(), Role::About)).collect();
    things.extend(
        mentions
            .into_iter()
            .filter(|t| !about.contains(t))
            .map(|t| (t, Role::Mentions)),
    );
    things.sort();
    EventLinks { things }
}

/// What an event is, when its URL does not say: a commit is its SHA; a Slack message is its
/// channel and `ts` (from its context), and a reply also belongs to its thread.
fn own_things(event: &Event) -> Vec<Thing> {
    let mut own = Vec::new();
    if event.kind == "commit" && is_full_sha(&event.id) {
        own.push(format!("commit:{}", event.id.to_ascii_lowercase()));
    }
    // A Slack message (its source may not have stamped its type yet): channel and `ts`.
    let text = |key: &str| event.context.get(key).and_then(Value::as_str);
    if let (Some(channel), Some(ts)) = (text("channel"), text("ts")) {
        own.push(format!("slack:{channel}/{ts}"));
        if let Some(thread) = text("thread_ts") {
            own.push(format!("slack:{channel}/{thread}"));
        }
    }
    own
}

fn is_full_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(source_type: &str, kind: &str, id: &str) -> Event {
        let mut e = Event::new(id, kind, Utc::now(), "");
        e.source_type = source_type.into();
        e
    }

    fn link(thing: &str, role: Role) -> Link {
        Link {
            thing: thing.into(),
            role,
        }
    }

    #[test]
    fn the_session_is_the_best_ranked_work_item_its_own_first() {
        use Role::{About, Mentions};
        // A pull request about itself, mentioning an issue and a Jira key: the key.
        let pr = [
            link("gh:o/r#13", About),
            link("gh:o/r#12", Mentions),
            link("key:PROJ-7", Mentions),
        ];
        assert_eq!(session_of(&pr, &[]).as_deref(), Some("key:PROJ-7"));
        // Without the key: what it is about before what it mentions.
        assert_eq!(session_of(&pr[..2], &[]).as_deref(), Some("gh:o/r#13"));
        // Its own before one found through another event, at the same rank.
        let own = [link("gh:o/r#9", Mentions)];
        let through = [link("gh:o/r#1", About)];
        assert_eq!(session_of(&own, &through).as_deref(), Some("gh:o/r#9"));
        // A higher rank wins even through another event (a run's commit names a key).
        let run = [
            link("commit:3f9a0c1d2e4b", Mentions),
            link("gh:o/r#9", Mentions),
        ];
        let commit = [link("key:OPS-1", Mentions), link("key:ABC-2", Mentions)];
        assert_eq!(session_of(&run, &commit).as_deref(), Some("key:ABC-2"));
        // Only steps of work: no session.
        let only = [
            link("commit:3f9a0c1d2e4b", About),
            link("slack:C1/1.2", About),
        ];
        assert_eq!(session_of(&only, &[]), None);
    }

    #[test]
    fn an_event_is_about_its_url_and_own_id_and_mentions_what_its_text_names() {
        let sha = "3f9a0c1d2e4b5a6b7c8d9e0f1a2b3c4d5e6f7a8b";
        let mut commit = event("git", "commit", sha);
        commit.title = "Fix PROJ-7: crash on save (#12)".into();
        commit.body = "See https://acme.slack.com/archives/C1/p1700000000000100".into();
        commit
            .context
            .insert("repository".into(), "acme/app".into());
        let links = links_of(&commit, &Scanner::default());
        assert_eq!(
            links.things,
            [
                (format!("commit:{sha}"), Role::About),
                ("gh:acme/app#12".to_string(), Role::Mentions),
                ("key:PROJ-7".to_string(), Role::Mentions),
                ("slack:C1/1700000000.000100".to_string(), Role::Mentions),
            ]
        );
        let mut comment = event("github", "issue_comment", "comment:9");
        comment.url = Some("https://github.com/acme/app/pull/12#issuecomment-9".into());
        comment.body = "Same as acme/app#12 and PROJ-7".into();
        let links = links_of(&comment, &Scanner::default());
        assert_eq!(
            links.things,
            [
                ("gh:acme/app#12".to_string(), Role::About),
                ("key:PROJ-7".to_string(), Role::Mentions),
            ]
        );
        let mut reply = event("slack", "thread_reply", "C1:1700000001.000200");
        for (key, value) in [
            ("channel", "C1"),
            ("ts", "1700000001.000200"),
            ("thread_ts", "1700000000.000100"),
        ] {
            reply.context.insert(key.into(), value.into());
        }
        let things: Vec<String> = links_of(&reply, &Scanner::default())
            .things
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(
            things,
            ["slack:C1/1700000000.000100", "slack:C1/1700000001.000200"]
        );
    }
}
