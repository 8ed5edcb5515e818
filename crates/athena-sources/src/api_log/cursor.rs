//! The `api_log` cursor: per file, how it is recognised and how far it is stored.
//!
//! Version 2 (written now) identifies a file by its device and inode while it lives and by a
//! hash of its first bytes (up to 64 KiB) once it has been renamed or compressed. Version 1
//! (written by earlier releases) keyed files by a hash of their first line only, which two
//! logs starting with the same header line share; it is still read: its files resume at their
//! offsets, and their new lines get content-derived ids like any other.

use std::collections::BTreeMap;

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

/// Version 2:
///
/// ```json
/// {"version":2,"files":[{"path":"/var/log/access.log","dev":2049,"ino":42,"offset":1234,"line":10,"head_len":1234,"head":"9f…"}]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LogCursor {
    pub version: u32,
    pub files: Vec<FileState>,
}

/// One known file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileState {
    /// Where the file was last seen.
    pub path: String,
    /// Its device, with `ino` what finds it again after a rename (0: not known, from version 1).
    pub dev: u64,
    /// Its inode.
    pub ino: u64,
    /// Bytes stored (of the decompressed content for `.gz`): the byte after the last stored line.
    pub offset: u64,
    /// Lines stored.
    pub line: u64,
    /// How many of the file's first bytes `head` hashes: `min(offset, 64 KiB)` when saved.
    pub head_len: u64,
    /// BLAKE3 (32 hex digits) of the first `head_len` bytes: what recognises the file by its
    /// content when its inode is gone (compressed) or holds something else (copytruncate).
    pub head: String,
    /// For a `.gz` read to its end (or to where it broke): its compressed size then. The same
    /// size next time means nothing new, and the file is not decompressed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gz_len: Option<u64>,
    /// A file first stored under cursor version 1, until its head is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<Legacy>,
}

/// How version 1 knew a file: what recognises it until this release has hashed its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Legacy {
    /// BLAKE3 (32 hex digits) of its first line (at most 1 KiB).
    pub first_line: String,
}

pub(crate) const VERSION: u32 = 2;

/// Version 1, as earlier releases wrote it: files keyed by their first line's fingerprint.
#[derive(Debug, Deserialize)]
struct CursorV1 {
    files: BTreeMap<String, FileStateV1>,
}

#[derive(Debug, Deserialize)]
struct FileStateV1 {
    path: String,
    offset: u64,
    line: u64,
    #[serde(default)]
    ino: u64,
}

impl From<CursorV1> for LogCursor {
    fn from(v1: CursorV1) -> Self {
        let files = v1
            .files
            .into_iter()
            .map(|(fingerprint, f)| FileState {
                path: f.path,
                dev: 0,
                ino: f.ino,
                offset: f.offset,
                line: f.line,
                head_len: 0,
                head: String::new(),
                gz_len: None,
                legacy: Some(Legacy {
                    first_line: fingerprint,
                }),
            })
            .collect();
        LogCursor {
            version: VERSION,
            files,
        }
    }
}

/// The saved cursor in the current version, whichever version was saved.
pub(crate) fn decode(saved: Option<Cursor>, source_id: &str) -> Result<LogCursor, SourceError> {
    let Some(saved) = saved else {
        return Ok(LogCursor {
            version: VERSION,
            files: Vec::new(),
        });
    };
    if saved.version() == Some(1) {
        let v1: Option<CursorV1> = Cursor::decode_saved(Some(saved), source_id, 1)?;
        return Ok(v1.map(LogCursor::from).unwrap_or_default());
    }
    Ok(Cursor::decode_saved(Some(saved), source_id, u64::from(VERSION))?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(text: &str) -> Cursor {
        Cursor::from_json(serde_json::from_str(text).unwrap())
    }

    #[test]
    fn version_2_reads_from_a_fixed_string() {
        let text = r#"{"version":2,"files":[{"path":"/l/a.log","dev":2049,"ino":7,"offset":10,"line":2,"head_len":10,"head":"ab12","gz_len":5}]}"#;
        let c = decode(Some(cursor(text)), "web").unwrap();
        let f = &c.files[0];
        assert_eq!(
            (f.dev, f.ino, f.offset, f.line, f.head_len),
            (2049, 7, 10, 2, 10)
        );
        assert_eq!((f.head.as_str(), f.gz_len), ("ab12", Some(5)));
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
    }

    #[test]
    fn version_1_is_upgraded_with_its_offsets_and_first_lines() {
        let text = r#"{"version":1,"files":{"0123456789abcdef0123456789abcdef":{"path":"/l/a.log","offset":10,"line":2,"ino":7,"generation":1},"fedcba9876543210fedcba9876543210":{"path":"p","offset":1,"line":1}}}"#;
        let c = decode(Some(cursor(text)), "web").unwrap();
        assert_eq!(c.version, VERSION);
        let a = c.files.iter().find(|f| f.path == "/l/a.log").unwrap();
        assert_eq!((a.ino, a.offset, a.line, a.head_len), (7, 10, 2, 0));
        let legacy = a.legacy.as_ref().unwrap();
        assert_eq!(legacy.first_line, "0123456789abcdef0123456789abcdef");
        let p = c.files.iter().find(|f| f.path == "p").unwrap();
        assert_eq!(
            p.legacy.as_ref().unwrap().first_line,
            "fedcba9876543210fedcba9876543210"
        );
    }

    #[test]
    fn an_unknown_version_is_a_cursor_error() {
        let e = decode(Some(cursor(r#"{"version":3,"files":[]}"#)), "web").unwrap_err();
        assert!(matches!(e, SourceError::Cursor { .. }), "{e}");
    }
}
