//! The queries the source sends, the shapes of their answers, and the events an issue makes.
//!
//! Complexity (Linear counts 0.1 a property, 1 an object, and multiplies a connection's
//! children by its `first`): an issue with its team and creator is about 5 points, its
//! `history(first: 50)` about 50 × 8 = 400 (an entry and its five users and states, their
//! properties), its `comments(first: 50)` about 50 × 2.5 = 125; so about 520 an issue and
//! 7,800 for the default page of 15 issues, under Linear's 10,000 a query. The nested queries
//! (`IssueHistory`, `IssueComments`) cost about 400 and 125.

use athena_core::Event;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Items of a nested connection per query (Linear's default).
pub(crate) const NESTED_PAGE: usize = 50;

const FRAGMENTS: &str = "
fragment Entry on IssueHistory {
  id createdAt
  actor { id name displayName email }
  fromState { name type } toState { name type }
  fromAssignee { name displayName } toAssignee { name displayName }
}
fragment Note on Comment { id body createdAt url user { id name displayName email } }
";

/// The issues updated since `$filter`'s `updatedAt`, one page.
pub(crate) fn issues_query() -> String {
    format!(
        "query Issues($filter: IssueFilter, $first: Int!, $after: String) {{
  issues(filter: $filter, orderBy: updatedAt, first: $first, after: $after, includeArchived: true) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id identifier title url createdAt updatedAt
      team {{ key }}
      creator {{ id name displayName email }}
      history(first: {NESTED_PAGE}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...Entry }} }}
      comments(first: {NESTED_PAGE}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...Note }} }}
    }}
  }}
}}
{FRAGMENTS}"
    )
}

/// The rest of one issue's history, after `$after`.
pub(crate) fn history_query() -> String {
    format!(
        "query IssueHistory($id: String!, $after: String) {{
  issue(id: $id) {{
    history(first: {NESTED_PAGE}, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...Entry }} }}
  }}
}}
{FRAGMENTS}"
    )
}

/// The rest of one issue's comments, after `$after`.
pub(crate) fn comments_query() -> String {
    format!(
        "query IssueComments($id: String!, $after: String) {{
  issue(id: $id) {{
    comments(first: {NESTED_PAGE}, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...Note }} }}
  }}
}}
{FRAGMENTS}"
    )
}

/// The filter of the issues query: updated at or after `since`, of these teams.
pub(crate) fn filter(since: Option<&str>, teams: &[String]) -> Value {
    let mut f = Map::new();
    if let Some(since) = since {
        f.insert("updatedAt".into(), json!({ "gte": since }));
    }
    if !teams.is_empty() {
        f.insert("team".into(), json!({ "key": { "in": teams } }));
    }
    Value::Object(f)
}

/// `data` of the issues query.
#[derive(Debug, Deserialize)]
pub(crate) struct IssuesData {
    pub issues: Connection<Issue>,
}

/// `data` of a nested query.
#[derive(Debug, Deserialize)]
pub(crate) struct IssueData<T> {
    pub issue: Option<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HistoryOnly {
    pub history: Connection<Entry>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommentsOnly {
    pub comments: Connection<Note>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection<T> {
    pub page_info: PageInfo,
    #[serde(default = "Vec::new")]
    pub nodes: Vec<T>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Issue {
    pub id: String,
    pub identifier: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub team: Option<Team>,
    #[serde(default)]
    pub creator: Option<User>,
    pub history: Connection<Entry>,
    pub comments: Connection<Note>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Team {
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

impl User {
    /// The name people know: the display name, else the full name.
    fn shown(&self) -> Option<String> {
        self.display_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.name.clone())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    pub name: String,
    /// `triage`, `backlog`, `unstarted`, `started`, `completed`, `canceled`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// An issue history entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    pub id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub actor: Option<User>,
    #[serde(default)]
    pub from_state: Option<State>,
    #[serde(default)]
    pub to_state: Option<State>,
    #[serde(default)]
    pub from_assignee: Option<User>,
    #[serde(default)]
    pub to_assignee: Option<User>,
}

/// A comment.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Note {
    pub id: String,
    #[serde(default)]
    pub body: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
}

/// Where an issue's events happen.
struct Place<'a> {
    issue: &'a Issue,
}

impl Place<'_> {
    fn event(
        &self,
        id: String,
        kind: &str,
        at: DateTime<Utc>,
        actor: Option<&User>,
        title: String,
    ) -> Event {
        let issue = self.issue;
        let mut e = Event::new(id, kind, at, title);
        e.actor = actor.and_then(User::shown);
        if let Some(id) = actor.and_then(|a| a.id.as_deref()) {
            let email = actor.and_then(|a| a.email.as_deref());
            e.metadata
                .insert("actor_account".into(), json!({"id": id, "email": email}));
        }
        e.url = issue.url.clone();
        if let Some(team) = &issue.team {
            e.context.insert("team".into(), json!(team.key));
        }
        e.context.insert("issue".into(), json!(issue.identifier));
        if let Some(url) = &issue.url {
            e.context.insert("url".into(), json!(url));
        }
        e.metadata.insert("issue_id".into(), json!(issue.id));
        e.metadata.insert("issue_title".into(), json!(issue.title));
        e
    }
}

/// The issue's own event: created.
pub(crate) fn created(issue: &Issue) -> Event {
    let place = Place { issue };
    place.event(
        format!("{}:created", issue.id),
        "issue_created",
        issue.created_at,
        issue.creator.as_ref(),
        format!("{} created: {}", issue.identifier, issue.title),
    )
}

/// A history entry's events: a state change (`issue_completed` and `issue_canceled` for the
/// states of those types, else `issue_state_changed`) and an assignment, either or both; other
/// changes (labels, priority, …) make none.
pub(crate) fn history(issue: &Issue, entry: &Entry) -> Vec<Event> {
    let place = Place { issue };
    let mut out = Vec::new();
    let actor = entry.actor.as_ref();
    if let Some(to) = &entry.to_state {
        let kind = match to.kind.as_str() {
            "completed" => "issue_completed",
            "canceled" => "issue_canceled",
            _ => "issue_state_changed",
        };
        let from = entry.from_state.as_ref().map(|s| s.name.as_str());
        let title = match from {
            Some(from) => format!("{}: {from} → {}", issue.identifier, to.name),
            None => format!("{}: → {}", issue.identifier, to.name),
        };
        let mut e = place.event(
            format!("{}:state", entry.id),
            kind,
            entry.created_at,
            actor,
            title,
        );
        e.metadata.insert("history_id".into(), json!(entry.id));
        e.metadata.insert("from_state".into(), json!(from));
        e.metadata.insert("to_state".into(), json!(to.name));
        e.metadata.insert("to_state_type".into(), json!(to.kind));
        out.push(e);
    }
    if entry.to_assignee.is_some() || entry.from_assignee.is_some() {
        let to = entry.to_assignee.as_ref().and_then(User::shown);
        let from = entry.from_assignee.as_ref().and_then(User::shown);
        let title = match (&to, &from) {
            (Some(to), _) => format!("{} assigned to {to}", issue.identifier),
            (None, Some(from)) => format!("{} unassigned from {from}", issue.identifier),
            (None, None) => format!("{} assignee changed", issue.identifier),
        };
        let mut e = place.event(
            format!("{}:assignee", entry.id),
            "issue_assigned",
            entry.created_at,
            actor,
            title,
        );
        e.metadata.insert("history_id".into(), json!(entry.id));
        e.metadata.insert("from_assignee".into(), json!(from));
        e.metadata.insert("to_assignee".into(), json!(to));
        out.push(e);
    }
    out
}

/// A comment's event.
pub(crate) fn comment(issue: &Issue, note: &Note) -> Event {
    let place = Place { issue };
    let first_line = note.body.lines().next().unwrap_or("");
    let mut short: String = first_line.chars().take(80).collect();
    if short.len() < first_line.len() {
        short.push('…');
    }
    let mut e = place.event(
        format!("{}:comment", note.id),
        "issue_comment",
        note.created_at,
        note.user.as_ref(),
        format!("{} comment: {short}", issue.identifier),
    );
    e.body = note.body.clone();
    if note.url.is_some() {
        e.url = note.url.clone();
    }
    e.metadata.insert("comment_id".into(), json!(note.id));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue() -> Issue {
        serde_json::from_value(json!({
            "id": "iss-1", "identifier": "ENG-1", "title": "Fix it",
            "url": "https://linear.app/acme/issue/ENG-1", "createdAt": "2024-05-01T10:00:00.000Z",
            "updatedAt": "2024-05-02T10:00:00.000Z", "team": {"key": "ENG"},
            "creator": {"name": "Ann Lee", "displayName": "ann"},
            "history": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": []},
            "comments": {"pageInfo": {"hasNextPage": false}, "nodes": []}
        }))
        .unwrap()
    }

    fn entry(v: Value) -> Entry {
        let mut base = json!({"id": "h-1", "createdAt": "2024-05-01T11:00:00.000Z",
            "actor": {"name": "Bob Roe", "displayName": ""}});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn an_issue_is_created_by_its_creator_with_team_identifier_and_url() {
        let e = created(&issue());
        assert_eq!(
            (e.id.as_str(), e.kind.as_str()),
            ("iss-1:created", "issue_created")
        );
        assert_eq!(e.actor.as_deref(), Some("ann"));
        assert_eq!(e.context["team"], "ENG");
        assert_eq!(e.context["issue"], "ENG-1");
        assert_eq!(
            e.url.as_deref(),
            Some("https://linear.app/acme/issue/ENG-1")
        );
        assert_eq!(e.title, "ENG-1 created: Fix it");
    }

    #[test]
    fn a_state_change_is_named_by_the_type_of_the_state_it_goes_to() {
        let kinds = |ty: &str| {
            let h = entry(json!({"fromState": {"name": "Todo", "type": "unstarted"},
                "toState": {"name": "X", "type": ty}}));
            history(&issue(), &h)
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds("started"), ["issue_state_changed"]);
        assert_eq!(kinds("completed"), ["issue_completed"]);
        assert_eq!(kinds("canceled"), ["issue_canceled"]);
        let h = entry(json!({"fromState": {"name": "Todo", "type": "unstarted"},
            "toState": {"name": "Doing", "type": "started"}}));
        let e = &history(&issue(), &h)[0];
        assert_eq!(e.title, "ENG-1: Todo → Doing");
        assert_eq!(e.id, "h-1:state");
        assert_eq!(
            e.actor.as_deref(),
            Some("Bob Roe"),
            "an empty display name falls back"
        );
    }

    #[test]
    fn an_assignment_and_a_state_change_in_one_entry_are_two_events_and_a_label_change_none() {
        let h = entry(json!({"toState": {"name": "Doing", "type": "started"},
            "fromAssignee": {"name": "Ann"}, "toAssignee": {"name": "Cy"}}));
        let events = history(&issue(), &h);
        let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["h-1:state", "h-1:assignee"]);
        assert_eq!(events[1].title, "ENG-1 assigned to Cy");
        assert_eq!(events[1].metadata["from_assignee"], "Ann");
        let off = entry(json!({"fromAssignee": {"name": "Ann"}}));
        assert_eq!(
            history(&issue(), &off)[0].title,
            "ENG-1 unassigned from Ann"
        );
        assert!(history(&issue(), &entry(json!({}))).is_empty());
    }

    #[test]
    fn a_comment_keeps_its_text_and_its_own_url() {
        let note: Note = serde_json::from_value(json!({"id": "c-1", "body": "first\nsecond",
            "createdAt": "2024-05-01T12:00:00Z", "url": "https://linear.app/c-1",
            "user": {"name": "Dee"}}))
        .unwrap();
        let e = comment(&issue(), &note);
        assert_eq!(
            (e.id.as_str(), e.kind.as_str()),
            ("c-1:comment", "issue_comment")
        );
        assert_eq!(e.title, "ENG-1 comment: first");
        assert_eq!(e.body, "first\nsecond");
        assert_eq!(e.url.as_deref(), Some("https://linear.app/c-1"));
        assert_eq!(e.context["issue"], "ENG-1");
    }

    #[test]
    fn the_filter_names_the_mark_and_the_teams_only_when_set() {
        assert_eq!(filter(None, &[]), json!({}));
        let f = filter(Some("2024-05-01T00:00:00.000Z"), &["ENG".into()]);
        assert_eq!(
            f,
            json!({"updatedAt": {"gte": "2024-05-01T00:00:00.000Z"}, "team": {"key": {"in": ["ENG"]}}})
        );
        assert!(issues_query().contains("includeArchived: true"));
        assert!(history_query().contains("query IssueHistory"));
    }
}
