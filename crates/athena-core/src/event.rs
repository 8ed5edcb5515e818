//! The episodic event: what happened, when, who, where.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One episodic event, as sources produce it and the store keeps it.
///
/// `id` is deterministic: it is derived from the source's natural key (a commit SHA, a file
/// fingerprint and byte offset, an API object id), so reading the same data twice yields the same
/// ids and the store can recognise a duplicate. Ids are unique per source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Deterministic id, unique within its source.
    pub id: String,
    /// The configured id of the source that produced the event.
    pub source_id: String,
    /// The source type (`git`, `github`, …).
    pub source_type: String,
    /// What happened: `commit`, `file_modified`, `http_request`, …
    pub kind: String,
    /// When it happened (UTC; sources keep the original offset in `context` or `metadata`).
    pub occurred_at: DateTime<Utc>,
    /// When the store accepted it; `None` until stored.
    pub ingested_at: Option<DateTime<Utc>>,
    /// Who did it, if anyone.
    pub actor: Option<String>,
    /// One line.
    pub title: String,
    /// Free text, possibly empty.
    pub body: String,
    /// Where to see it, if it has an address.
    pub url: Option<String>,
    /// How it ended, for events that end.
    pub outcome: Option<Outcome>,
    /// Where it happened: repository, branch, path, channel, thread …
    pub context: Map<String, Value>,
    /// Source-specific details.
    pub metadata: Map<String, Value>,
}

impl Event {
    /// A new event with the required fields set and everything else empty.
    pub fn new(
        id: impl Into<String>,
        kind: impl Into<String>,
        occurred_at: DateTime<Utc>,
        title: impl Into<String>,
    ) -> Self {
        Event {
            id: id.into(),
            source_id: String::new(),
            source_type: String::new(),
            kind: kind.into(),
            occurred_at,
            ingested_at: None,
            actor: None,
            title: title.into(),
            body: String::new(),
            url: None,
            outcome: None,
            context: Map::new(),
            metadata: Map::new(),
        }
    }
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It worked.
    Success,
    /// It did not.
    Failure,
    /// The client asked for something wrong (HTTP 4xx).
    ClientError,
    /// The server failed (HTTP 5xx).
    ServerError,
}

impl Outcome {
    /// The name used in JSON and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }

    /// The inverse of [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            "client_error" => Outcome::ClientError,
            "server_error" => Outcome::ServerError,
            _ => return None,
        })
    }
}

/// Bad input kept for a person to look at: the raw text, why it was rejected and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Where the input came from (`file.log:17 (byte 2048)`, a URL, a commit).
    pub origin: String,
    /// Why it was rejected.
    pub reason: String,
    /// The input itself, capped by the source.
    pub raw: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_round_trip() {
        for o in [
            Outcome::Success,
            Outcome::Failure,
            Outcome::ClientError,
            Outcome::ServerError,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
        }
        assert_eq!(Outcome::parse("ok"), None);
    }

    #[test]
    fn event_serializes_with_rfc3339_times() {
        let at = DateTime::parse_from_rfc3339("2024-03-01T10:00:00+02:00")
            .unwrap()
            .with_timezone(&Utc);
        let e = Event::new("x", "commit", at, "t");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["occurred_at"], "2024-03-01T08:00:00Z");
        assert_eq!(v["outcome"], Value::Null);
    }
}
