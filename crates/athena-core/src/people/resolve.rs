//! Handles into people: every handle starts as a person of its own; a join merges two people;
//! `[[people]]` tables pin handles to a configured person, and a join never moves a pinned
//! handle to another configured person (it is refused and kept for `people` to show).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::{Handle, Join};

/// A `[[people]]` table: one person, with the handles that are theirs whatever the data says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// The name shown.
    pub name: String,
    /// Their email addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Their handles elsewhere: `github:ada-l`, `slack:U024BE7LH`, `jira:ACCOUNT_ID`.
    #[serde(default)]
    pub handles: Vec<String>,
}

impl PersonConfig {
    /// Every handle of the entry; text that is no handle is named in the error.
    pub fn all_handles(&self) -> Result<Vec<Handle>, String> {
        let mut out: Vec<Handle> = self.emails.iter().map(|e| Handle::email(e)).collect();
        for text in &self.handles {
            out.push(Handle::parse(text).ok_or_else(|| {
                format!("{text:?} is not a handle (write KIND:ID, like github:ada-l, or an email)")
            })?);
        }
        Ok(out)
    }
}

/// The configured people out of (name, handle) rows sorted by name.
pub fn configured_from_rows(rows: impl IntoIterator<Item = (String, String)>) -> Vec<PersonConfig> {
    let mut out: Vec<PersonConfig> = Vec::new();
    for (name, handle) in rows {
        match out.last_mut() {
            Some(p) if p.name == name => p.handles.push(handle),
            _ => out.push(PersonConfig {
                name,
                handles: vec![handle],
                ..PersonConfig::default()
            }),
        }
    }
    out
}

/// People out of a store's (person id, handle, name shown, configured name) rows sorted by
/// person: a configured person is named by the config, another by a name shown with one of
/// their handles.
pub fn people_from_rows(
    rows: impl IntoIterator<Item = (String, String, Option<String>, Option<String>)>,
) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    for (person, handle, shown, configured) in rows {
        let name = configured.or(shown);
        match out.last_mut() {
            Some(p) if p.id == person => {
                p.handles.push(Handle(handle));
                if p.name.is_none() {
                    p.name = name;
                }
            }
            _ => out.push(Person {
                name: person.strip_prefix("person:").map(str::to_string).or(name),
                id: person,
                handles: vec![Handle(handle)],
            }),
        }
    }
    out
}

/// A person: an id, a name, and their handles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    /// `person:<name>` for a configured person, else the person's first handle.
    pub id: String,
    /// The configured name, else a name a source showed with one of the handles.
    pub name: Option<String>,
    /// The handles, sorted.
    pub handles: Vec<Handle>,
}

/// Handles grouped into people (a union-find with configured people pinned).
#[derive(Debug, Default)]
pub struct Resolver {
    parent: HashMap<Handle, Handle>,
    /// A root's configured person (index into `config`).
    pin: HashMap<Handle, usize>,
    config: Vec<String>,
    names: HashMap<Handle, String>,
    /// Joins refused: they would have made two configured people one.
    pub refused: Vec<(Handle, Handle, &'static str)>,
}

impl Resolver {
    /// A resolver knowing the configured people.
    pub fn new(config: &[PersonConfig]) -> Result<Resolver, String> {
        let mut r = Resolver::default();
        for (i, person) in config.iter().enumerate() {
            r.config.push(person.name.clone());
            let handles = person.all_handles()?;
            for h in &handles {
                let root = r.root(h);
                match r.pin.get(&root) {
                    Some(&other) if other != i => {
                        return Err(format!(
                            "{h} is in [[people]] {:?} and {:?}",
                            config[other].name, person.name
                        ))
                    }
                    _ => {}
                }
                r.pin.insert(root, i);
            }
            for pair in handles.windows(2) {
                r.union(&pair[0], &pair[1]);
            }
        }
        Ok(r)
    }

    /// Notes `handle`, with the name a source showed with it.
    pub fn add(&mut self, handle: &Handle, name: Option<&str>) {
        self.root(handle);
        if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
            self.names
                .entry(handle.clone())
                .or_insert_with(|| name.to_string());
        }
    }

    /// Joins the people of `a` and `b`; false (and kept in [`Resolver::refused`]) when they
    /// are two configured people.
    pub fn join(&mut self, a: &Handle, b: &Handle, how: Join) -> bool {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return true;
        }
        match (self.pin.get(&ra), self.pin.get(&rb)) {
            (Some(x), Some(y)) if x != y => {
                self.refused.push((a.clone(), b.clone(), how.how));
                false
            }
            _ => {
                self.union(a, b);
                true
            }
        }
    }

    /// The person `handle` belongs to: its root handle.
    pub fn person_of(&mut self, handle: &Handle) -> Handle {
        self.root(handle)
    }

    /// Every person, by id.
    pub fn people(&mut self) -> Vec<Person> {
        let handles: Vec<Handle> = self.parent.keys().cloned().collect();
        let mut groups: BTreeMap<Handle, Vec<Handle>> = BTreeMap::new();
        for h in handles {
            let root = self.root(&h);
            groups.entry(root).or_default().push(h);
        }
        groups
            .into_iter()
            .map(|(root, mut handles)| {
                handles.sort();
                let configured = self.pin.get(&root).map(|&i| self.config[i].clone());
                let id = match &configured {
                    Some(name) => format!("person:{name}"),
                    None => handles[0].0.clone(),
                };
                let name =
                    configured.or_else(|| handles.iter().find_map(|h| self.names.get(h).cloned()));
                Person { id, name, handles }
            })
            .collect()
    }

    fn root(&mut self, h: &Handle) -> Handle {
        let parent = self
            .parent
            .entry(h.clone())
            .or_insert_with(|| h.clone())
            .clone();
        if parent == *h {
            return parent;
        }
        let root = self.root(&parent);
        self.parent.insert(h.clone(), root.clone());
        root
    }

    /// Merges the groups of `a` and `b`, the pinned root staying root.
    fn union(&mut self, a: &Handle, b: &Handle) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        let (keep, drop) = match (self.pin.contains_key(&ra), self.pin.contains_key(&rb)) {
            (false, true) => (rb, ra),
            _ => (ra, rb),
        };
        if let Some(pin) = self.pin.remove(&drop) {
            self.pin.insert(keep.clone(), pin);
        }
        self.parent.insert(drop, keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Handle {
        Handle::parse(text).unwrap()
    }

    #[test]
    fn joins_merge_people_and_configured_people_win() {
        let config = vec![
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
        ];
        let mut r = Resolver::new(&config).unwrap();
        // Data joins Ada's GitHub login to her work email, and a shared login to both.
        assert!(r.join(&h("github:ada-l"), &h("ada@corp.com"), Join::COMMIT_EMAIL));
        assert!(r.join(&h("github:ada-l"), &h("ada@old.net"), Join::COMMIT_EMAIL));
        assert!(!r.join(&h("bob@corp.com"), &h("ada@old.net"), Join::COMMIT_EMAIL));
        r.add(&h("cy@corp.com"), Some("Cy"));
        let people = r.people();
        let ada = people.iter().find(|p| p.id == "person:Ada").unwrap();
        assert_eq!(
            ada.handles.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
            [
                "email:ada@corp.com",
                "email:ada@home.org",
                "email:ada@old.net",
                "github:ada-l",
                "slack:U1"
            ]
        );
        assert_eq!(ada.name.as_deref(), Some("Ada"));
        let bob = people.iter().find(|p| p.id == "person:Bob").unwrap();
        assert_eq!(bob.handles, [h("bob@corp.com")]);
        let cy = people.iter().find(|p| p.id == "email:cy@corp.com").unwrap();
        assert_eq!(cy.name.as_deref(), Some("Cy"));
        assert_eq!(r.refused.len(), 1);
        assert_eq!(r.person_of(&h("ada@old.net")), r.person_of(&h("slack:U1")));
    }

    #[test]
    fn a_handle_in_two_configured_people_is_an_error() {
        let twice = vec![
            PersonConfig {
                name: "A".into(),
                emails: vec!["x@corp.com".into()],
                ..PersonConfig::default()
            },
            PersonConfig {
                name: "B".into(),
                emails: vec!["X@corp.com".into()],
                ..PersonConfig::default()
            },
        ];
        let err = Resolver::new(&twice).unwrap_err();
        assert!(err.contains("email:x@corp.com"), "{err}");
        let bad = vec![PersonConfig {
            name: "A".into(),
            handles: vec!["ada".into()],
            ..PersonConfig::default()
        }];
        assert!(Resolver::new(&bad)
            .unwrap_err()
            .contains("\"ada\" is not a handle"));
    }
}
