//! The Singer messages a tap writes on stdout, one JSON object a line: SCHEMA, RECORD, STATE
//! (and ACTIVATE_VERSION, which changes nothing here). A line that is not one of them is an
//! error naming its line number, for the source to keep as a dead letter.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// One message of a tap.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A stream's JSON Schema, the properties that identify a record, and the property a
    /// stream is replicated by.
    Schema {
        /// The stream.
        stream: String,
        /// Its records' JSON Schema.
        schema: Value,
        /// The properties that identify a record.
        key_properties: Vec<String>,
        /// The properties it is replicated by (the replication key first).
        bookmark_properties: Vec<String>,
    },
    /// A record of a stream.
    Record {
        /// Its stream.
        stream: String,
        /// The record.
        record: Map<String, Value>,
        /// When the tap read it, if it says.
        time_extracted: Option<DateTime<Utc>>,
    },
    /// The tap's state: given back with `--state` on the next run, as the tap gave it.
    State {
        /// The state, whole.
        value: Value,
    },
    /// A full-table version marker: nothing to store.
    ActivateVersion {
        /// Its stream.
        stream: String,
    },
}

/// Why a line is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// Its 1-based number in the tap's output.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads line `number` of a tap's output.
pub fn parse(text: &str, number: u64) -> Result<Message, LineError> {
    let fail = |reason: String| LineError {
        line: number,
        reason,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(fail("not a JSON object".into()));
    };
    let kind = match object.remove("type") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(fail("`type` is not a string".into())),
        None => return Err(fail("no `type`".into())),
    };
    let stream = |object: &mut Map<String, Value>| match object.remove("stream") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(fail(format!("a {kind} message without a `stream`"))),
    };
    match kind.as_str() {
        "SCHEMA" => {
            let stream = stream(&mut object)?;
            let schema = object
                .remove("schema")
                .filter(Value::is_object)
                .ok_or_else(|| fail(format!("the SCHEMA of {stream} has no `schema` object")))?;
            Ok(Message::Schema {
                key_properties: strings(object.remove("key_properties"))
                    .map_err(|e| fail(format!("`key_properties` of {stream}: {e}")))?,
                bookmark_properties: strings(object.remove("bookmark_properties"))
                    .map_err(|e| fail(format!("`bookmark_properties` of {stream}: {e}")))?,
                stream,
                schema,
            })
        }
        "RECORD" => {
            let stream = stream(&mut object)?;
            let record = match object.remove("record") {
                Some(Value::Object(record)) => record,
                _ => {
                    return Err(fail(format!(
                        "a RECORD of {stream} without a `record` object"
                    )))
                }
            };
            let time_extracted = match object.remove("time_extracted") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(
                    DateTime::parse_from_rfc3339(&t)
                        .map_err(|e| fail(format!("`time_extracted` {t:?}: {e}")))?
                        .with_timezone(&Utc),
                ),
                Some(_) => return Err(fail("`time_extracted` is not a string".into())),
            };
            Ok(Message::Record {
                stream,
                record,
                time_extracted,
            })
        }
        "STATE" => match object.remove("value") {
            Some(value) => Ok(Message::State { value }),
            None => Err(fail("a STATE without a `value`".into())),
        },
        "ACTIVATE_VERSION" => Ok(Message::ActivateVersion {
            stream: stream(&mut object)?,
        }),
        other => Err(fail(format!("unknown message type {other:?}"))),
    }
}

/// A list of strings, or nothing.
fn strings(value: Option<Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(format!("{other} is not a string")),
            })
            .collect(),
        Some(other) => Err(format!("{other} is not a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_record_and_state_messages_are_read() {
        let schema = parse(
            r#"{"type":"SCHEMA","stream":"users","schema":{"type":"object"},"key_properties":["id"],"bookmark_properties":["updated_at"]}"#,
            1,
        )
        .unwrap();
        assert_eq!(
            schema,
            Message::Schema {
                stream: "users".into(),
                schema: json!({"type": "object"}),
                key_properties: vec!["id".into()],
                bookmark_properties: vec!["updated_at".into()],
            }
        );
        let record = parse(
            r#"{"type":"RECORD","stream":"users","record":{"id":1},"time_extracted":"2024-05-01T12:00:00Z"}"#,
            2,
        )
        .unwrap();
        let Message::Record {
            stream,
            record,
            time_extracted,
        } = record
        else {
            panic!("not a record");
        };
        assert_eq!((stream.as_str(), record["id"].clone()), ("users", json!(1)));
        assert_eq!(
            time_extracted.unwrap().to_rfc3339(),
            "2024-05-01T12:00:00+00:00"
        );
        let state = parse(
            r#"{"type":"STATE","value":{"bookmarks":{"users":{"x":1}}}}"#,
            3,
        );
        assert_eq!(
            state.unwrap(),
            Message::State {
                value: json!({"bookmarks": {"users": {"x": 1}}})
            }
        );
    }

    #[test]
    fn a_bad_line_is_refused_with_its_number_and_why() {
        for (text, why) in [
            ("garbage", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"stream":"a"}"#, "no `type`"),
            (r#"{"type":"RECORD","record":{}}"#, "without a `stream`"),
            (
                r#"{"type":"RECORD","stream":"a","record":3}"#,
                "without a `record` object",
            ),
            (
                r#"{"type":"SCHEMA","stream":"a"}"#,
                "has no `schema` object",
            ),
            (r#"{"type":"STATE"}"#, "without a `value`"),
            (r#"{"type":"LOG","stream":"a"}"#, "unknown message type"),
            (
                r#"{"type":"RECORD","stream":"a","record":{},"time_extracted":"yesterday"}"#,
                "`time_extracted`",
            ),
        ] {
            let err = parse(text, 7).unwrap_err();
            assert_eq!(err.line, 7);
            assert!(err.reason.contains(why), "{text}: {err}");
        }
    }
}
