//! The events of the `files` source: `file_created`, `file_modified` and `file_deleted`, with
//! ids that name the path, its generation and the version of the file they describe.

use std::path::Path;

use athena_core::Event;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::language;
use super::state::FileState;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn time_of(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
}

/// The path as an event id names it: the path itself, or for a name that is not UTF-8 (shown
/// with U+FFFD for its bad bytes) that text and a hash of the raw bytes, so two names that
/// differ only in their bad bytes keep apart.
fn id_path(rel: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(rel) {
        Ok(text) => text.into(),
        Err(_) => {
            let raw = blake3::hash(rel);
            format!(
                "{}~{}",
                String::from_utf8_lossy(rel),
                hex(&raw.as_bytes()[..8])
            )
            .into()
        }
    }
}

/// An event about `rel`. Its id names the path and the version of the file it describes (time
/// and hash, or size), so the same change read twice has the same id.
pub(crate) fn file_event(
    kind: &str,
    rel_bytes: &[u8],
    root: &str,
    st: &FileState,
    detected_at: Option<DateTime<Utc>>,
) -> Event {
    let rel = &*String::from_utf8_lossy(rel_bytes);
    let version = match &st.hash {
        Some(h) => hex(&h[..8]),
        None => st.size.to_string(),
    };
    let verb = kind.strip_prefix("file_").unwrap_or(kind);
    // The path's generation (how many times it was deleted before) tells a file put back apart
    // from the one that was there; the first generation keeps the plain form.
    let named = id_path(rel_bytes);
    let path = match st.generation {
        0 => named.into_owned(),
        g => format!("{named}#{g}"),
    };
    let (id, at) = match detected_at {
        Some(at) => (format!("{path}@{}:{version}:deleted", st.mtime_ns), at),
        None => (
            format!("{path}@{}:{version}", st.mtime_ns),
            time_of(st.mtime_ns),
        ),
    };
    let mut e = Event::new(id, kind, at, format!("{verb} {rel}"));
    let mut context = Map::new();
    context.insert("root".into(), json!(root));
    context.insert("path".into(), json!(rel));
    e.context = context;
    let mut m = Map::new();
    m.insert("size".into(), json!(st.size));
    m.insert(
        "mtime".into(),
        json!(time_of(st.mtime_ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    m.insert(
        "hash".into(),
        st.hash
            .map_or(Value::Null, |h| json!(format!("blake3:{}", hex(&h)))),
    );
    m.insert(
        "language".into(),
        language::guess(Path::new(rel)).map_or(Value::Null, |l| json!(l)),
    );
    if rel.contains('\u{FFFD}') {
        m.insert("path_lossy".into(), json!(true));
    }
    e.metadata = m;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3-byte file, hashed, never deleted.
    fn hashed() -> FileState {
        FileState {
            size: 3,
            mtime_ns: 1_700_000_000_123_456_789,
            hash: Some([0xab; 32]),
            generation: 0,
            gone: false,
        }
    }

    #[test]
    fn ids_name_the_version_and_deletions_differ() {
        let st = hashed();
        let m = file_event("file_modified", b"src/a.rs", "/r", &st, None);
        assert_eq!(m.id, "src/a.rs@1700000000123456789:abababababababab");
        assert_eq!(m.title, "modified src/a.rs");
        assert_eq!(m.metadata["language"], "Rust");
        assert_eq!(m.metadata["mtime"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(m.occurred_at.timestamp_subsec_nanos(), 123_456_789);
        let d = file_event("file_deleted", b"src/a.rs", "/r", &st, Some(Utc::now()));
        assert_ne!(d.id, m.id);
        let unhashed = FileState { hash: None, ..st };
        let u = file_event("file_created", b"x", "/r", &unhashed, None);
        assert_eq!(u.id, "x@1700000000123456789:3");
        assert_eq!(u.metadata["hash"], Value::Null);
        let again = FileState {
            generation: 2,
            ..st
        };
        let g = file_event("file_created", b"src/a.rs", "/r", &again, None);
        assert_eq!(g.id, "src/a.rs#2@1700000000123456789:abababababababab");
    }

    #[test]
    fn names_that_differ_only_in_bad_bytes_keep_apart() {
        let st = hashed();
        let a = file_event("file_modified", b"bad\xff.txt", "/r", &st, None);
        let b = file_event("file_modified", b"bad\xfe.txt", "/r", &st, None);
        // Shown the same, lossily, and flagged; named apart.
        assert_eq!(a.context["path"], "bad\u{FFFD}.txt");
        assert_eq!(a.context["path"], b.context["path"]);
        assert_eq!(a.metadata["path_lossy"], true);
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("bad\u{FFFD}.txt~"), "{}", a.id);
        // A UTF-8 name keeps its plain id.
        let c = file_event("file_modified", "é.txt".as_bytes(), "/r", &st, None);
        assert!(c.id.starts_with("é.txt@"), "{}", c.id);
    }
}
