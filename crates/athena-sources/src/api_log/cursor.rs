//! The `api_log` cursor: per file, identified by the fingerprint of its first line, how far it
//! is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version 1:
///
/// ```json
/// {"version":1,"files":{"<fingerprint>":{"path":"/var/log/access.log","offset":1234,"line":10,"ino":42,"generation":0}}}
/// ```
///
/// The key is the BLAKE3 hash of the file's first line, so a renamed or compressed file is
/// still recognised. `offset` is the byte after the last stored line, `line` its line number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LogCursor {
    pub version: u32,
    pub files: BTreeMap<String, FileState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileState {
    /// Where the file was last seen.
    pub path: String,
    /// Bytes stored (of the decompressed content for `.gz`).
    pub offset: u64,
    /// Lines stored.
    pub line: u64,
    /// The inode it had, to find it again after a rename out of the configured paths.
    #[serde(default)]
    pub ino: u64,
    /// Bumped each time the file was truncated in place (copytruncate), so that new lines at
    /// old offsets get new ids.
    #[serde(default)]
    pub generation: u32,
}

pub(crate) const VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_reads_from_a_fixed_string() {
        let text = r#"{"version":1,"files":{"ab12":{"path":"/l/a.log","offset":10,"line":2,"ino":7,"generation":1}}}"#;
        let c: LogCursor = serde_json::from_str(text).unwrap();
        let f = &c.files["ab12"];
        assert_eq!((f.offset, f.line, f.ino, f.generation), (10, 2, 7, 1));
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
        let old: LogCursor =
            serde_json::from_str(r#"{"version":1,"files":{"x":{"path":"p","offset":1,"line":1}}}"#)
                .unwrap();
        assert_eq!((old.files["x"].ino, old.files["x"].generation), (0, 0));
    }
}
