//! What the streams share about GitHub's JSON: fields read leniently, times, accounts, and
//! where an event happened.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A field of a GitHub item, read leniently: missing, `null` or of an unexpected type, it is
/// `None`. One odd field never costs an item its other fields (nor a page its items).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lax<T>(pub Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

impl<T> Deref for Lax<T> {
    type Target = Option<T>;

    fn deref(&self) -> &Option<T> {
        &self.0
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(Lax(T::deserialize(value).ok()))
    }
}

impl<T> Lax<Vec<Lax<T>>> {
    /// The elements of a list that are what they should be.
    pub(crate) fn each(&self) -> impl Iterator<Item = &T> {
        self.0.iter().flatten().filter_map(|e| e.0.as_ref())
    }
}

impl Lax<String> {
    /// The text as a time, if it is one.
    pub(crate) fn time(&self) -> Option<DateTime<Utc>> {
        self.as_deref().and_then(time)
    }
}

/// An item of a list: fields as [`Lax`] make any JSON object one (an item that is not an
/// object has no fields).
pub(crate) fn item<T: DeserializeOwned + Default>(value: &Value) -> T {
    if value.is_object() {
        T::deserialize(value).unwrap_or_default()
    } else {
        T::default()
    }
}

/// A user or bot, as items name them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Account {
    pub login: Lax<String>,
}

/// The login of an account field.
pub(crate) fn login(account: &Lax<Account>) -> Option<String> {
    account.as_ref().and_then(|a| a.login.0.clone())
}

/// Where the events happened.
pub(crate) struct Ctx<'a> {
    /// `owner/repo` in lower case, as ids name it (GitHub's names are case-insensitive).
    pub repository: &'a str,
    /// The branch whose commits are read, if configured.
    pub branch: Option<&'a str>,
}

pub(crate) fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A time as the cursor writes it.
pub(crate) fn text_of(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Percent-encodes a query value (branch names may hold `/`, `#`, `&`).
pub(crate) fn encode(s: &str) -> String {
    percent_encode(s, b"")
}

/// Percent-encodes everything outside the unreserved set and `keep`.
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b if keep.contains(&b) => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Thing {
        n: Lax<u64>,
        s: Lax<String>,
        who: Lax<Account>,
        labels: Lax<Vec<Lax<Account>>>,
    }

    #[test]
    fn an_odd_field_is_none_and_keeps_the_others() {
        let t: Thing = item(&json!({
            "n": "seven", "s": "text", "who": null,
            "labels": [{"login": "a"}, "b", {"login": 3}, {"login": "c"}]
        }));
        assert_eq!((t.n.0, t.s.as_deref()), (None, Some("text")));
        assert_eq!(login(&t.who), None);
        let logins: Vec<&str> = t.labels.each().filter_map(|a| a.login.as_deref()).collect();
        assert_eq!(logins, ["a", "c"]);
        let t: Thing = item(&json!(["not", "an", "object"]));
        assert_eq!((t.n.0, t.s.0), (None, None));
        let t: Thing = item(&json!({"n": -1, "labels": {"login": "x"}}));
        assert_eq!((t.n.0, t.labels.each().count()), (None, 0));
    }
}
