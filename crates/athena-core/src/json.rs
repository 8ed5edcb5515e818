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
        push_u64(&mut self.text, value);
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
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    // Eight bytes at a time while none needs escaping (most text), then byte by byte.
    let mut clean = 0;
    while let Some(word) = bytes.get(clean..clean + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        if needs_escape(word) {
            break;
        }
        clean += 8;
    }
    let mut plain = 0;
    for (i, b) in bytes.iter().enumerate().skip(clean) {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // (`i` is at an ASCII byte: a character boundary.)
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

/// Whether one of the eight bytes of `word` is a control character, `"` or `\`. (A byte
/// below `n`, for `n` up to 128, is found by `(w - n·ONES) & !w & HIGH`: the subtraction
/// borrows into a byte's high bit only where the byte was below `n`, and `!w` leaves out bytes
/// that had it set already; a byte equal to `c` is a zero byte of `w ^ c·ONES`.)
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * n as u64) & !w;
    let control = below(word, 0x20);
    let quote = below(word ^ (ONES * b'"' as u64), 1);
    let backslash = below(word ^ (ONES * b'\\' as u64), 1);
    (control | quote | backslash) & HIGH != 0
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
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

    #[test]
    fn strings_escape_as_serde_json_does_wherever_the_escapes_fall() {
        // Escapes at every position around the eight-byte words, in text with multi-byte
        // characters, against serde_json's own writing.
        let specials = [
            '"', '\\', '\n', '\u{1}', '\u{1f}', '\t', 'é', '→', ' ', '~', '\u{7f}',
        ];
        for len in 0..20 {
            for at in 0..len {
                for c in specials {
                    let text: String = (0..len)
                        .map(|i| {
                            if i == at {
                                c
                            } else {
                                (b'a' + (i % 26) as u8) as char
                            }
                        })
                        .collect();
                    let mut out = String::new();
                    push_str(&mut out, &text);
                    assert_eq!(out, serde_json::to_string(&text).unwrap(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 100, 1_000_000, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }
}
