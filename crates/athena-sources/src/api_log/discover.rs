//! Finding the log files of a sync and telling which of them the cursor already knows.
//!
//! A known file is found again by its device and inode (a rename, even out of the configured
//! paths, keeps them) when its first bytes are still what was stored, and otherwise by those
//! first bytes alone (a rotation compressed to `.gz`, or copied away before a copytruncate).
//! Two files that merely begin alike are two files: the stored head covers every stored byte
//! up to 64 KiB, not just the first line.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::cursor::FileState;
use super::head::Head;

/// A file found this sync.
pub(crate) struct Found {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// Size on disk (compressed for `.gz`).
    pub len: u64,
    /// Modification time (seconds, nanoseconds): oldest is read first.
    pub mtime: (i64, i64),
    pub gz: bool,
    pub head: Head,
    /// Found beside a stored file's last place by its inode, outside the configured paths: it
    /// is read only as that file.
    pub outside: bool,
    /// Hashes of the head by length, as pairing asks for them.
    hashes: HashMap<u64, Option<String>>,
}

impl Found {
    fn hash(&mut self, len: u64) -> Option<String> {
        let head = &self.head;
        self.hashes
            .entry(len)
            .or_insert_with(|| head.hash(len))
            .clone()
    }
}

/// What a sync does with a found file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Not known: read from its start (or its end, with `start_at = "end"`).
    New,
    /// The stored file at this index of the cursor's list: read on from its offset.
    Known(usize),
    /// Not read this sync: a `.gz` being written from a file still read as itself, or a file
    /// outside the paths that is not the stored one.
    Skip,
}

/// A path the patterns gave that is not a log file to read, for a warning.
pub(crate) struct Skipped {
    pub path: PathBuf,
    pub why: String,
}

/// The paths the patterns match now, leaving out `excluded` files (the store and the config,
/// by device and inode) and what is not a regular file.
pub(crate) fn matching(
    patterns: &[String],
    excluded: &HashSet<(u64, u64)>,
    skipped: &mut Vec<Skipped>,
) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut seen = HashSet::new();
    for pattern in patterns {
        let (mut matched, warned) = (false, skipped.len());
        // Patterns are checked when the config is read.
        let Ok(matches) = glob::glob(pattern) else {
            continue;
        };
        for m in matches {
            let path = match m {
                Ok(path) => path,
                Err(e) => {
                    skipped.push(Skipped {
                        path: e.path().to_path_buf(),
                        why: format!("cannot be listed: {}", e.error()),
                    });
                    continue;
                }
            };
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    let key = (meta.dev(), meta.ino());
                    if !excluded.contains(&key) {
                        matched = true;
                        // One file reached by two names (a symlink, a hard link) is read once.
                        if seen.insert(key) {
                            paths.push(path);
                        }
                    }
                }
                Ok(meta) => skipped.push(Skipped {
                    path,
                    why: format!("not a regular file ({})", kind(&meta.file_type())),
                }),
                Err(e) => skipped.push(Skipped {
                    path,
                    why: format!("cannot be read: {e}"),
                }),
            }
        }
        if !matched && skipped.len() == warned {
            skipped.push(Skipped {
                path: PathBuf::from(pattern),
                why: "matches no log file".into(),
            });
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

fn kind(t: &std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Stored files whose inode none of `paths` has, found beside their last place (renamed out
/// of the patterns: `access.log` → `access.log.1` with a pattern `access.log`).
pub(crate) fn renamed_away(saved: &[FileState], paths: &[PathBuf]) -> Vec<PathBuf> {
    let inodes: HashSet<(u64, u64)> = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
        .collect();
    let mut found = Vec::new();
    for st in saved {
        if st.ino == 0 || inodes.iter().any(|&(dev, ino)| same_inode(st, dev, ino)) {
            continue;
        }
        let Some(dir) = Path::new(&st.path).parent() else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry
                .metadata()
                .is_ok_and(|m| m.is_file() && same_inode(st, m.dev(), m.ino()))
            {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found.dedup();
    found.retain(|p| paths.binary_search(p).is_err());
    found
}

fn same_inode(st: &FileState, dev: u64, ino: u64) -> bool {
    st.ino == ino && (st.dev == 0 || st.dev == dev)
}

/// A path that could not be looked at: the error, and its (device, inode) if known, so that
/// a stored file behind it keeps its place in the cursor.
pub(crate) struct Unreadable {
    pub error: std::io::Error,
    pub inode: Option<(u64, u64)>,
}

/// Looks at one path: `None` if it is gone (a rotation in progress).
pub(crate) fn look(path: PathBuf, outside: bool) -> Result<Option<Found>, Unreadable> {
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Unreadable { error, inode: None }),
    };
    let gz = path.extension().is_some_and(|e| e == "gz");
    let head = match Head::read(&path, gz) {
        Ok(head) => head,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            let inode = Some((meta.dev(), meta.ino()));
            return Err(Unreadable { error, inode });
        }
    };
    Ok(Some(Found {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        gz,
        head,
        outside,
        hashes: HashMap::new(),
        path,
    }))
}

/// Pairs each found file with the stored file it is, if any (see the module doc).
pub(crate) fn pair(found: &mut [Found], saved: &[FileState]) -> Vec<Plan> {
    let mut plans: Vec<Plan> = found
        .iter()
        .map(|f| if f.outside { Plan::Skip } else { Plan::New })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; saved.len()];
    // The same inode with the stored bytes still in place: the file itself, wherever it is.
    // A file outside the paths must also show stored bytes: its inode alone may be a reuse.
    for (i, f) in found.iter_mut().enumerate() {
        for (s, st) in saved.iter().enumerate() {
            let recognisable = !f.outside || st.head_len > 0 || st.legacy.is_some();
            if owner[s].is_none()
                && recognisable
                && same_inode(st, f.dev, f.ino)
                && holds(st, f, false)
            {
                owner[s] = Some(i);
                plans[i] = Plan::Known(s);
                break;
            }
        }
    }
    // The stored bytes elsewhere: a compressed or copied rotation. Plain files first, so a
    // file being compressed is read as itself and its `.gz` is left for later.
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.sort_by_key(|&i| (found[i].gz, found[i].path.clone()));
    for i in order {
        if plans[i] != Plan::New {
            continue;
        }
        let f = &mut found[i];
        let matches: Vec<usize> = (0..saved.len())
            .filter(|&s| holds(&saved[s], f, true))
            .collect();
        if let Some(&s) = matches.iter().find(|&&s| owner[s].is_none()) {
            owner[s] = Some(i);
            plans[i] = Plan::Known(s);
        } else if found[i].gz
            && matches.iter().any(|&s| {
                owner[s].is_some_and(|o| !found[o].gz && being_compressed(&found[o], &found[i]))
            })
        {
            plans[i] = Plan::Skip;
        }
    }
    plans
}

/// Whether `gz` looks like `plain` being compressed: all it decodes to so far is what the
/// plain file begins with. A `.gz` that shows more (a rotation whose live successor merely
/// begins with the same header) is a file of its own.
fn being_compressed(plain: &Found, gz: &Found) -> bool {
    plain.head.bytes.starts_with(&gz.head.bytes)
}

/// Whether `f` begins with the bytes stored of `st`. `by_content`: no inode backs the match,
/// so the stored part must be recognisable by itself (something was stored).
fn holds(st: &FileState, f: &mut Found, by_content: bool) -> bool {
    if !f.gz && f.len < st.offset {
        return false; // shrunk: truncated in place
    }
    if st.head_len > 0 {
        // Past the first 64 KiB the head says nothing: a content match must at least resume
        // at the start of a line.
        let past_head = by_content && !f.gz && st.offset > st.head_len;
        return f.hash(st.head_len).as_deref() == Some(st.head.as_str())
            && (!past_head || ends_a_line(&f.path, st.offset));
    }
    match &st.legacy {
        // Version 1 knew only the first line: also check the stored part ends a line there.
        Some(legacy) => {
            f.head.legacy_first_line().as_deref() == Some(legacy.first_line.as_str())
                && (!by_content || f.gz || ends_a_line(&f.path, st.offset))
        }
        None => !by_content,
    }
}

/// Whether the byte before `offset` is a newline (or `offset` is 0).
fn ends_a_line(path: &Path, offset: u64) -> bool {
    if offset == 0 {
        return true;
    }
    let mut byte = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut byte, offset - 1))
        .is_ok_and(|()| byte[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_log::cursor::Legacy;
    use crate::api_log::head::hex32;

    fn found(ino: u64, bytes: &[u8], gz: bool) -> Found {
        Found {
            path: PathBuf::from(format!("/logs/{ino}{}", if gz { ".gz" } else { "" })),
            dev: 1,
            ino,
            len: bytes.len() as u64,
            mtime: (0, 0),
            gz,
            head: Head {
                bytes: bytes.to_vec(),
            },
            outside: false,
            hashes: HashMap::new(),
        }
    }

    fn stored(ino: u64, bytes: &[u8]) -> FileState {
        FileState {
            path: format!("/logs/{ino}"),
            dev: 1,
            ino,
            offset: bytes.len() as u64,
            line: 1,
            head_len: bytes.len() as u64,
            head: hex32(bytes),
            ..FileState::default()
        }
    }

    #[test]
    fn two_files_with_the_same_header_line_are_two_files() {
        let saved = [stored(1, b"#Version: 1.0\nGET /a\n")];
        let mut files = [
            found(1, b"#Version: 1.0\nGET /a\nGET /b\n", false),
            found(2, b"#Version: 1.0\nGET /x\n", false),
        ];
        assert_eq!(pair(&mut files, &saved), [Plan::Known(0), Plan::New]);
    }

    #[test]
    fn a_compressed_rotation_is_found_by_its_content_and_skipped_while_the_plain_file_lives() {
        let saved = [stored(1, b"GET /a\n")];
        let mut gz_only = [found(9, b"GET /a\nGET /b\n", true)];
        assert_eq!(pair(&mut gz_only, &saved), [Plan::Known(0)]);
        let mut both = [
            found(9, b"GET /a\nGET /b\n", true),
            found(1, b"GET /a\nGET /b\n", false),
        ];
        assert_eq!(pair(&mut both, &saved), [Plan::Skip, Plan::Known(0)]);
    }

    #[test]
    fn a_rotated_gz_whose_live_successor_begins_with_the_same_header_is_read() {
        let saved = [stored(1, b"#Version: 1.0\n")];
        let mut files = [
            found(9, b"#Version: 1.0\nGET /a\n", true),
            found(2, b"#Version: 1.0\n", false),
        ];
        assert_eq!(pair(&mut files, &saved), [Plan::New, Plan::Known(0)]);
    }

    #[test]
    fn an_inode_holding_other_bytes_is_a_new_file_and_the_copy_is_the_old_one() {
        let saved = [stored(1, b"GET /a\nGET /b\n")];
        let mut files = [
            found(1, b"GET /new\n", false),
            found(2, b"GET /a\nGET /b\nGET /c\n", false),
        ];
        assert_eq!(pair(&mut files, &saved), [Plan::New, Plan::Known(0)]);
    }

    #[test]
    fn a_version_1_file_is_found_by_inode_and_by_its_first_line() {
        let legacy = FileState {
            path: "/logs/1".into(),
            ino: 1,
            offset: 7,
            line: 1,
            legacy: Some(Legacy {
                first_line: hex32(b"GET /a\n"),
            }),
            ..FileState::default()
        };
        let mut files = [found(1, b"GET /a\nGET /b\n", false)];
        assert_eq!(
            pair(&mut files, std::slice::from_ref(&legacy)),
            [Plan::Known(0)]
        );
        let mut gz = [found(5, b"GET /a\nGET /b\n", true)];
        assert_eq!(pair(&mut gz, &[legacy]), [Plan::Known(0)]);
    }

    #[test]
    fn nothing_stored_is_found_by_inode_only() {
        let empty = FileState {
            ino: 1,
            dev: 1,
            ..FileState::default()
        };
        let mut files = [found(2, b"GET /a\n", false), found(1, b"GET /b\n", false)];
        assert_eq!(pair(&mut files, &[empty]), [Plan::New, Plan::Known(0)]);
    }
}
