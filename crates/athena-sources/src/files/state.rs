//! What the store keeps per file: size, modification time, content hash, and how many times
//! the path was deleted (a deleted path keeps a small tombstone, so a file put back at the same
//! path, even with the same time and contents, gets new event ids).

/// A file as last stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileState {
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// BLAKE3 of the contents, when the source hashes.
    pub hash: Option<[u8; 32]>,
    /// Deletions of this path so far; part of its event ids.
    pub generation: u32,
    /// The file is gone: this is a tombstone keeping `generation`.
    pub gone: bool,
}

/// Layout 2: `[2][flags][generation: u32][size: u64][mtime: i64][hash: 32 bytes, if flagged]`.
/// Layout 1 (no flags, no generation) is still read.
const VERSION: u8 = 2;
const GONE: u8 = 1;
const HASHED: u8 = 2;

impl FileState {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(54);
        out.push(VERSION);
        let flags = if self.gone { GONE } else { 0 } | if self.hash.is_some() { HASHED } else { 0 };
        out.push(flags);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.mtime_ns.to_le_bytes());
        if let Some(h) = &self.hash {
            out.extend_from_slice(h);
        }
        out
    }

    /// `None` for a value this release does not understand: the file is then treated as new.
    pub fn decode(bytes: &[u8]) -> Option<FileState> {
        let (&version, rest) = bytes.split_first()?;
        let (flags, generation, rest) = match version {
            1 => (if rest.len() == 48 { HASHED } else { 0 }, 0, rest),
            2 => {
                let (&flags, rest) = rest.split_first()?;
                let generation = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
                (flags, generation, &rest[4..])
            }
            _ => return None,
        };
        let hashed = flags & HASHED != 0;
        if rest.len() != if hashed { 48 } else { 16 } {
            return None;
        }
        let size = u64::from_le_bytes(rest[..8].try_into().ok()?);
        let mtime_ns = i64::from_le_bytes(rest[8..16].try_into().ok()?);
        let hash = hashed.then(|| rest[16..48].try_into().ok()).flatten();
        Some(FileState {
            size,
            mtime_ns,
            hash,
            generation,
            gone: flags & GONE != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_a_hash_and_reads_layout_1() {
        for hash in [None, Some([7u8; 32])] {
            for gone in [false, true] {
                let s = FileState {
                    size: 1 << 40,
                    mtime_ns: -5,
                    hash,
                    generation: 3,
                    gone,
                };
                assert_eq!(FileState::decode(&s.encode()), Some(s));
            }
        }
        let mut v1 = vec![1u8];
        v1.extend_from_slice(&9u64.to_le_bytes());
        v1.extend_from_slice(&7i64.to_le_bytes());
        let old = FileState::decode(&v1).unwrap();
        assert_eq!(
            (old.size, old.mtime_ns, old.generation, old.gone),
            (9, 7, 0, false)
        );
        assert_eq!(FileState::decode(&[3; 17]), None);
        assert_eq!(FileState::decode(&[1; 20]), None);
        assert_eq!(FileState::decode(&[]), None);
    }
}
