//! Whether a RECORD matches its stream's SCHEMA: the parts of JSON Schema that Singer taps
//! write (`type`, possibly a list with `"null"`; `properties`; `items`; `required`; `anyOf`;
//! `enum`). Anything else in a schema is accepted as it is, so a schema using more of JSON
//! Schema than this checks less, never refuses more. `format` is not checked: taps pass times
//! through from APIs in many shapes (`+0000` offsets, no offset, `""`), and a record refused
//! for its format would be skipped for good once the next STATE is stored.

use serde_json::{Map, Value};

/// Why a value does not match, with where (`record.address.zip: "x" is not an integer`).
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, &mut String::from("record"))
}

fn check_at(schema: &Value, value: &Value, path: &mut String) -> Result<(), String> {
    let Value::Object(schema) = schema else {
        // `true`, `{}` or anything unknown: accepts every value.
        return if schema == &Value::Bool(false) {
            Err(format!("{path}: no value is allowed here"))
        } else {
            Ok(())
        };
    };
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|s| check_at(s, value, &mut path.clone()).is_ok()) {
            return Err(format!("{path}: {} matches none of its anyOf", brief(value)));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        // A nullable field's `enum` often leaves null out (older SDKs write it so).
        let null_allowed = value.is_null() && schema.get("type").is_some_and(|t| type_matches(t, value));
        if !allowed.contains(value) && !null_allowed {
            return Err(format!("{path}: {} is not one of {}", brief(value), brief(&Value::Array(allowed.clone()))));
        }
    }
    if let Some(types) = schema.get("type") {
        if !type_matches(types, value) {
            return Err(format!("{path}: {} is not {}", brief(value), type_names(types)));
        }
    }
    match value {
        Value::Object(object) => check_object(schema, object, path),
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) if item_schema.is_object() => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    check_at(item_schema, item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn check_object(schema: &Map<String, Value>, object: &Map<String, Value>, path: &mut String) -> Result<(), String> {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(key) {
                return Err(format!("{path}: has no {key:?}, which its schema requires"));
            }
        }
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    for (key, field) in object {
        if let Some(field_schema) = properties.get(key) {
            let len = path.len();
            path.push('.');
            path.push_str(key);
            check_at(field_schema, field, path)?;
            path.truncate(len);
        }
    }
    Ok(())
}

/// Whether `value` is of the type (or one of the types) `types` names.
fn type_matches(types: &Value, value: &Value) -> bool {
    match types {
        Value::String(name) => is_type(name, value),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(|n| is_type(n, value)),
        _ => true,
    }
}

fn is_type(name: &str, value: &Value) -> bool {
    match (name, value) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("string", Value::String(_))
        | ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        // An unknown type name checks nothing.
        (other, _) => !matches!(other, "null" | "boolean" | "string" | "object" | "array" | "number" | "integer"),
    }
}

fn type_names(types: &Value) -> String {
    match types {
        Value::Array(names) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            format!("any of {}", names.join(", "))
        }
        Value::String(name) => format!("{} {name}", if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }),
        other => other.to_string(),
    }
}

/// A value for a message: short ones whole, long ones cut.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 60 {
        return text;
    }
    let mut end = 57;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_checked_against_the_schema_singer_taps_write() {
        let schema = json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": ["null", "string"]},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "address": {"type": "object", "properties": {"zip": {"type": "integer"}}},
                "kind": {"enum": ["a", "b"]},
                "nullable_kind": {"type": ["string", "null"], "enum": ["a", "b"]},
                "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
            }
        });
        let good = json!({"id": 1, "name": null, "at": "2024-05-01T10:00:00+00:00",
            "tags": ["x"], "address": {"zip": 12345}, "kind": "a", "either": "s", "extra": [1]});
        assert_eq!(check(&schema, &good), Ok(()));
        assert_eq!(check(&schema, &json!({"id": 2.0})), Ok(()), "2.0 is an integer");
        for at in ["2024-05-01 10:00:00", "2024-05-01T10:00:00.000+0000", "", "yesterday"] {
            assert_eq!(check(&schema, &json!({"id": 1, "at": at})), Ok(()), "{at}");
        }
        assert_eq!(check(&schema, &json!({"id": 1, "nullable_kind": null})), Ok(()));
        for (bad, why) in [
            (json!({"name": "x"}), "record: has no \"id\", which its schema requires"),
            (json!({"id": "1"}), "record.id: \"1\" is not an integer"),
            (json!({"id": 1.5}), "record.id: 1.5 is not an integer"),
            (json!({"id": 1, "name": 3}), "record.name: 3 is not any of null, string"),
            (json!({"id": 1, "tags": ["x", 2]}), "record.tags[1]: 2 is not a string"),
            (json!({"id": 1, "address": {"zip": "x"}}), "record.address.zip: \"x\" is not an integer"),
            (json!({"id": 1, "kind": "c"}), "record.kind: \"c\" is not one of [\"a\",\"b\"]"),
            (json!({"id": 1, "either": true}), "record.either: true matches none of its anyOf"),
        ] {
            assert_eq!(check(&schema, &bad).unwrap_err(), why);
        }
    }

    #[test]
    fn an_empty_or_unknown_schema_accepts_anything() {
        for schema in [json!({}), json!(true), json!({"type": "decimal"}), json!({"x-custom": 1})] {
            assert_eq!(check(&schema, &json!({"a": [1, {"b": null}]})), Ok(()));
        }
        assert!(check(&json!(false), &json!(1)).is_err());
    }
}
