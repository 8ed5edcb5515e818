//! Cursors: a source's saved position, stored as versioned JSON.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::error::SourceError;

/// A source's position, opaque to the engine and the store.
///
/// A cursor is a JSON object with a `version` field (`{"version":1,…}`), so a source can change
/// its format later and still read what an older release saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor(Value);

/// A cursor that could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("cursor cannot be read: {0}")]
pub struct CursorError(pub String);

impl Cursor {
    /// Wraps a JSON value as saved in the store.
    pub fn from_json(value: Value) -> Self {
        Cursor(value)
    }

    /// Serializes a source's typed cursor. The type is expected to carry a `version` field.
    pub fn encode<T: Serialize>(state: &T) -> Self {
        // Serializing plain data structs to a Value cannot fail (no maps with non-string keys).
        Cursor(serde_json::to_value(state).unwrap_or(Value::Null))
    }

    /// Reads a source's typed cursor back.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, CursorError> {
        serde_json::from_value(self.0.clone()).map_err(|e| CursorError(e.to_string()))
    }

    /// Reads back the cursor a source saved, if any, expecting `version`: another version or a
    /// shape that does not decode is a [`SourceError::Cursor`] naming the source (the user is
    /// told how to start over).
    pub fn decode_saved<T: DeserializeOwned>(
        saved: Option<Cursor>,
        source_id: &str,
        version: u64,
    ) -> Result<Option<T>, SourceError> {
        let Some(c) = saved else {
            return Ok(None);
        };
        let error = |message: String| SourceError::Cursor {
            source_id: source_id.to_string(),
            message,
        };
        match c.version() {
            Some(v) if v == version => c.decode().map(Some).map_err(|e| error(e.to_string())),
            v => Err(error(format!(
                "unknown cursor version {v:?} (this release reads {version})"
            ))),
        }
    }

    /// The `version` field, if there is one.
    pub fn version(&self) -> Option<u64> {
        self.0.get("version").and_then(Value::as_u64)
    }

    /// The JSON value.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// The JSON value, owned.
    pub fn into_json(self) -> Value {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn saved_cursors_of_another_version_or_shape_are_errors_naming_the_source() {
        let v1 = Cursor::from_json(serde_json::json!({"version": 1, "tip": "a"}));
        let got: Option<V1> = Cursor::decode_saved(Some(v1.clone()), "s", 1).unwrap();
        assert_eq!(got.unwrap().tip, "a");
        assert!(Cursor::decode_saved::<V1>(None, "s", 1).unwrap().is_none());
        let e = Cursor::decode_saved::<V1>(Some(v1), "src", 2).unwrap_err();
        assert!(e.to_string().contains("source src") && e.to_string().contains("version Some(1)"));
        let bad = Cursor::from_json(serde_json::json!({"version": 1}));
        assert!(Cursor::decode_saved::<V1>(Some(bad), "s", 1).is_err());
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct V1 {
        version: u32,
        tip: String,
    }

    #[test]
    fn typed_cursor_round_trips_and_reports_version() {
        let c = Cursor::encode(&V1 {
            version: 1,
            tip: "abc".into(),
        });
        assert_eq!(c.version(), Some(1));
        let back: V1 = c.decode().unwrap();
        assert_eq!(back.tip, "abc");
    }

    #[test]
    fn wrong_shape_is_an_error_not_a_panic() {
        let c = Cursor::from_json(serde_json::json!({"version": 1, "tip": 5}));
        let err = c.decode::<V1>().unwrap_err();
        assert!(err.to_string().contains("cursor cannot be read"), "{err}");
    }
}
