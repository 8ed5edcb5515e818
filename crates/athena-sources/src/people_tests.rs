//! The people each source type's events name, as its registration declares them.

use athena_core::people::{Claim, Handle, Join, PersonRole};
use athena_core::Event;
use chrono::Utc;
use serde_json::{json, Value};

fn claims(
    source_type: &str,
    kind: &str,
    actor: Option<&str>,
    context: Value,
    metadata: Value,
) -> Vec<Claim> {
    let mut e = Event::new("x", kind, Utc::now(), "t");
    e.actor = actor.map(str::to_string);
    e.context = context.as_object().unwrap().clone();
    e.metadata = metadata.as_object().unwrap().clone();
    let linker = athena_core::links::Linker::default().with_people_of(&crate::registry());
    linker.people(source_type, &e)
}

fn handles(claims: &[Claim]) -> Vec<(&str, PersonRole)> {
    claims
        .iter()
        .map(|c| (c.handle.0.as_str(), c.role))
        .collect()
}

#[test]
fn each_source_names_its_people_by_the_handles_it_knows() {
    let git = claims(
        "git",
        "commit",
        Some("Ada"),
        json!({}),
        json!({"author": {"name": "Ada", "email": "Ada@Corp.com"},
               "committer": {"name": "GitHub", "email": "noreply@github.com"}}),
    );
    assert_eq!(
        handles(&git),
        [
            ("email:ada@corp.com", PersonRole::Actor),
            ("email:noreply@github.com", PersonRole::Named)
        ]
    );
    assert_eq!(git[0].name.as_deref(), Some("Ada"));

    let commit = claims(
        "github",
        "commit",
        Some("ada-l"),
        json!({}),
        json!({"author": {"name": "Ada", "email": "ada@corp.com", "login": "Ada-L"},
               "committer": {"email": "123+ada-l@users.noreply.github.com", "login": "ada-l"}}),
    );
    assert_eq!(handles(&commit), [("github:ada-l", PersonRole::Actor)]);
    assert_eq!(
        commit[0].joins,
        [(Handle::email("ada@corp.com"), Join::COMMIT_EMAIL)],
        "the noreply address is the login itself, not a join"
    );
    let issue = claims(
        "github",
        "issue_opened",
        Some("Ada-L"),
        json!({}),
        json!({}),
    );
    assert_eq!(handles(&issue), [("github:ada-l", PersonRole::Actor)]);

    let mail = claims(
        "gmail",
        "email_received",
        Some("Ada <ada@corp.com>"),
        json!({"from": "\"Lovelace, Ada\" <ada@corp.com>", "to": "bob@corp.com, Cy <cy@corp.com>"}),
        json!({}),
    );
    assert_eq!(
        handles(&mail),
        [
            ("email:ada@corp.com", PersonRole::Actor),
            ("email:bob@corp.com", PersonRole::Named),
            ("email:cy@corp.com", PersonRole::Named)
        ]
    );
    assert_eq!(mail[0].name.as_deref(), Some("Lovelace, Ada"));

    let message = claims(
        "slack",
        "message",
        Some("Ada"),
        json!({"user_id": "U024BE7LH"}),
        json!({}),
    );
    assert_eq!(handles(&message), [("slack:U024BE7LH", PersonRole::Actor)]);
    assert_eq!(message[0].name.as_deref(), Some("Ada"));
    let meeting = claims(
        "google_calendar",
        "meeting_held",
        None,
        json!({"organizer": "ada@corp.com", "attendees": ["ada@corp.com", "bob@corp.com"]}),
        json!({}),
    );
    assert_eq!(
        handles(&meeting),
        [
            ("email:ada@corp.com", PersonRole::Actor),
            ("email:bob@corp.com", PersonRole::Named)
        ],
        "the organizer attending is named once"
    );
    let pipeline = claims(
        "circleci",
        "pipeline_created",
        Some("ada-l"),
        json!({"project_slug": "gh/o/r"}),
        json!({}),
    );
    assert_eq!(handles(&pipeline), [("github:ada-l", PersonRole::Actor)]);
    let web = claims(
        "api_log",
        "http_request",
        Some("10.0.0.1"),
        json!({}),
        json!({}),
    );
    assert!(web.is_empty(), "an address is no person");
}
