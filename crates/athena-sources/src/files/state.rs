//! What the store keeps per file: size, modification time and content hash, in 17 or 49 bytes.

/// A file as last stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileState {
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// BLAKE3 of the contents, when the source hashes.
    pub hash: Option<[u8; 32]>,
}

/// Layout version, the first byte of every value.
const VERSION: u8 = 1;

impl FileState {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(49);
        out.push(VERSION);
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
        if version != VERSION || (rest.len() != 16 && rest.len() != 48) {
            return None;
        }
        let size = u64::from_le_bytes(rest[..8].try_into().ok()?);
        let mtime_ns = i64::from_le_bytes(rest[8..16].try_into().ok()?);
        let hash = (rest.len() == 48)
            .then(|| rest[16..48].try_into().ok())
            .flatten();
        Some(FileState {
            size,
            mtime_ns,
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_a_hash() {
        for hash in [None, Some([7u8; 32])] {
            let s = FileState {
                size: 1 << 40,
                mtime_ns: -5,
                hash,
            };
            assert_eq!(FileState::decode(&s.encode()), Some(s));
        }
        assert_eq!(FileState::decode(&[2; 17]), None);
        assert_eq!(FileState::decode(&[1; 20]), None);
        assert_eq!(FileState::decode(&[]), None);
    }
}
