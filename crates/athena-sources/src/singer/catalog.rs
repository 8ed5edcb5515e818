//! A tap's catalog: which streams it syncs. Discovered with `--discover` when the config names
//! streams but no catalog file, and those streams marked selected (Singer's metadata entry with
//! an empty breadcrumb, and the older stream-level `selected`); the others are marked not
//! selected.

use serde_json::{json, Map, Value};

/// Marks the streams named in `wanted` selected in `catalog` and every other stream not, and
/// says which of `wanted` the catalog does not have.
pub fn select(catalog: &mut Value, wanted: &[&str]) -> Result<Vec<String>, String> {
    let streams = catalog
        .get_mut("streams")
        .and_then(Value::as_array_mut)
        .ok_or("the catalog has no `streams` list")?;
    let mut found = Vec::new();
    for stream in streams.iter_mut() {
        let Some(entry) = stream.as_object_mut() else {
            continue;
        };
        let names: Vec<String> = ["tap_stream_id", "stream"]
            .iter()
            .filter_map(|k| entry.get(*k).and_then(Value::as_str).map(str::to_string))
            .collect();
        let selected = names.iter().any(|n| wanted.contains(&n.as_str()));
        if selected {
            found.extend(names);
        }
        entry.insert("selected".into(), Value::Bool(selected));
        let metadata = entry
            .entry("metadata")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(metadata) = metadata.as_array_mut() else {
            return Err("a stream's `metadata` is not a list".into());
        };
        let top = metadata.iter_mut().find(|m| {
            m.get("breadcrumb")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
        });
        match top.and_then(|m| m.get_mut("metadata")).and_then(Value::as_object_mut) {
            Some(top) => {
                top.insert("selected".into(), Value::Bool(selected));
            }
            None => metadata.push(json!({"breadcrumb": [], "metadata": {"selected": selected}})),
        }
    }
    Ok(wanted
        .iter()
        .filter(|w| !found.iter().any(|f| f == *w))
        .map(|w| w.to_string())
        .collect())
}

/// Reads a catalog a tap printed.
pub fn parse(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("its --discover output is not a JSON catalog: {e}"))?;
    if value.get("streams").is_some_and(Value::is_array) {
        Ok(value)
    } else {
        Err("its --discover output has no `streams` list".into())
    }
}

/// The names of the streams of `catalog` (for a message).
pub fn stream_names(catalog: &Value) -> Vec<String> {
    let empty = Map::new();
    catalog
        .get("streams")
        .and_then(Value::as_array)
        .map(|streams| {
            streams
                .iter()
                .filter_map(|s| {
                    let s = s.as_object().unwrap_or(&empty);
                    s.get("tap_stream_id")
                        .or_else(|| s.get("stream"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_streams_are_selected_and_the_others_not_and_a_missing_one_is_said() {
        let mut catalog = json!({"streams": [
            {"tap_stream_id": "users", "stream": "users", "schema": {},
             "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}},
                          {"breadcrumb": ["properties", "id"], "metadata": {}}]},
            {"tap_stream_id": "orders", "schema": {}}
        ]});
        let missing = select(&mut catalog, &["users", "refunds"]).unwrap();
        assert_eq!(missing, vec!["refunds".to_string()]);
        let users = &catalog["streams"][0];
        assert_eq!(users["selected"], true);
        assert_eq!(users["metadata"][0]["metadata"]["selected"], true);
        assert_eq!(users["metadata"][0]["metadata"]["inclusion"], "available");
        assert_eq!(users["metadata"][1]["metadata"].get("selected"), None);
        let orders = &catalog["streams"][1];
        assert_eq!(orders["selected"], false);
        assert_eq!(orders["metadata"][0]["breadcrumb"], json!([]));
        assert_eq!(orders["metadata"][0]["metadata"]["selected"], false);
        assert_eq!(stream_names(&catalog), vec!["users", "orders"]);
        assert!(parse("{}").is_err());
        assert!(parse("nope").unwrap_err().contains("not a JSON catalog"));
    }
}
