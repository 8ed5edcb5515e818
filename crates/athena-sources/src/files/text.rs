//! Which files keep their text in their event's body, so that a search finds what a note
//! says, not only its path: small files with a notes-like name, and only when they are UTF-8
//! text (no NUL byte). Everything else keeps an empty body.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The rule, from the source's `keep_text_max_bytes` and `keep_text_extensions`.
#[derive(Debug, Clone)]
pub(crate) struct KeepText {
    /// At most this many bytes (`0`: no file keeps text).
    max_bytes: u64,
    /// Name endings, lower case, without the dot.
    extensions: Vec<String>,
}

impl KeepText {
    pub(crate) fn new(max_bytes: u64, extensions: &[String]) -> Self {
        KeepText {
            max_bytes,
            extensions: (extensions.iter())
                .map(|e| e.trim_start_matches('.').to_lowercase())
                .collect(),
        }
    }

    /// Whether a file named `rel` of `size` bytes is one whose text is kept.
    fn applies(&self, rel: &[u8], size: u64) -> bool {
        if size == 0 || size > self.max_bytes {
            return false;
        }
        let Some(ext) = Path::new(std::ffi::OsStr::from_bytes(rel)).extension() else {
            return false;
        };
        let ext = ext.to_string_lossy().to_lowercase();
        self.extensions.contains(&ext)
    }

    /// The text of the file `rel` under `root`, if it is kept: its `size` bytes as read now
    /// (none if the file is no longer that size, as when it was written since it was hashed),
    /// valid UTF-8 without a NUL byte.
    pub(crate) fn text_of(&self, root: &Path, rel: &[u8], size: u64) -> Option<String> {
        if !self.applies(rel, size) {
            return None;
        }
        let file = std::fs::File::open(root.join(std::ffi::OsStr::from_bytes(rel))).ok()?;
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(size + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 != size || bytes.contains(&0) {
            return None;
        }
        String::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep() -> KeepText {
        KeepText::new(16, &["md".into(), ".TXT".into()])
    }

    #[test]
    fn small_notes_keep_their_text_and_others_none() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.path().join(name), bytes).unwrap();
            bytes.len() as u64
        };
        let n = write("a.md", b"rate limit\n");
        assert_eq!(
            keep().text_of(dir.path(), b"a.md", n).as_deref(),
            Some("rate limit\n")
        );
        let n = write("B.Txt", b"hello");
        assert_eq!(keep().text_of(dir.path(), b"B.Txt", n).as_deref(), Some("hello"));
        // Too big, not a notes name, binary, not UTF-8, changed size since hashed, off.
        let n = write("big.md", &[b'x'; 17]);
        assert_eq!(keep().text_of(dir.path(), b"big.md", n), None);
        let n = write("c.rs", b"fn main");
        assert_eq!(keep().text_of(dir.path(), b"c.rs", n), None);
        let n = write("nul.md", b"a\0b");
        assert_eq!(keep().text_of(dir.path(), b"nul.md", n), None);
        let n = write("latin.md", b"caf\xe9");
        assert_eq!(keep().text_of(dir.path(), b"latin.md", n), None);
        let n = write("moved.md", b"abc");
        assert_eq!(keep().text_of(dir.path(), b"moved.md", n + 1), None);
        let off = KeepText::new(0, &["md".into()]);
        assert_eq!(off.text_of(dir.path(), b"a.md", 11), None);
    }
}
