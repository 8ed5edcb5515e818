//! People across sources: the same person is `ada@corp.com` in git and Gmail, `ada-l` on
//! GitHub, `U024BE7LH` in Slack. Each event names people by [`Handle`]s ([`claims_of`]); a
//! handle belongs to a person; handles are joined into one person by evidence ([`Join`]: a
//! GitHub commit's login and its author email, a `.mailmap` line) and by `[[people]]` in the
//! config, which wins ([`Resolver`]). Events keep their handles, so a later join moves earlier
//! events to the merged person without rewriting them.
//!
//! - `claims`: reading people out of event fields (signatures, mail headers), for the source
//!   types to declare what their events say ([`SourceType::with_people`](crate::SourceType::with_people)).
//! - `resolve`: handles into people.

mod claims;
mod resolve;

use serde::{Deserialize, Serialize};

pub use claims::{address_claims, dedup, signature_claim};
pub use resolve::{configured_from_rows, people_from_rows, Person, PersonConfig, Resolver};

/// The prefix of a GitHub login's handle.
const GITHUB: &str = "github:";

/// How a source type reads the people its events name.
pub type PeopleOf = fn(&crate::Event) -> Vec<Claim>;

/// A person's handle in one system: `email:ada@corp.com`, `github:ada-l`, `slack:U024BE7LH`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Handle(pub String);

impl Handle {
    /// An email address, lowercased; GitHub's `ID+login@users.noreply.github.com` is the
    /// login.
    pub fn email(address: &str) -> Handle {
        let address = address.trim().to_ascii_lowercase();
        if let Some(local) = address.strip_suffix("@users.noreply.github.com") {
            let login = local.split_once('+').map_or(local, |(_, login)| login);
            return Handle::github(login);
        }
        Handle(format!("email:{address}"))
    }

    /// A GitHub login (case-insensitive, so lowercased).
    pub fn github(login: &str) -> Handle {
        Handle(format!("{GITHUB}{}", login.trim().to_ascii_lowercase()))
    }

    /// A Slack user id.
    pub fn slack(user: &str) -> Handle {
        Handle(format!("slack:{}", user.trim()))
    }

    /// A handle as a user writes it: `ada@corp.com` (an email), or `github:ada-l`; `None` for
    /// text that is neither.
    pub fn parse(text: &str) -> Option<Handle> {
        let text = text.trim();
        // Emails and GitHub logins are case-insensitive: written one way.
        if let Some(login) = text.strip_prefix(GITHUB).filter(|l| !l.is_empty()) {
            return Some(Handle::github(login));
        }
        match text.split_once(':') {
            Some(("email", address)) => Some(Handle::email(address)),
            Some((kind, id)) if !id.is_empty() && !kind.contains('@') => {
                Some(Handle(format!("{kind}:{}", id.trim())))
            }
            _ if text.contains('@') => Some(Handle::email(text)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When a join links handles of the people `a` and `b` (their ids), which id the merged
/// person keeps and which goes: a configured person's (`person:NAME`) stays, else the smaller;
/// `None` when they are one already, or two configured people (config wins over data).
pub fn merged<'a>(a: &'a str, b: &'a str) -> Option<(&'a str, &'a str)> {
    let pinned = |p: &str| p.starts_with("person:");
    match (pinned(a), pinned(b)) {
        _ if a == b => None,
        (true, true) => None,
        (true, false) => Some((a, b)),
        (false, true) => Some((b, a)),
        (false, false) => Some((a.min(b), a.max(b))),
    }
}

/// What a person did in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonRole {
    /// Did it (the author, the sender, the organizer).
    Actor,
    /// Is named by it (a committer, a recipient, an attendee).
    Named,
}

impl PersonRole {
    /// Its number in the store.
    pub fn code(self) -> i64 {
        match self {
            PersonRole::Actor => 0,
            PersonRole::Named => 1,
        }
    }

    /// A role by its number in the store.
    pub fn of_code(code: i64) -> PersonRole {
        if code == 0 {
            PersonRole::Actor
        } else {
            PersonRole::Named
        }
    }
}

/// Evidence that two handles are one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Join {
    /// Where it comes from (`github commit`, `mailmap`, `config`).
    pub how: &'static str,
    /// Whether it rests only on data a user typed (a commit's email: anyone can commit as
    /// anyone), as opposed to what a service vouches for.
    pub user_controlled: bool,
}

impl Join {
    /// A GitHub commit's author login and the email in the commit.
    pub const COMMIT_EMAIL: Join = Join {
        how: "github commit",
        user_controlled: true,
    };
    /// A join read back from a store (its source no longer known here).
    pub const STORED: Join = Join {
        how: "stored",
        user_controlled: false,
    };
    /// A Slack user's profile email (Slack verifies it).
    pub const SLACK_PROFILE: Join = Join {
        how: "slack profile",
        user_controlled: false,
    };
    /// A repository's `.mailmap`.
    pub const MAILMAP: Join = Join {
        how: "mailmap",
        user_controlled: true,
    };
}

/// One person an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The person's handle in this source.
    pub handle: Handle,
    /// What the person did.
    pub role: PersonRole,
    /// The name shown with it, if any.
    pub name: Option<String>,
    /// Other handles the event says are the same person.
    pub joins: Vec<(Handle, Join)>,
}

impl Claim {
    /// A claim on `handle` with no name or joins.
    pub fn new(handle: Handle, role: PersonRole) -> Claim {
        Claim {
            handle,
            role,
            name: None,
            joins: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_written_one_way_whatever_the_input() {
        assert_eq!(Handle::email(" Ada@Corp.COM ").0, "email:ada@corp.com");
        assert_eq!(
            Handle::email("123+Ada-L@users.noreply.github.com").0,
            "github:ada-l"
        );
        assert_eq!(
            Handle::email("ada-l@users.noreply.github.com").0,
            "github:ada-l"
        );
        assert_eq!(
            Handle::parse("ada@corp.com"),
            Some(Handle::email("ada@corp.com"))
        );
        assert_eq!(Handle::parse("github:Ada-L"), Some(Handle::github("ada-l")));
        assert_eq!(
            Handle::parse("slack:U024BE7LH"),
            Some(Handle::slack("U024BE7LH"))
        );
        assert_eq!(Handle::parse("Ada"), None);
    }
}
