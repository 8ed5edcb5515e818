//! Links between events (`athena_core::links`): stored with the events, read as an event's
//! related events through the things both are about or mention, commits by their short SHAs
//! too, and derived again by `relink`.

use athena_core::links::{Link, Linker, Role, ScanConfig, Scanner};
use athena_core::{Batch, Event, Store};

use super::support::{batch, event, source};
use super::Fixture;

const SHA: &str = "3f9a0c1d2e4b5a6b7c8d9e0f1a2b3c4d5e6f7a8b";

fn linked(events: Vec<Event>, next: u64) -> Batch {
    let mut b = batch(events, next);
    b.find_links(&Linker::default(), "test");
    b
}

fn with(mut e: Event, kind: &str, url: Option<&str>, body: &str) -> Event {
    e.kind = kind.into();
    e.url = url.map(str::to_string);
    e.body = body.into();
    e
}

/// The related events of `id` of `source_id`: (source, id) of each, newest first.
fn related<S: Store>(store: &S, source_id: &str, id: &str) -> Vec<(String, String)> {
    let found = store
        .related(source_id, id, 50)
        .unwrap()
        .expect("the event is stored");
    found
        .related
        .iter()
        .map(|r| (r.event.source_id.clone(), r.event.id.clone()))
        .collect()
}

fn pair(source: &str, id: &str) -> (String, String) {
    (source.to_string(), id.to_string())
}

/// A commit naming `PROJ-7`, the Jira issue and its comment, a Slack message with a pull
/// request's URL stored before the pull request, a CI build naming the commit by a short SHA:
/// each finds the others it shares a thing with, and nothing else.
pub fn events_are_related_through_the_things_they_are_about_and_mention<F: Fixture>(f: &F) {
    let mut store = f.open();
    let slack = with(
        event("C1:1700000000.000100", 1, "#dev: review", "ada"),
        "message",
        None,
        "review please https://github.com/acme/app/pull/12",
    );
    store
        .commit_batch(&source("slack"), &linked(vec![slack], 1))
        .unwrap();
    let commit = with(
        event(SHA, 2, "Fix PROJ-7: crash on save", "ada"),
        "commit",
        None,
        "",
    );
    store
        .commit_batch(&source("repo"), &linked(vec![commit.clone()], 1))
        .unwrap();
    // Stored again: still one link of each.
    store
        .commit_batch(&source("repo"), &linked(vec![commit], 2))
        .unwrap();
    let issue = with(
        event("issue:1:created", 3, "PROJ-7 crash on save", "bob"),
        "issue_created",
        Some("https://acme.atlassian.net/browse/PROJ-7"),
        "",
    );
    let comment = with(
        event("comment:5", 4, "comment on PROJ-7", "ada"),
        "issue_comment",
        Some("https://acme.atlassian.net/browse/PROJ-7?focusedCommentId=5"),
        "fixed",
    );
    store
        .commit_batch(&source("jira"), &linked(vec![issue, comment], 1))
        .unwrap();
    let pr = with(
        event("acme/app#12:opened", 5, "Fix crash", "ada"),
        "pull_request_opened",
        Some("https://github.com/acme/app/pull/12"),
        "",
    );
    store
        .commit_batch(&source("gh"), &linked(vec![pr], 1))
        .unwrap();
    let build = with(
        event("build:9", 6, "build passed", "ci"),
        "build",
        None,
        "built 3f9a0c1",
    );
    let other = with(event("x", 7, "unrelated PROJ-8", "x"), "note", None, "");
    store
        .commit_batch(&source("ci"), &linked(vec![build, other], 1))
        .unwrap();

    assert_eq!(
        related(&store, "jira", "issue:1:created"),
        [pair("jira", "comment:5"), pair("repo", SHA)]
    );
    assert_eq!(
        related(&store, "repo", SHA),
        [
            pair("ci", "build:9"),
            pair("jira", "comment:5"),
            pair("jira", "issue:1:created")
        ]
    );
    assert_eq!(related(&store, "ci", "build:9"), [pair("repo", SHA)]);
    assert_eq!(
        related(&store, "gh", "acme/app#12:opened"),
        [pair("slack", "C1:1700000000.000100")]
    );
    let found = store.related("repo", SHA, 50).unwrap().unwrap();
    assert_eq!(
        found.things,
        [
            Link {
                thing: format!("commit:{SHA}"),
                role: Role::About
            },
            Link {
                thing: "key:PROJ-7".into(),
                role: Role::Mentions
            },
        ]
    );
    let build = found
        .related
        .iter()
        .find(|r| r.event.id == "build:9")
        .unwrap();
    assert_eq!(
        build.via,
        [Link {
            thing: "commit:3f9a0c1".into(),
            role: Role::Mentions
        }]
    );
    let issue = found
        .related
        .iter()
        .find(|r| r.event.id == "issue:1:created")
        .unwrap();
    assert_eq!(
        issue.via,
        [Link {
            thing: "key:PROJ-7".into(),
            role: Role::About
        }]
    );
    assert_eq!(related(&store, "ci", "x"), Vec::<(String, String)>::new());
    assert!(store.related("repo", "nope", 50).unwrap().is_none());
    // The limit keeps the newest.
    let two = store.related("repo", SHA, 2).unwrap().unwrap();
    let ids: Vec<&str> = two.related.iter().map(|r| r.event.id.as_str()).collect();
    assert_eq!(ids, ["build:9", "comment:5"]);
}

/// Events stored without links get them from `relink`, and a scanner told other project keys
/// replaces them.
pub fn relink_finds_every_events_things_again<F: Fixture>(f: &F) {
    let mut store = f.open();
    let commit = with(event(SHA, 1, "Fix PROJ-7", "ada"), "commit", None, "");
    let issue = with(
        event("issue:1", 2, "crash", "bob"),
        "issue_created",
        Some("https://acme.atlassian.net/browse/PROJ-7"),
        "",
    );
    store
        .commit_batch(&source("repo"), &batch(vec![commit], 1))
        .unwrap();
    store
        .commit_batch(&source("jira"), &batch(vec![issue], 1))
        .unwrap();
    assert!(
        related(&store, "jira", "issue:1").is_empty(),
        "stored unlinked"
    );
    assert_eq!(store.relink(&Linker::default()).unwrap(), 2);
    assert_eq!(related(&store, "jira", "issue:1"), [pair("repo", SHA)]);
    let only_other = Scanner::new(ScanConfig {
        project_keys: ["OTHER".to_string()].into(),
        ..ScanConfig::default()
    });
    assert_eq!(store.relink(&Linker::new(only_other)).unwrap(), 2);
    assert!(related(&store, "jira", "issue:1").is_empty());
    // A type naming people by the actor gets them read back from what is stored.
    let build: athena_core::BuildFn = std::sync::Arc::new(|c| Err(c.error(None, "unused")));
    let mut registry = athena_core::Registry::new();
    let test = athena_core::SourceType::new("test", "test", vec![], build);
    registry.register(test.with_people(actor_people)).unwrap();
    let linker = Linker::default().with_people_of(&registry);
    assert_eq!(store.relink(&linker).unwrap(), 2);
    let mut handles: Vec<String> = (store.people().unwrap().into_iter())
        .flat_map(|p| p.handles)
        .map(|h| h.0)
        .collect();
    handles.sort();
    assert_eq!(handles, ["github:ada", "github:bob"]);
}

/// The people a test event names: its actor, as a GitHub login.
fn actor_people(e: &Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, PersonRole};
    (e.actor.iter())
        .map(|a| Claim::new(Handle::github(a), PersonRole::Actor))
        .collect()
}

/// Linked events share their work item as a session: a Jira issue, the commit and the pull
/// request naming it, a Slack message with the pull request's URL (through the pull request)
/// and a build naming the commit by a short SHA (through the commit); an event linked to no
/// work item has none, through the store and through recall alike.
pub fn linked_events_share_the_work_item_they_name_as_a_session<F: Fixture>(f: &F) {
    use athena_core::recall::{QueryBudget, Recall};
    let mut store = f.open();
    let slack = with(
        event("C1:1700000000.000100", 1, "#dev: review", "ada"),
        "message",
        None,
        "review please https://github.com/acme/app/pull/12",
    );
    let pr = with(
        event("acme/app#12:opened", 2, "Fix crash", "ada"),
        "pull_request_opened",
        Some("https://github.com/acme/app/pull/12"),
        "Fixes PROJ-7, see also acme/app#3",
    );
    let commit = with(
        event(SHA, 3, "Fix PROJ-7: crash on save", "ada"),
        "commit",
        None,
        "",
    );
    let issue = with(
        event("issue:1:created", 4, "crash on save", "bob"),
        "issue_created",
        Some("https://acme.atlassian.net/browse/PROJ-7"),
        "",
    );
    let build = with(
        event("build:9", 5, "build passed", "ci"),
        "build",
        None,
        "built 3f9a0c1",
    );
    let issue3 = with(
        event("acme/app#3:opened", 6, "Docs", "cy"),
        "issue_opened",
        Some("https://github.com/acme/app/issues/3"),
        "see acme/app#4",
    );
    let alone = with(event("note:1", 7, "lunch", "dee"), "note", None, "");
    let other_commit = with(
        event("0123456789abcdef0123456789abcdef01234567", 8, "tidy", "dee"),
        "commit",
        None,
        "",
    );
    let all = vec![slack, pr, commit, issue, build, issue3, alone, other_commit];
    store
        .commit_batch(&source("mixed"), &linked(all.clone(), 1))
        .unwrap();
    // As read back: with their source.
    let mut asked = all;
    asked.push(event("never-stored", 9, "PROJ-7", "x"));
    for e in &mut asked {
        e.source_id = "mixed".into();
    }
    let expected = [
        Some("key:PROJ-7"),
        Some("key:PROJ-7"),
        Some("key:PROJ-7"),
        Some("key:PROJ-7"),
        Some("key:PROJ-7"),
        Some("gh:acme/app#3"),
        None,
        None,
        None,
    ];
    let got = store.sessions(&asked).unwrap();
    assert_eq!(
        got.iter().map(Option::as_deref).collect::<Vec<_>>(),
        expected
    );
    let recall = f.recall(&store);
    let got = recall.sessions(&asked, &QueryBudget::unlimited()).unwrap();
    assert_eq!(
        got.iter().map(Option::as_deref).collect::<Vec<_>>(),
        expected
    );
}
