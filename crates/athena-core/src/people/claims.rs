//! What an event says about people: who did it and who it names, each as a [`Handle`], and
//! which handles it says are the same person (a GitHub commit's login and its author email).
//! Read from the fields the sources already store, per source type.

use serde_json::{Map, Value};

use super::{Claim, Handle, Join, PersonRole};
use crate::event::Event;

/// The people `event` (of a source of `source_type`) names.
pub fn claims_of(source_type: &str, event: &Event) -> Vec<Claim> {
    let mut claims = Vec::new();
    match source_type {
        "git" => {
            for (field, role) in [
                ("author", PersonRole::Actor),
                ("committer", PersonRole::Named),
            ] {
                if let Some(c) = signature(event.metadata.get(field), role) {
                    claims.push(c);
                }
            }
        }
        "github" => github(event, &mut claims),
        "slack" => {
            if let Some(user) = text(&event.context, "user_id") {
                let mut c = Claim::new(Handle::slack(user), PersonRole::Actor);
                c.name = event.actor.clone();
                claims.push(c);
            }
        }
        "gmail" => {
            for (field, role) in [
                ("from", PersonRole::Actor),
                ("to", PersonRole::Named),
                ("cc", PersonRole::Named),
            ] {
                for (name, email) in addresses(text(&event.context, field).unwrap_or("")) {
                    let mut c = Claim::new(Handle::email(&email), role);
                    c.name = name;
                    claims.push(c);
                }
            }
        }
        "google_calendar" => {
            if let Some(organizer) = text(&event.context, "organizer") {
                claims.push(Claim::new(Handle::email(organizer), PersonRole::Actor));
            }
            let attendees = event.context.get("attendees").and_then(Value::as_array);
            for email in attendees.into_iter().flatten().filter_map(Value::as_str) {
                claims.push(Claim::new(Handle::email(email), PersonRole::Named));
            }
        }
        "circleci" => {
            // A pipeline of a GitHub project is triggered by a GitHub login.
            let github = text(&event.context, "project_slug").is_some_and(|s| s.starts_with("gh/"));
            if let (true, Some(login)) = (github, &event.actor) {
                claims.push(Claim::new(Handle::github(login), PersonRole::Actor));
            }
        }
        _ => {}
    }
    dedup(claims)
}

/// GitHub: the actor's login; a commit's author and committer, their login and email joined
/// (the email is what the committer typed, so the join is marked as user-controlled).
fn github(event: &Event, claims: &mut Vec<Claim>) {
    if event.kind == "commit" {
        for (field, role) in [
            ("author", PersonRole::Actor),
            ("committer", PersonRole::Named),
        ] {
            let Some(sig) = event.metadata.get(field).and_then(Value::as_object) else {
                continue;
            };
            let login = text(sig, "login").map(Handle::github);
            let email = text(sig, "email").map(Handle::email);
            let name = text(sig, "name").map(str::to_string);
            match (login, email) {
                (Some(login), Some(email)) => {
                    let mut c = Claim::new(login, role);
                    c.name = name;
                    if email != c.handle {
                        c.joins.push((email, Join::COMMIT_EMAIL));
                    }
                    claims.push(c);
                }
                (Some(handle), None) | (None, Some(handle)) => {
                    let mut c = Claim::new(handle, role);
                    c.name = name;
                    claims.push(c);
                }
                (None, None) => {}
            }
        }
        return;
    }
    if let Some(login) = &event.actor {
        claims.push(Claim::new(Handle::github(login), PersonRole::Actor));
    }
}

/// A git signature (`{"name", "email"}`) as a claim on its email.
fn signature(value: Option<&Value>, role: PersonRole) -> Option<Claim> {
    let sig = value?.as_object()?;
    let email = text(sig, "email").filter(|e| e.contains('@'))?;
    let mut c = Claim::new(Handle::email(email), role);
    c.name = text(sig, "name").map(str::to_string);
    Some(c)
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The addresses of a mail header: `Ada <ada@corp.com>, bob@corp.com` → (name, email) pairs.
fn addresses(header: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let bytes = header.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                out.extend(address(&header[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.extend(address(&header[start..]));
    out
}

fn address(part: &str) -> Option<(Option<String>, String)> {
    let part = part.trim();
    let (name, email) = match (part.rfind('<'), part.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = part[..open].trim().trim_matches('"').trim();
            (
                Some(name).filter(|n| !n.is_empty()).map(str::to_string),
                &part[open + 1..close],
            )
        }
        _ => (None, part),
    };
    let email = email.trim();
    email.contains('@').then(|| (name, email.to_string()))
}

/// One claim per handle: the actor's over a named one's, joins and names merged.
fn dedup(claims: Vec<Claim>) -> Vec<Claim> {
    let mut out: Vec<Claim> = Vec::with_capacity(claims.len());
    for c in claims {
        match out.iter_mut().find(|o| o.handle == c.handle) {
            Some(o) => {
                o.role = o.role.min(c.role);
                if o.name.is_none() {
                    o.name = c.name;
                }
                for j in c.joins {
                    if !o.joins.contains(&j) {
                        o.joins.push(j);
                    }
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn event(kind: &str, actor: Option<&str>, context: Value, metadata: Value) -> Event {
        let mut e = Event::new("x", kind, Utc::now(), "t");
        e.actor = actor.map(str::to_string);
        e.context = context.as_object().unwrap().clone();
        e.metadata = metadata.as_object().unwrap().clone();
        e
    }

    fn handles(claims: &[Claim]) -> Vec<(String, PersonRole)> {
        claims
            .iter()
            .map(|c| (c.handle.0.clone(), c.role))
            .collect()
    }

    #[test]
    fn each_source_names_its_people_by_the_handles_it_knows() {
        let git = event(
            "commit",
            Some("Ada"),
            json!({}),
            json!({"author": {"name": "Ada", "email": "Ada@Corp.com"},
                   "committer": {"name": "GitHub", "email": "noreply@github.com"}}),
        );
        let claims = claims_of("git", &git);
        assert_eq!(
            handles(&claims),
            [
                ("email:ada@corp.com".to_string(), PersonRole::Actor),
                ("email:noreply@github.com".to_string(), PersonRole::Named)
            ]
        );
        assert_eq!(claims[0].name.as_deref(), Some("Ada"));

        let commit = event(
            "commit",
            Some("ada-l"),
            json!({}),
            json!({"author": {"name": "Ada", "email": "ada@corp.com", "login": "Ada-L"},
                   "committer": {"email": "123+ada-l@users.noreply.github.com", "login": "ada-l"}}),
        );
        let claims = claims_of("github", &commit);
        assert_eq!(
            handles(&claims),
            [("github:ada-l".to_string(), PersonRole::Actor)]
        );
        assert_eq!(
            claims[0].joins,
            [(Handle::email("ada@corp.com"), Join::COMMIT_EMAIL)],
            "the noreply address is the login itself, not a join"
        );

        let mail = event(
            "email_received",
            Some("Ada <ada@corp.com>"),
            json!({"from": "\"Lovelace, Ada\" <ada@corp.com>", "to": "bob@corp.com, Cy <cy@corp.com>"}),
            json!({}),
        );
        let claims = claims_of("gmail", &mail);
        assert_eq!(
            handles(&claims),
            [
                ("email:ada@corp.com".to_string(), PersonRole::Actor),
                ("email:bob@corp.com".to_string(), PersonRole::Named),
                ("email:cy@corp.com".to_string(), PersonRole::Named)
            ]
        );
        assert_eq!(claims[0].name.as_deref(), Some("Lovelace, Ada"));

        let message = event(
            "message",
            Some("Ada"),
            json!({"user_id": "U024BE7LH"}),
            json!({}),
        );
        assert_eq!(
            handles(&claims_of("slack", &message)),
            [("slack:U024BE7LH".to_string(), PersonRole::Actor)]
        );
        let meeting = event(
            "meeting_held",
            None,
            json!({"organizer": "ada@corp.com", "attendees": ["ada@corp.com", "bob@corp.com"]}),
            json!({}),
        );
        assert_eq!(
            handles(&claims_of("google_calendar", &meeting)),
            [
                ("email:ada@corp.com".to_string(), PersonRole::Actor),
                ("email:bob@corp.com".to_string(), PersonRole::Named)
            ]
        );
        let web = event("http_request", Some("10.0.0.1"), json!({}), json!({}));
        assert!(
            claims_of("api_log", &web).is_empty(),
            "an address is no person"
        );
    }
}
