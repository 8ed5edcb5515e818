//! How a Singer stream's records become events: the stream's mapping (from the source's
//! config) and what its SCHEMA message said (the key properties, the replication key).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use athena_core::Event;

/// A stream's mapping to events; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamMapping {
    /// The events' kind (default: the stream's name).
    pub kind: Option<String>,
    /// The field holding when it happened (default: the stream's replication key, else the
    /// record's `time_extracted`). A path into nested objects takes dots: `meta.created`.
    pub occurred_at: Option<String>,
    /// The field holding who did it.
    pub actor: Option<String>,
    /// The title, a template over fields: `"{name} signed up"` (default: stream and id).
    pub title: Option<String>,
    /// The field holding the body.
    pub body: Option<String>,
    /// The field holding a link to it.
    pub url: Option<String>,
    /// The event's id, a template over fields (`"{id}@{updated_at}"`: each version of a
    /// record its own event); default: the key properties, else a hash of the record.
    pub id: Option<String>,
}

/// What a stream's SCHEMA message said of its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSchema {
    /// The properties that identify a record: a record seen again is the same event.
    pub key_properties: Vec<String>,
    /// The property the stream is replicated by (its first bookmark property).
    pub replication_key: Option<String>,
}

/// The event of `record` of `stream`.
pub fn event_of(
    stream: &str,
    record: Map<String, Value>,
    schema: &StreamSchema,
    mapping: &StreamMapping,
    time_extracted: Option<DateTime<Utc>>,
) -> Result<Event, String> {
    let id = match &mapping.id {
        Some(template) => format!("{stream}:{}", render_strict(template, &record)?),
        None => identity(stream, &record, schema)?,
    };
    let occurred_at = when(&id, stream, &record, schema, mapping, time_extracted)?;
    let title = match &mapping.title {
        Some(template) => render(template, &record),
        None => format!("{stream} {id}"),
    };
    let mut event = Event::new(
        id,
        mapping.kind.as_deref().unwrap_or(stream),
        occurred_at,
        title,
    );
    let text = |field: &Option<String>| {
        field
            .as_deref()
            .and_then(|f| lookup(&record, f))
            .filter(|v| !v.is_null())
            .map(plain)
    };
    event.actor = text(&mapping.actor);
    event.body = text(&mapping.body).unwrap_or_default();
    event.url = text(&mapping.url);
    event
        .context
        .insert("stream".into(), Value::String(stream.into()));
    event.metadata = record;
    Ok(event)
}

/// When a record happened: the field `occurred_at` names (a time, a date, or epoch seconds;
/// missing or no time is an error), else the replication key when it holds a time (a number
/// there is a version, not epoch seconds), else `time_extracted`.
fn when(
    id: &str,
    stream: &str,
    record: &Map<String, Value>,
    schema: &StreamSchema,
    mapping: &StreamMapping,
    time_extracted: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, String> {
    if let Some(field) = mapping.occurred_at.as_deref() {
        let value = lookup(record, field)
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("record {id} of {stream} has no field {field:?} for its time"))?;
        return time_of(value, true)
            .ok_or_else(|| format!("record {id} of {stream}: field {field:?} is no time: {value}"));
    }
    let from_key = (schema.replication_key.as_deref())
        .and_then(|field| lookup(record, field))
        .and_then(|value| time_of(value, false));
    from_key.or(time_extracted).ok_or_else(|| {
        format!(
            "record {id} of {stream} has no time: give the stream's `occurred_at`, or a tap \
             that sends a replication key holding a time, or time_extracted"
        )
    })
}

/// A record's id: its key properties' values (`<stream>:<v1>|<v2>`), else a hash of the
/// whole record, so that a record read again is a duplicate, not a new event.
fn identity(
    stream: &str,
    record: &Map<String, Value>,
    schema: &StreamSchema,
) -> Result<String, String> {
    if schema.key_properties.is_empty() {
        let canonical = canonical(&Value::Object(record.clone()));
        let hash = blake3::hash(canonical.as_bytes());
        return Ok(format!("{stream}:{}", &hash.to_hex()[..32]));
    }
    let values: Result<Vec<String>, String> = (schema.key_properties.iter())
        .map(|key| match record.get(key) {
            Some(v) if !v.is_null() => Ok(plain(v).replace('\\', "\\\\").replace('|', "\\|")),
            _ => Err(format!(
                "a record of {stream} has no value for its key property {key:?}"
            )),
        })
        .collect();
    Ok(format!("{stream}:{}", values?.join("|")))
}

/// `value` as JSON text with every object's keys in order: the same record, the same text.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The value at `path` (`a.b.c`) in `record`.
fn lookup<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut at = record.get(parts.next()?)?;
    for part in parts {
        at = at.as_object()?.get(part)?;
    }
    Some(at)
}

/// A value as text: a string as it is, anything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A time: RFC 3339, or with an offset without its colon (`+0000`, as Jira and Salesforce
/// write), or without an offset (UTC), or a date (midnight UTC); with `epoch`, also a number of
/// seconds since the Unix epoch.
fn time_of(value: &Value, epoch: bool) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => parse_time(s.trim()),
        Value::Number(n) if epoch => {
            let seconds = n.as_f64()?;
            let millis = (seconds * 1000.0).round() as i64;
            Utc.timestamp_millis_opt(millis).single()
        }
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?))
}

/// [`render`] for an id: a field the template names must have a value, or two versions of a
/// record would get the same id.
fn render_strict(template: &str, record: &Map<String, Value>) -> Result<String, String> {
    let mut missing = None;
    let text = render_with(template, record, &mut |path| {
        missing.get_or_insert_with(|| path.to_string());
    });
    match missing {
        Some(path) => Err(format!("the `id` template's field {path:?} has no value")),
        None => Ok(text),
    }
}

fn render(template: &str, record: &Map<String, Value>) -> String {
    render_with(template, record, &mut |_| {})
}

/// `template` with each `{path}` replaced by that field's text (nothing if it has none, and
/// `on_missing` is told);
/// `{{` and `}}` are a brace.
fn render_with(
    template: &str,
    record: &Map<String, Value>,
    on_missing: &mut dyn FnMut(&str),
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            let path = &tail[1..end];
            match lookup(record, path).filter(|v| !v.is_null()) {
                Some(v) => out.push_str(&plain(v)),
                None => on_missing(path),
            }
            rest = &tail[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_record_becomes_an_event_by_its_mapping_and_schema() {
        let r = record(json!({
            "id": 42, "email": "ada@corp.com", "name": "Ada",
            "meta": {"created": "2024-05-01T12:00:00Z"}, "link": "https://x/42", "note": null
        }));
        let schema = StreamSchema {
            key_properties: vec!["id".into()],
            replication_key: Some("meta.created".into()),
        };
        let mapping = StreamMapping {
            kind: Some("signup".into()),
            actor: Some("email".into()),
            title: Some("{name} signed up ({{{id}}}){missing}".into()),
            body: Some("note".into()),
            url: Some("link".into()),
            ..StreamMapping::default()
        };
        let e = event_of("users", r.clone(), &schema, &mapping, None).unwrap();
        assert_eq!(e.id, "users:42");
        assert_eq!(e.kind, "signup");
        assert_eq!(e.occurred_at.to_rfc3339(), "2024-05-01T12:00:00+00:00");
        assert_eq!(e.title, "Ada signed up ({42})");
        assert_eq!(e.actor.as_deref(), Some("ada@corp.com"));
        assert_eq!(
            (e.body.as_str(), e.url.as_deref()),
            ("", Some("https://x/42"))
        );
        assert_eq!(e.context["stream"], "users");
        assert_eq!(Value::Object(e.metadata.clone()), Value::Object(r));
    }

    #[test]
    fn an_id_template_makes_each_version_of_a_record_its_own_event() {
        let schema = StreamSchema {
            key_properties: vec!["id".into()],
            replication_key: Some("at".into()),
        };
        let mapping = StreamMapping {
            id: Some("{id}@{at}".into()),
            ..StreamMapping::default()
        };
        let r = record(json!({"id": 7, "at": "2024-05-02T00:00:00Z"}));
        let e = event_of("deals", r, &schema, &mapping, None).unwrap();
        assert_eq!(e.id, "deals:7@2024-05-02T00:00:00Z");
    }

    #[test]
    fn composite_keys_cannot_collide_and_an_id_template_needs_its_fields() {
        let schema = StreamSchema {
            key_properties: vec!["a".into(), "b".into()],
            replication_key: None,
        };
        let at = Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap());
        let id = |r: Value| {
            event_of("s", record(r), &schema, &StreamMapping::default(), at)
                .unwrap()
                .id
        };
        assert_ne!(id(json!({"a": "x|y", "b": "z"})), id(json!({"a": "x", "b": "y|z"})));
        let mapping = StreamMapping {
            id: Some("{a}@{v}".into()),
            ..StreamMapping::default()
        };
        let err = event_of("s", record(json!({"a": 1, "v": null})), &schema, &mapping, at)
            .unwrap_err();
        assert!(err.contains("\"v\" has no value"), "{err}");
    }

    #[test]
    fn without_key_properties_the_same_record_has_the_same_id_whatever_its_key_order() {
        let schema = StreamSchema::default();
        let at = Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap());
        let a = record(json!({"x": 1, "y": {"b": 2, "a": [1, 2]}}));
        let b = record(json!({"y": {"a": [1, 2], "b": 2}, "x": 1}));
        let c = record(json!({"x": 2, "y": {"a": [1, 2], "b": 2}}));
        let id = |r| {
            event_of("s", r, &schema, &StreamMapping::default(), at)
                .unwrap()
                .id
        };
        let (ia, ib, ic) = (id(a), id(b), id(c));
        assert_eq!(ia, ib);
        assert_ne!(ia, ic);
        assert!(ia.starts_with("s:"));
    }

    #[test]
    fn times_are_read_in_the_shapes_apis_write_and_a_missing_one_is_named() {
        let schema = StreamSchema {
            key_properties: vec!["id".into()],
            replication_key: Some("t".into()),
        };
        let extracted = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let at = |t: Value, mapping: &StreamMapping| {
            let r = record(json!({"id": 1, "t": t}));
            event_of("s", r, &schema, mapping, Some(extracted)).map(|e| e.occurred_at.to_rfc3339())
        };
        let by_key = StreamMapping::default();
        for (text, want) in [
            ("2024-05-01", "2024-05-01T00:00:00+00:00"),
            ("2024-05-01T10:00:00.000+0000", "2024-05-01T10:00:00+00:00"),
            ("2024-05-01T12:00:00+0200", "2024-05-01T10:00:00+00:00"),
            ("2024-05-01T10:00:00", "2024-05-01T10:00:00+00:00"),
            ("2024-05-01 10:00:00.5", "2024-05-01T10:00:00.500+00:00"),
            ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00"),
        ] {
            assert_eq!(at(json!(text), &by_key).unwrap(), want, "{text}");
        }
        // A replication key that holds no time (a version number, null, text) gives way to
        // time_extracted; a field `occurred_at` names must be a time, epoch seconds included.
        for not_a_time in [json!(1714564800), json!(null), json!("soon")] {
            assert_eq!(at(not_a_time, &by_key).unwrap(), extracted.to_rfc3339());
        }
        let named = StreamMapping {
            occurred_at: Some("t".into()),
            ..StreamMapping::default()
        };
        assert_eq!(at(json!(1714564800), &named).unwrap(), "2024-05-01T12:00:00+00:00");
        assert!(at(json!("soon"), &named).unwrap_err().contains("is no time"));
        assert!(at(json!(null), &named).unwrap_err().contains("has no field \"t\""));
        let none = StreamSchema {
            key_properties: vec!["id".into()],
            replication_key: None,
        };
        let r = record(json!({"id": 1}));
        let err = event_of("s", r, &none, &StreamMapping::default(), None).unwrap_err();
        assert!(err.contains("has no time"), "{err}");
        let err = event_of(
            "s",
            record(json!({"x": 1})),
            &none,
            &StreamMapping::default(),
            None,
        )
        .unwrap_err();
        assert!(err.contains("key property \"id\""), "{err}");
    }
}
