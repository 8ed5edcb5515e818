//! Writing an event's `context` or `metadata` straight to JSON text.
//!
//! A source that produces events by the million (one per log line) spends most of its time
//! building `serde_json` maps — a dozen key and value allocations per event — only for the
//! engine to serialize and free them again. [`JsonObject`] writes the same object as text in
//! one buffer; the source hands it over in [`Batch::json`](crate::Batch::json).

use std::fmt::Write as _;

/// A JSON object written field by field. Keys are written in call order; `None` values are left
/// out, as the map-building sources leave out null fields.
#[derive(Debug, Clone, Default)]
pub struct JsonObject {
    text: String,
}

impl JsonObject {
    /// An empty object with room for `capacity` bytes of text.
    pub fn with_capacity(capacity: usize) -> Self {
        JsonObject {
            text: String::with_capacity(capacity),
        }
    }

    fn key(&mut self, key: &str) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        push_str(&mut self.text, key);
        self.text.push(':');
    }

    /// `"key": "value"`.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_str(&mut self.text, value);
        self
    }

    /// `"key": "value"` when there is a value.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.str(key, v);
        }
        self
    }

    /// `"key": value` for an unsigned integer.
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.text, "{value}");
        self
    }

    /// `"key": value` when there is a value.
    pub fn opt_u64(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        if let Some(v) = value {
            self.u64(key, v);
        }
        self
    }

    /// `"key": value` for a finite number; JSON has no NaN or infinity, so those are left out
    /// (as `serde_json` turns them into null, which the map-building sources drop).
    pub fn opt_f64(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        if let Some(n) = value.and_then(serde_json::Number::from_f64) {
            self.key(key);
            let _ = write!(self.text, "{n}");
        }
        self
    }

    /// `"key": true|false`.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.text.push_str(if value { "true" } else { "false" });
        self
    }

    /// The finished object's text.
    pub fn finish(mut self) -> String {
        if self.text.is_empty() {
            self.text.push('{');
        }
        self.text.push('}');
        self.text
    }
}

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control characters escaped.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn objects_read_back_as_the_same_json() {
        let mut o = JsonObject::default();
        o.str("plain", "GET /a b")
            .str(
                "tricky",
                "quote \" backslash \\ nl \n tab \t bell \u{7} é → 😀",
            )
            .opt_str("absent", None)
            .opt_str("present", Some(""))
            .u64("n", u64::MAX)
            .opt_u64("none", None)
            .opt_f64("latency", Some(0.012))
            .opt_f64("nan", Some(f64::NAN))
            .bool("flag", true);
        let text = o.finish();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({
                "plain": "GET /a b",
                "tricky": "quote \" backslash \\ nl \n tab \t bell \u{7} é → 😀",
                "present": "",
                "n": u64::MAX,
                "latency": 0.012,
                "flag": true,
            })
        );
        // Keys keep their call order.
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["plain", "tricky", "present", "n", "latency", "flag"]);
    }

    #[test]
    fn an_empty_object_is_braces() {
        assert_eq!(JsonObject::default().finish(), "{}");
        assert_eq!(JsonObject::with_capacity(8).finish(), "{}");
    }

    #[test]
    fn every_control_character_is_escaped() {
        let all: String = (0u8..0x20).map(char::from).collect();
        let mut o = JsonObject::default();
        o.str("c", &all);
        let text = o.finish();
        assert!(text.bytes().all(|b| b >= 0x20), "{text:?}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["c"], all);
    }
}
