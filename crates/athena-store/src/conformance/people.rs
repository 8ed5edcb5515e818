//! People (`athena_core::people`): each stored event's handles, joined into people as events
//! give evidence (a later join moves the earlier events too), configured people winning over
//! joins, events found by any of a person's handles or their id.

use athena_core::people::{Claim, Handle, Join, PersonConfig, PersonRole};
use athena_core::{Batch, Event, EventQuery, Store};

use super::support::{batch, event, source};
use super::Fixture;

/// A batch of `events`, each with its claims.
fn with_people(events: Vec<(Event, Vec<Claim>)>, next: u64) -> Batch {
    let (events, claims): (Vec<Event>, Vec<Vec<Claim>>) = events.into_iter().unzip();
    let mut b = batch(events, next);
    b.find_links(&athena_core::links::Linker::default(), "test");
    b.people = claims;
    b
}

fn claim(handle: &str, joins: &[&str]) -> Claim {
    let mut c = Claim::new(Handle::parse(handle).unwrap(), PersonRole::Actor);
    c.joins = joins
        .iter()
        .map(|j| (Handle::parse(j).unwrap(), Join::COMMIT_EMAIL))
        .collect();
    c
}

/// The ids of the events naming `who`, oldest first.
fn of<S: Store>(store: &S, who: &str) -> Vec<String> {
    let q = EventQuery {
        person: Some(who.into()),
        ..EventQuery::default()
    };
    let mut ids: Vec<String> = store
        .query_events(&q)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

/// Ada's login and her email are two people until a commit joins them; then every event of
/// either, earlier ones too, is hers by either handle or her person id.
pub fn a_later_join_makes_two_handles_one_person_for_earlier_events_too<F: Fixture>(f: &F) {
    let mut store = f.open();
    let gh = source("gh");
    store
        .commit_batch(
            &gh,
            &with_people(
                vec![
                    (event("1", 1, "a", "x"), vec![claim("github:ada-l", &[])]),
                    (event("2", 2, "b", "x"), vec![claim("ada@corp.com", &[])]),
                    (event("3", 3, "c", "x"), vec![claim("bob@corp.com", &[])]),
                ],
                1,
            ),
        )
        .unwrap();
    assert_eq!(of(&store, "github:ada-l"), ["1"]);
    assert_eq!(of(&store, "ADA@corp.com"), ["2"]);
    store
        .commit_batch(
            &gh,
            &with_people(
                vec![(
                    event("4", 4, "d", "x"),
                    vec![claim("github:ada-l", &["ada@corp.com"])],
                )],
                2,
            ),
        )
        .unwrap();
    assert_eq!(of(&store, "github:ada-l"), ["1", "2", "4"]);
    assert_eq!(of(&store, "ada@corp.com"), ["1", "2", "4"]);
    let people = store.people().unwrap();
    let ada = people
        .iter()
        .find(|p| p.handles.contains(&Handle::github("ada-l")))
        .unwrap();
    assert_eq!(
        ada.handles,
        [Handle::email("ada@corp.com"), Handle::github("ada-l")]
    );
    assert_eq!(of(&store, &ada.id), ["1", "2", "4"]);
    assert_eq!(of(&store, "bob@corp.com"), ["3"]);
    assert!(of(&store, "nobody@corp.com").is_empty());
    // Stored again: nothing changes.
    store
        .commit_batch(
            &gh,
            &with_people(
                vec![(
                    event("4", 4, "d", "x"),
                    vec![claim("github:ada-l", &["ada@corp.com"])],
                )],
                3,
            ),
        )
        .unwrap();
    assert_eq!(of(&store, "ada@corp.com"), ["1", "2", "4"]);
}

/// `[[people]]` wins: two configured people are never joined by data, a configured handle
/// keeps its person, and configuring after the data regroups what is stored.
pub fn configured_people_win_over_what_the_data_joins<F: Fixture>(f: &F) {
    let mut store = f.open();
    let gh = source("gh");
    store
        .commit_batch(
            &gh,
            &with_people(
                vec![
                    (
                        event("1", 1, "a", "x"),
                        vec![claim("github:ada-l", &["ada@corp.com"])],
                    ),
                    (event("2", 2, "b", "x"), vec![claim("ada@home.org", &[])]),
                    (event("3", 3, "c", "x"), vec![claim("bob@corp.com", &[])]),
                ],
                1,
            ),
        )
        .unwrap();
    assert_eq!(of(&store, "ada@corp.com"), ["1"]);
    store
        .set_people(&[
            PersonConfig {
                name: "Ada".into(),
                emails: vec!["ada@corp.com".into(), "ada@home.org".into()],
                handles: vec!["slack:U1".into()],
            },
            PersonConfig {
                name: "Bob".into(),
                emails: vec!["bob@corp.com".into()],
                ..PersonConfig::default()
            },
        ])
        .unwrap();
    assert_eq!(of(&store, "person:Ada"), ["1", "2"]);
    assert_eq!(of(&store, "slack:U1"), ["1", "2"]);
    assert_eq!(
        of(&store, "Ada"),
        ["1", "2"],
        "a configured person by name alone"
    );
    // A commit by Bob's address with Ada's login: the data would make them one; the config
    // keeps them two.
    store
        .commit_batch(
            &gh,
            &with_people(
                vec![(
                    event("4", 4, "d", "x"),
                    vec![claim("bob@corp.com", &["github:ada-l"])],
                )],
                2,
            ),
        )
        .unwrap();
    assert_eq!(of(&store, "person:Bob"), ["3", "4"]);
    assert_eq!(of(&store, "person:Ada"), ["1", "2"]);
    let people = store.people().unwrap();
    let ada = people.iter().find(|p| p.id == "person:Ada").unwrap();
    assert_eq!(ada.name.as_deref(), Some("Ada"));
    assert_eq!(
        ada.handles,
        [
            Handle::email("ada@corp.com"),
            Handle::email("ada@home.org"),
            Handle::github("ada-l"),
            Handle::slack("U1")
        ]
    );
    // A handle in two configured people is refused, naming it.
    let twice = [
        PersonConfig {
            name: "A".into(),
            emails: vec!["x@corp.com".into()],
            ..PersonConfig::default()
        },
        PersonConfig {
            name: "B".into(),
            emails: vec!["x@corp.com".into()],
            ..PersonConfig::default()
        },
    ];
    let err = store.set_people(&twice).unwrap_err().to_string();
    assert!(err.contains("email:x@corp.com"), "{err}");
}
