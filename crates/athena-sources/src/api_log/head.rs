//! What recognises a log file and names its lines: the file's first bytes.
//!
//! A file is recognised by a hash of its first bytes (up to [`HEAD_BYTES`]), and a line's event
//! id is `<prefix>:<offset>`, where the prefix hashes the file's bytes up to the end of that
//! line, or its first [`HEAD_BYTES`] for lines that end later. So an id depends only on the
//! file's content, never on its name or inode: a log read again after a rename, a compression
//! or `reset` gives the same ids, and two logs that begin with the same header line differ from
//! their first different byte. Lines past the first 64 KiB of one file share a prefix, so the
//! store's unique index grows at one place while a large file is read.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Bytes of a file's beginning that identify it.
pub(crate) const HEAD_BYTES: u64 = 64 * 1024;

/// Bytes of the first line that version 1 cursors fingerprinted.
const LEGACY_FIRST_LINE_BYTES: usize = 1024;

/// The first bytes of a file, at most [`HEAD_BYTES`] (decompressed for `.gz`).
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub bytes: Vec<u8>,
}

impl Head {
    /// Reads the head of `path`. A `.gz` that breaks early gives what decoded before the break
    /// (the reader dead-letters the rest); an empty one gives an empty head.
    pub fn read(path: &Path, gz: bool) -> io::Result<Head> {
        let file = File::open(path)?;
        let mut bytes = Vec::new();
        if gz {
            let decoder = flate2::read::MultiGzDecoder::new(file);
            // Errors end the head; what decoded before them is kept.
            read_up_to(decoder, &mut bytes);
        } else {
            file.take(HEAD_BYTES).read_to_end(&mut bytes)?;
        }
        Ok(Head { bytes })
    }

    /// BLAKE3 of the first `len` bytes, or `None` when the head is shorter.
    pub fn hash(&self, len: u64) -> Option<String> {
        let len = usize::try_from(len).ok()?;
        self.bytes.get(..len).map(hex32)
    }

    /// What a version 1 cursor keyed the file by: BLAKE3 of its first line (newline included,
    /// at most 1 KiB), or `None` while the file has no complete first line.
    pub fn legacy_first_line(&self) -> Option<String> {
        let cap = self.bytes.len().min(LEGACY_FIRST_LINE_BYTES);
        match memchr::memchr(b'\n', &self.bytes[..cap]) {
            Some(i) => Some(hex32(&self.bytes[..=i])),
            None if cap == LEGACY_FIRST_LINE_BYTES => Some(hex32(&self.bytes[..cap])),
            None => None,
        }
    }
}

fn read_up_to(mut reader: impl Read, out: &mut Vec<u8>) {
    let mut buf = [0u8; 16 * 1024];
    while (out.len() as u64) < HEAD_BYTES {
        let want = (HEAD_BYTES as usize - out.len()).min(buf.len());
        match reader.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// BLAKE3 as 32 hex digits (128 bits).
pub(crate) fn hex32(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..32].to_string()
}

/// The ids of one file's lines, read in order.
///
/// It hashes every byte of the file's first [`HEAD_BYTES`] as lines go by, which also gives
/// the cursor the file's `head` for the part that is stored.
pub(crate) struct LineIds {
    hasher: blake3::Hasher,
    /// Bytes hashed: `min(offset of the next line, HEAD_BYTES)`.
    hashed: u64,
    /// The prefix of the next line's id, when computed since the last [`LineIds::advance`].
    prefix: Option<String>,
}

impl LineIds {
    /// Ids from `offset` on, or `None` when `head` lacks the file's first
    /// `min(offset, HEAD_BYTES)` bytes (the file changed since it was looked at).
    pub fn new(head: &Head, offset: u64) -> Option<LineIds> {
        let known = offset.min(HEAD_BYTES) as usize;
        let mut hasher = blake3::Hasher::new();
        hasher.update(head.bytes.get(..known)?);
        Some(LineIds {
            hasher,
            hashed: known as u64,
            prefix: None,
        })
    }

    /// A whole line (its newline included) has gone by.
    pub fn advance(&mut self, line: &[u8]) {
        if self.hashed < HEAD_BYTES {
            let take = (line.len() as u64).min(HEAD_BYTES - self.hashed) as usize;
            self.hasher.update(&line[..take]);
            self.hashed += take as u64;
            self.prefix = None;
        }
    }

    /// The id of the line that starts at `offset` and was just [`advance`](LineIds::advance)d
    /// over. Zero-padded so that one file's ids sort in file order.
    pub fn id(&mut self, offset: u64) -> String {
        let hasher = &self.hasher;
        let prefix = self
            .prefix
            .get_or_insert_with(|| hasher.finalize().to_hex()[..16].to_string());
        let mut id = String::with_capacity(prefix.len() + 21);
        id.push_str(prefix);
        id.push(':');
        // Zero-padded to twelve digits, as `{offset:012}` writes it.
        let digits = offset.checked_ilog10().map_or(1, |d| d as usize + 1);
        id.extend(std::iter::repeat_n('0', 12usize.saturating_sub(digits)));
        athena_core::json::push_u64(&mut id, offset);
        id
    }

    /// Bytes hashed so far: `min(offset of the next line, HEAD_BYTES)`.
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    /// `(head_len, head)` for the cursor: the hash of the bytes gone by, up to [`HEAD_BYTES`].
    pub fn head(&self) -> (u64, String) {
        (
            self.hashed,
            self.hasher.finalize().to_hex()[..32].to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_of(text: &[u8]) -> Vec<String> {
        let mut ids = LineIds::new(&Head::default(), 0).unwrap();
        let mut offset = 0;
        text.split_inclusive(|b| *b == b'\n')
            .map(|line| {
                ids.advance(line);
                let id = ids.id(offset);
                offset += line.len() as u64;
                id
            })
            .collect()
    }

    #[test]
    fn an_id_is_the_prefix_and_the_offset_in_twelve_digits_or_more() {
        let mut ids = LineIds::new(&Head::default(), 0).unwrap();
        ids.advance(b"GET /a\n");
        for offset in [0, 7, 1_000, 999_999_999_999, 1_000_000_000_000, u64::MAX] {
            let id = ids.id(offset);
            let (prefix, digits) = id.split_once(':').unwrap();
            assert_eq!(prefix.len(), 16, "{id}");
            assert_eq!(digits, format!("{offset:012}"), "{id}");
        }
    }

    #[test]
    fn two_files_with_the_same_first_line_differ_from_their_second() {
        let a = ids_of(b"#Version: 1.0\nGET /a\nGET /c\n");
        let b = ids_of(b"#Version: 1.0\nGET /b\nGET /c\n");
        assert_eq!(a[0], b[0], "the same bytes are the same line");
        assert_ne!(a[1], b[1]);
        assert_ne!(a[2], b[2], "a line's id depends on every byte before it");
    }

    #[test]
    fn ids_resume_from_a_head_and_the_cursor_head_matches_the_file() {
        let text = b"one\ntwo\nthree\n";
        let whole = ids_of(text);
        let head = Head {
            bytes: text.to_vec(),
        };
        let mut ids = LineIds::new(&head, 4).unwrap();
        ids.advance(b"two\n");
        assert_eq!(ids.id(4), whole[1]);
        assert_eq!(ids.head(), (8, head.hash(8).unwrap()));
    }

    #[test]
    fn lines_past_the_head_share_its_prefix() {
        let mut text = vec![b'x'; HEAD_BYTES as usize + 10];
        text[HEAD_BYTES as usize - 5] = b'\n';
        text.extend_from_slice(b"\nlast\n");
        let ids = ids_of(&text);
        let prefix = |id: &String| id.split(':').next().unwrap().to_string();
        assert_eq!(ids.len(), 3);
        assert_eq!(prefix(&ids[1]), prefix(&ids[2]));
        assert_eq!(
            prefix(&ids[1]),
            hex32(&text[..HEAD_BYTES as usize])[..16].to_string()
        );
    }

    #[test]
    fn a_head_shorter_than_the_stored_part_gives_no_ids() {
        let head = Head {
            bytes: b"one\n".to_vec(),
        };
        assert!(LineIds::new(&head, 8).is_none());
        assert!(LineIds::new(&head, 4).is_some());
    }
}
