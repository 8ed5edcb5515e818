//! Masking the config's secrets in text that leaves the process: errors, logs, the store's run
//! records. [`Secret`] keeps a token out of `Display` and `Debug`, but a server may echo the
//! token in an error body, and that text is only a string by the time it is printed or stored.
//!
//! A [`Redactor`] holds the secret values (collected when sources are built, see
//! [`Registry::build_all`](crate::Registry::build_all)) and replaces each occurrence with
//! [`MASK`]: the raw value, and the forms a server echoing a request may use (any of its bytes
//! percent-encoded, in either case; JSON-escaped). Values shorter than [`MIN_SECRET_LEN`] are
//! not masked: a one- to three-character "secret" would mask ordinary words and numbers,
//! mangling every message, and protects nothing.

use std::borrow::Cow;
use std::fmt;

use crate::config::Secret;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets shorter than this many characters are left alone (see the module docs).
pub const MIN_SECRET_LEN: usize = 4;

/// A set of secret values to mask in text. Cheap to clone; empty by default.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Every form of every secret, longest first, so a secret that contains another is masked
    /// whole rather than around the shorter one.
    needles: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("forms", &self.needles.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that masks nothing.
    pub const fn new() -> Self {
        Redactor {
            needles: Vec::new(),
        }
    }

    /// Adds a secret value (and its encoded forms); too short a value is ignored.
    pub fn add(&mut self, secret: &str) {
        let trimmed = secret.trim();
        // Percent-encoded forms need no entry: `redact` matches them byte by byte.
        for form in [trimmed.to_string(), json_escape(trimmed)] {
            if form.chars().count() >= MIN_SECRET_LEN && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Adds a [`Secret`].
    pub fn add_secret(&mut self, secret: &Secret) {
        self.add(secret.expose());
    }

    /// Adds every secret of `other`.
    pub fn merge(&mut self, other: &Redactor) {
        for needle in &other.needles {
            if !self.needles.contains(needle) {
                self.needles.push(needle.clone());
            }
        }
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut out: Vec<u8> = Vec::new();
        // Bytes before `copied` are in `out` (or masked).
        let (mut copied, mut i) = (0, 0);
        while i < bytes.len() {
            let found = self
                .needles
                .iter()
                .find_map(|n| match_encoded(bytes, i, n.as_bytes()));
            match found {
                Some(end) => {
                    out.extend_from_slice(&bytes[copied..i]);
                    out.extend_from_slice(MASK.as_bytes());
                    (copied, i) = (end, end);
                }
                None => i += 1,
            }
        }
        if copied == 0 && out.is_empty() {
            return Cow::Borrowed(text);
        }
        out.extend_from_slice(&bytes[copied..]);
        // A match starts at `%` or at the needle's first byte and ends after its last, so the
        // cuts fall between characters; the lossy path is never taken.
        Cow::Owned(
            String::from_utf8(out)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }
}

/// Where `needle` ends if it starts at `text[at]`, each of its bytes written either as itself or
/// as `%XX` (hex in either case).
fn match_encoded(text: &[u8], at: usize, needle: &[u8]) -> Option<usize> {
    let mut j = at;
    for &b in needle {
        match text.get(j)? {
            &t if t == b => j += 1,
            b'%' => {
                let hex = std::str::from_utf8(text.get(j + 1..j + 3)?).ok()?;
                if u8::from_str_radix(hex, 16).ok()? != b {
                    return None;
                }
                j += 3;
            }
            _ => return None,
        }
    }
    Some(j)
}

thread_local! {
    /// The secrets created on this thread while [`collect_secrets`] runs. Serde gives a
    /// `Deserialize` impl no context to report to, and a source's constructor is synchronous,
    /// so a collector scoped to the constructor's thread sees every [`Secret`] it makes, however
    /// the source reads its config.
    static COLLECTING: std::cell::RefCell<Option<Redactor>> = const { std::cell::RefCell::new(None) };
}

/// Tells the collector, if one runs on this thread, about a secret just created.
pub(crate) fn note_secret(value: &str) {
    COLLECTING.with(|c| {
        if let Some(r) = c.borrow_mut().as_mut() {
            r.add(value);
        }
    });
}

/// Runs `f`, returning with its result every [`Secret`] created on this thread meanwhile.
/// Nested calls also report to the outer one.
pub(crate) fn collect_secrets<T>(f: impl FnOnce() -> T) -> (T, Redactor) {
    let mut scope = Scope {
        outer: Some(COLLECTING.with(|c| c.borrow_mut().replace(Redactor::new()))),
    };
    let result = f();
    let seen = scope.end();
    (result, seen)
}

/// One [`collect_secrets`] call: ends on drop too, so a panicking constructor does not leave
/// its collector installed.
struct Scope {
    /// The collector that was installed before (`Some(None)`: none); `None` once ended.
    outer: Option<Option<Redactor>>,
}

impl Scope {
    /// Puts the outer collector back, merged with what this one saw, and returns that.
    fn end(&mut self) -> Redactor {
        let Some(outer) = self.outer.take() else {
            return Redactor::new();
        };
        COLLECTING.with(|c| {
            let mut slot = c.borrow_mut();
            let seen = std::mem::replace(&mut *slot, outer).unwrap_or_default();
            if let Some(outer) = slot.as_mut() {
                outer.merge(&seen);
            }
            seen
        })
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.end();
    }
}

/// `s` as it appears inside a JSON string.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_percent_encoded_and_json_escaped_forms_are_masked() {
        let mut r = Redactor::new();
        r.add("tok/en+\"1");
        assert_eq!(r.redact("a tok/en+\"1 b").as_ref(), "a *** b");
        assert_eq!(r.redact("?t=tok%2Fen%2B%221&x").as_ref(), "?t=***&x");
        assert_eq!(r.redact("?t=tok%2fen%2b%221").as_ref(), "?t=***");
        // Over-encoded (even unreserved characters) and mixed forms too.
        assert_eq!(r.redact("%74ok%2Fen+%221.").as_ref(), "***.");
        assert_eq!(r.redact("tok%2Fen%2").as_ref(), "tok%2Fen%2");
        assert_eq!(
            r.redact(r#"{"echo":"Bearer tok/en+\"1"}"#).as_ref(),
            r#"{"echo":"Bearer ***"}"#
        );
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let mut r = Redactor::new();
        r.add("abcd");
        r.add("xxabcdyy");
        assert_eq!(r.redact("1 xxabcdyy 2 abcd").as_ref(), "1 *** 2 ***");
    }

    #[test]
    fn secrets_created_inside_a_collection_are_collected_and_reported_outward() {
        let ((), outer) = collect_secrets(|| {
            let _ = Secret::new("outer-secret");
            let ((), inner) = collect_secrets(|| {
                let _: Secret = serde_json::from_str("\"inner-secret\"").unwrap();
            });
            assert_eq!(
                inner.redact("inner-secret outer-secret"),
                "*** outer-secret"
            );
        });
        assert_eq!(outer.redact("inner-secret outer-secret"), "*** ***");
        // Outside a collection nothing is kept.
        let _ = Secret::new("stray-secret");
        let ((), none) = collect_secrets(|| ());
        assert!(none.is_empty());
    }

    #[test]
    fn short_secrets_are_not_masked_and_text_without_secrets_is_not_copied() {
        let mut r = Redactor::new();
        r.add("abc");
        r.add("  ");
        assert!(r.is_empty());
        assert_eq!(r.redact("abc"), "abc");
        r.add("long-enough");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
        assert!(!format!("{r:?}").contains("long-enough"));
    }
}
