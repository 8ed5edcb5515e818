//! A Google Calendar event as the source knows it ([`Known`], kept in the store's state rows
//! between syncs) and the episodic events made by comparing what the API says now with it.
//!
//! Ids: `CAL/EVENT:scheduled`, `CAL/EVENT:changed@UPDATED_MS`,
//! `CAL/EVENT:cancelled@UPDATED_MS`, `CAL/EVENT:restored@UPDATED_MS` and `CAL/EVENT:held`, from
//! Google's event id (an instance's own id for a recurring event's occurrence) and its
//! `updated` time: reading the same data again yields the same ids, and an event cancelled,
//! restored and cancelled again gets a new id each time (the store drops an id it has).

use athena_core::{Event, Outcome};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The version of [`Known`] written now.
pub(crate) const STATE_VERSION: u32 = 1;

/// What the source remembers of one calendar event: the compared fields, what the events
/// about it need, and whether its cancellation and its holding were told. Stored as JSON,
/// `{"version":1,…}`, under the key `CAL\nEVENT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Known {
    pub version: u32,
    pub title: String,
    /// RFC 3339, or a date for an all-day event.
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The attendees' emails, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Google's `updated`, epoch milliseconds.
    pub updated_ms: i64,
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default)]
    pub held: bool,
}

impl Known {
    /// A stored state row; `None` for a version this build does not know (the event is then
    /// taken as new, and its `scheduled` id makes a duplicate the store ignores).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Known> {
        let k: Known = serde_json::from_slice(bytes).ok()?;
        (k.version == STATE_VERSION).then_some(k)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// When the event ends, if it says.
    pub(crate) fn end_time(&self) -> Option<DateTime<Utc>> {
        self.end.as_deref().and_then(parse_when)
    }

    /// A meeting: it has attendees besides the organizer alone.
    pub(crate) fn is_meeting(&self) -> bool {
        !self.attendees.is_empty()
    }
}

/// The state row's key of an event.
pub(crate) fn state_key(calendar: &str, event_id: &str) -> Vec<u8> {
    format!("{calendar}\n{event_id}").into_bytes()
}

/// The calendar and event of a state row's key.
pub(crate) fn split_key(key: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(key).ok()?;
    let (c, e) = text.split_once('\n')?;
    Some((c.to_string(), e.to_string()))
}

/// Google's times: `dateTime` (RFC 3339) or, for all-day events, `date` (midnight UTC).
pub(crate) fn parse_when(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some(d.and_hms_opt(0, 0, 0)?.and_utc())
        })
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// One item of an `events.list` page.
pub(crate) struct Item<'a> {
    pub id: String,
    pub cancelled: bool,
    pub json: &'a Value,
    pub updated: Option<DateTime<Utc>>,
}

impl<'a> Item<'a> {
    /// `None` without an id (nothing to name it by).
    pub(crate) fn new(json: &'a Value) -> Option<Self> {
        Some(Item {
            id: text(json, "/id")?,
            cancelled: json.get("status").and_then(Value::as_str) == Some("cancelled"),
            updated: text(json, "/updated").as_deref().and_then(parse_when),
            json,
        })
    }

    /// What the source keeps of it.
    pub(crate) fn known(&self, previous: Option<&Known>) -> Known {
        let when = |which: &str| {
            text(self.json, &format!("/{which}/dateTime"))
                .or_else(|| text(self.json, &format!("/{which}/date")))
        };
        let mut attendees: Vec<String> = self
            .json
            .get("attendees")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a.get("resource").and_then(Value::as_bool) != Some(true))
            .filter_map(|a| text(a, "/email"))
            .collect();
        attendees.sort();
        attendees.dedup();
        Known {
            version: STATE_VERSION,
            title: text(self.json, "/summary").unwrap_or_else(|| "(no title)".into()),
            start: when("start"),
            end: when("end"),
            location: text(self.json, "/location"),
            attendees,
            organizer: text(self.json, "/organizer/email")
                .or_else(|| text(self.json, "/creator/email")),
            link: text(self.json, "/htmlLink"),
            updated_ms: self.updated.map_or(0, |t| t.timestamp_millis()),
            cancelled: self.cancelled,
            held: previous.is_some_and(|p| p.held),
        }
    }
}

/// The fields compared between two versions of an event, by the name the events use.
pub(crate) fn changed_fields(old: &Known, new: &Known) -> Vec<&'static str> {
    let mut out = Vec::new();
    if (&old.start, &old.end) != (&new.start, &new.end) {
        out.push("time");
    }
    if old.title != new.title {
        out.push("title");
    }
    if old.attendees != new.attendees {
        out.push("attendees");
    }
    if old.location != new.location {
        out.push("location");
    }
    out
}

/// What one item of a page means, given what the source knew of it: the events to store
/// and the state to keep (`None`: leave the row as it is).
pub(crate) fn observe(
    calendar: &str,
    item: &Item<'_>,
    previous: Option<&Known>,
    now: DateTime<Utc>,
) -> (Vec<Event>, Option<Known>) {
    let new = item.known(previous);
    if item.cancelled {
        // Google's cancelled entries carry little more than the id: the source tells of a
        // cancellation only of an event it knew, named as it knew it.
        return match previous {
            Some(p) if !p.cancelled => {
                let known = Known {
                    cancelled: true,
                    updated_ms: new.updated_ms.max(p.updated_ms),
                    ..p.clone()
                };
                let at = item.updated.unwrap_or(now);
                // `updated` in the id: a second cancellation (after a restore) is a new event.
                let id = format!("cancelled@{}", known.updated_ms);
                let mut e = event(
                    calendar,
                    &item.id,
                    &id,
                    "calendar_event_cancelled",
                    at,
                    &known,
                );
                e.title = format!("Cancelled: {}", known.title);
                e.outcome = Some(Outcome::Failure);
                (vec![e], Some(known))
            }
            _ => (Vec::new(), None),
        };
    }
    match previous {
        Some(p) if !p.cancelled => {
            let fields = changed_fields(p, &new);
            if fields.is_empty() {
                let keep = new != *p;
                return (Vec::new(), keep.then_some(new));
            }
            let at = item.updated.unwrap_or(now);
            let id = format!("changed@{}", new.updated_ms);
            let mut e = event(calendar, &item.id, &id, "calendar_event_changed", at, &new);
            e.title = format!("Changed ({}): {}", fields.join(", "), new.title);
            e.metadata.insert("changed".into(), json!(fields));
            let mut before = Map::new();
            for f in &fields {
                let v = match *f {
                    "time" => json!({"start": p.start, "end": p.end}),
                    "title" => json!(p.title),
                    "attendees" => json!(p.attendees),
                    _ => json!(p.location),
                };
                before.insert((*f).to_string(), v);
            }
            e.metadata.insert("previous".into(), Value::Object(before));
            (vec![e], Some(new))
        }
        // Back after a cancellation: told as restored, with what changed meanwhile (its
        // `scheduled` id is stored already, so it could not be told as scheduled again).
        Some(p) => {
            let at = item.updated.unwrap_or(now);
            let id = format!("restored@{}", new.updated_ms);
            let mut e = event(calendar, &item.id, &id, "calendar_event_restored", at, &new);
            e.title = format!("Restored: {}", new.title);
            e.metadata
                .insert("changed".into(), json!(changed_fields(p, &new)));
            (vec![e], Some(new))
        }
        // New.
        _ => {
            let at = text(item.json, "/created")
                .as_deref()
                .and_then(parse_when)
                .or(item.updated)
                .unwrap_or(now);
            let mut e = event(
                calendar,
                &item.id,
                "scheduled",
                "calendar_event_scheduled",
                at,
                &new,
            );
            e.title = format!("Scheduled: {}", new.title);
            e.body = text(item.json, "/description").unwrap_or_default();
            if let Some(r) = text(item.json, "/recurringEventId") {
                e.context.insert("recurring_event_id".into(), json!(r));
            }
            (vec![e], Some(new))
        }
    }
}

/// `meeting_held` for a meeting that has ended by `now` and was not told yet, with the state
/// that remembers it was.
pub(crate) fn held(
    calendar: &str,
    event_id: &str,
    known: &Known,
    now: DateTime<Utc>,
) -> Option<(Event, Known)> {
    if known.held || known.cancelled || !known.is_meeting() {
        return None;
    }
    let end = known.end_time().filter(|end| *end <= now)?;
    let mut e = event(calendar, event_id, "held", "meeting_held", end, known);
    e.title = format!("Held: {}", known.title);
    e.outcome = Some(Outcome::Success);
    Some((
        e,
        Known {
            held: true,
            ..known.clone()
        },
    ))
}

/// An event about calendar event `event_id`, with what they all carry.
fn event(
    calendar: &str,
    event_id: &str,
    suffix: &str,
    kind: &str,
    at: DateTime<Utc>,
    known: &Known,
) -> Event {
    let mut e = Event::new(
        format!("{calendar}/{event_id}:{suffix}"),
        kind,
        at,
        known.title.clone(),
    );
    e.actor = known.organizer.clone();
    e.url = known.link.clone();
    e.context.insert("calendar_id".into(), json!(calendar));
    e.context.insert("event_id".into(), json!(event_id));
    if let Some(l) = &known.link {
        e.context.insert("html_link".into(), json!(l));
    }
    if let Some(o) = &known.organizer {
        e.context.insert("organizer".into(), json!(o));
    }
    e.metadata
        .insert("attendees".into(), json!(known.attendees));
    e.metadata.insert("start".into(), json!(known.start));
    e.metadata.insert("end".into(), json!(known.end));
    if let Some(l) = &known.location {
        e.metadata.insert("location".into(), json!(l));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_when("2024-03-10T00:00:00Z").unwrap()
    }

    fn item(v: &Value) -> Item<'_> {
        Item::new(v).unwrap()
    }

    fn standup(updated: &str, start: &str, attendees: &[&str]) -> Value {
        json!({"id": "ev1", "status": "confirmed", "summary": "Standup",
            "htmlLink": "https://calendar.google.com/event?eid=ev1",
            "created": "2024-03-01T09:00:00Z", "updated": updated,
            "organizer": {"email": "ann@example.com"},
            "start": {"dateTime": start}, "end": {"dateTime": "2024-03-05T10:30:00Z"},
            "attendees": attendees.iter().map(|a| json!({"email": a})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_new_event_is_scheduled_a_moved_one_changed_and_an_edit_elsewhere_only_remembered() {
        let v1 = standup(
            "2024-03-01T09:00:00Z",
            "2024-03-05T10:00:00Z",
            &["bob@example.com"],
        );
        let (events, known) = observe("primary", &item(&v1), None, now());
        let known = known.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, "primary/ev1:scheduled");
        assert_eq!(events[0].actor.as_deref(), Some("ann@example.com"));
        assert_eq!(
            events[0].context["html_link"],
            "https://calendar.google.com/event?eid=ev1"
        );

        let v2 = standup(
            "2024-03-02T09:00:00Z",
            "2024-03-05T09:45:00Z",
            &["bob@example.com", "cy@example.com"],
        );
        let (events, known2) = observe("primary", &item(&v2), Some(&known), now());
        let e = &events[0];
        assert_eq!(e.kind, "calendar_event_changed");
        assert_eq!(
            e.id,
            format!(
                "primary/ev1:changed@{}",
                parse_when("2024-03-02T09:00:00Z")
                    .unwrap()
                    .timestamp_millis()
            )
        );
        assert_eq!(e.metadata["changed"], json!(["time", "attendees"]));
        assert_eq!(
            e.metadata["previous"]["attendees"],
            json!(["bob@example.com"])
        );
        assert!(
            e.title.starts_with("Changed (time, attendees): Standup"),
            "{}",
            e.title
        );

        let mut v3 = v2.clone();
        v3["description"] = json!("agenda");
        v3["updated"] = json!("2024-03-03T09:00:00Z");
        let (events, known3) = observe("primary", &item(&v3), known2.as_ref(), now());
        assert!(events.is_empty());
        assert!(known3.is_some(), "the newer `updated` is remembered");
        let (events, again) = observe("primary", &item(&v3), known3.as_ref(), now());
        assert!(
            events.is_empty() && again.is_none(),
            "the same data again: nothing"
        );
    }

    #[test]
    fn a_cancellation_is_told_once_and_only_of_a_known_event_and_a_meeting_is_held_once() {
        let v1 = standup(
            "2024-03-01T09:00:00Z",
            "2024-03-05T10:00:00Z",
            &["bob@example.com"],
        );
        let (_, known) = observe("primary", &item(&v1), None, now());
        let known = known.unwrap();
        let gone = json!({"id": "ev1", "status": "cancelled", "updated": "2024-03-04T00:00:00Z"});
        let (events, after) = observe("primary", &item(&gone), Some(&known), now());
        assert_eq!(events[0].kind, "calendar_event_cancelled");
        assert_eq!(events[0].title, "Cancelled: Standup");
        assert!(after.as_ref().unwrap().cancelled);
        let (events, _) = observe("primary", &item(&gone), after.as_ref(), now());
        assert!(events.is_empty(), "told once");
        let (events, row) = observe("primary", &item(&gone), None, now());
        assert!(events.is_empty() && row.is_none(), "never known: nothing");
        assert!(
            held("primary", "ev1", after.as_ref().unwrap(), now()).is_none(),
            "cancelled"
        );

        let early = parse_when("2024-03-05T10:00:00Z").unwrap();
        assert!(
            held("primary", "ev1", &known, early).is_none(),
            "not over yet"
        );
        let (e, k) = held("primary", "ev1", &known, now()).unwrap();
        assert_eq!(
            (e.id.as_str(), e.kind.as_str()),
            ("primary/ev1:held", "meeting_held")
        );
        assert_eq!(e.occurred_at, parse_when("2024-03-05T10:30:00Z").unwrap());
        assert!(held("primary", "ev1", &k, now()).is_none(), "once");
        let alone = Known {
            attendees: Vec::new(),
            ..known
        };
        assert!(
            held("primary", "ev1", &alone, now()).is_none(),
            "no attendees: not a meeting"
        );
    }

    #[test]
    fn an_event_cancelled_restored_and_cancelled_again_is_told_each_time_with_new_ids() {
        let v1 = standup(
            "2024-03-01T09:00:00Z",
            "2024-03-05T10:00:00Z",
            &["bob@example.com"],
        );
        let (_, known) = observe("primary", &item(&v1), None, now());
        let gone = json!({"id": "ev1", "status": "cancelled", "updated": "2024-03-02T00:00:00Z"});
        let (first, cancelled) = observe("primary", &item(&gone), known.as_ref(), now());
        assert_eq!(first[0].kind, "calendar_event_cancelled");

        // Restored, moved meanwhile: told as restored, with what differs.
        let back = standup(
            "2024-03-03T00:00:00Z",
            "2024-03-05T11:00:00Z",
            &["bob@example.com"],
        );
        let (events, restored) = observe("primary", &item(&back), cancelled.as_ref(), now());
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.kind, "calendar_event_restored");
        let ms = |t: &str| parse_when(t).unwrap().timestamp_millis();
        assert_eq!(
            e.id,
            format!("primary/ev1:restored@{}", ms("2024-03-03T00:00:00Z"))
        );
        assert_eq!(e.title, "Restored: Standup");
        assert_eq!(e.metadata["changed"], json!(["time"]));
        let restored = restored.unwrap();
        assert!(!restored.cancelled);
        let (again, row) = observe("primary", &item(&back), Some(&restored), now());
        assert!(again.is_empty() && row.is_none(), "told once");

        // Cancelled again: a new id, not the first cancellation's.
        let gone2 = json!({"id": "ev1", "status": "cancelled", "updated": "2024-03-04T00:00:00Z"});
        let (second, after) = observe("primary", &item(&gone2), Some(&restored), now());
        assert_eq!(second[0].kind, "calendar_event_cancelled");
        assert_eq!(
            second[0].id,
            format!("primary/ev1:cancelled@{}", ms("2024-03-04T00:00:00Z"))
        );
        assert_ne!(second[0].id, first[0].id);
        assert!(after.unwrap().cancelled);

        // Google's deletions may carry no `updated`: the id then takes the last one known.
        let bare = json!({"id": "ev1", "status": "cancelled"});
        let (third, _) = observe("primary", &item(&bare), Some(&restored), now());
        assert_eq!(
            third[0].id,
            format!("primary/ev1:cancelled@{}", ms("2024-03-03T00:00:00Z"))
        );
        assert_ne!(third[0].id, first[0].id);
    }

    #[test]
    fn a_version_1_state_row_decodes_and_an_unknown_version_does_not() {
        let v1 = r#"{"version":1,"title":"Standup","start":"2024-03-05","end":"2024-03-06","attendees":["a@x"],"updated_ms":5,"cancelled":false,"held":true}"#;
        let k = Known::decode(v1.as_bytes()).unwrap();
        assert_eq!(k.end_time(), parse_when("2024-03-06T00:00:00Z"));
        assert!(k.held && k.is_meeting());
        assert_eq!(String::from_utf8(k.encode()).unwrap(), v1);
        assert!(Known::decode(br#"{"version":2,"title":"x","updated_ms":1}"#).is_none());
        assert_eq!(
            split_key(&state_key("a@b", "e1")),
            Some(("a@b".into(), "e1".into()))
        );
    }
}
