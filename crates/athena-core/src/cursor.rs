//! Cursors: a source's saved position, stored as versioned JSON.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

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
