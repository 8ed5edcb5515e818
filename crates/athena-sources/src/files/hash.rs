//! Hashing the contents of changed files (BLAKE3, on one thread per core), and what state a
//! hashed file is stored with: a file that may change again within its clock's tick is stored
//! without a time, so the next sync hashes it again.

use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::diff::Changed;
use super::state::FileState;

/// A file's contents hash, with the size and modification time of the contents hashed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hashed {
    hash: [u8; 32],
    size: u64,
    mtime_ns: i64,
    /// The file kept changing while it was read: its state must be checked again next sync.
    unsettled: bool,
}

/// A changed file's state: as found (what its events describe) and as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settled {
    pub now: FileState,
    pub stored: FileState,
}

/// The state of `changed`, from its hash (`None`: the source does not hash) or else its stat.
/// `scan_started_ns`: when the walk began.
pub(crate) fn settle(changed: &Changed, hashed: Option<Hashed>, scan_started_ns: i64) -> Settled {
    // Size and time of the contents hashed, not of the earlier stat.
    let (size, mtime, unsettled) = match &hashed {
        Some(h) => (h.size, h.mtime_ns, h.unsettled),
        None => (changed.found.size, changed.found.mtime_ns, false),
    };
    let hash = hashed.map(|h| h.hash);
    let now = FileState {
        size,
        mtime_ns: mtime,
        hash,
        generation: changed.generation,
        gone: false,
    };
    // A file changed while read, or within one timestamp tick of the scan (a same-size write
    // in the same tick would not move its time): store no time, so the next sync hashes it
    // again; an unchanged hash then yields nothing.
    let racy =
        hash.is_some() && (unsettled || mtime >= scan_started_ns.saturating_sub(tick_ns(mtime)));
    let stored = FileState {
        mtime_ns: if racy { 0 } else { mtime },
        ..now
    };
    Settled { now, stored }
}

/// The contents' hashes of `chunk`, in order, on up to `threads` threads.
pub(crate) fn hash_all(
    root: &Path,
    chunk: &[Changed],
    threads: usize,
    bytes: &AtomicU64,
) -> Vec<std::io::Result<Option<Hashed>>> {
    let per_thread = chunk.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per_thread)
            .map(|part| {
                let handle = s.spawn(move || {
                    let mut buf = vec![0u8; 256 * 1024];
                    part.iter()
                        .map(|c| {
                            let path = root.join(std::ffi::OsStr::from_bytes(&c.found.rel));
                            hash_file(&path, &mut buf, bytes).map(Some)
                        })
                        .collect::<Vec<_>>()
                });
                (part.len(), handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..len)
                        .map(|_| Err(std::io::Error::other("hashing thread panicked")))
                        .collect()
                })
            })
            .collect()
    })
}

/// How coarse a file system's clock may be, judged from one of its times: whole seconds mean a
/// coarse one (FAT keeps two), anything finer a kernel tick of a few milliseconds.
fn tick_ns(mtime_ns: i64) -> i64 {
    if mtime_ns % 1_000_000_000 == 0 {
        2_000_000_000
    } else {
        50_000_000
    }
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    m.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(m.mtime_nsec())
}

/// Hashes `path`, taking size and time from the open file before and after reading: if they
/// moved (the file was being written), it is read again, up to three times.
fn hash_file(path: &Path, buf: &mut [u8], bytes: &AtomicU64) -> std::io::Result<Hashed> {
    let mut last = None;
    for _ in 0..3 {
        let mut file = File::open(path)?;
        let before = file.metadata()?;
        let mut hasher = blake3::Hasher::new();
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        let after = file.metadata()?;
        let hashed = Hashed {
            hash: *hasher.finalize().as_bytes(),
            size: after.len(),
            mtime_ns: mtime_ns(&after),
            unsettled: false,
        };
        if before.len() == after.len() && mtime_ns(&before) == mtime_ns(&after) {
            return Ok(hashed);
        }
        last = Some(hashed);
    }
    Ok(Hashed {
        unsettled: true,
        ..last.expect("three reads")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::scan::Found;

    fn changed() -> Changed {
        Changed {
            found: Found {
                rel: b"f".to_vec(),
                size: 1,
                mtime_ns: 5,
            },
            old: None,
            generation: 3,
        }
    }

    fn hashed(mtime_ns: i64, unsettled: bool) -> Hashed {
        Hashed {
            hash: [1; 32],
            size: 2,
            mtime_ns,
            unsettled,
        }
    }

    #[test]
    fn the_state_is_the_hashed_contents_and_their_time_or_else_the_stat() {
        let scan = 100_000_000_000;
        let s = settle(&changed(), Some(hashed(7_000_000_001, false)), scan);
        assert_eq!(
            (s.now.size, s.now.mtime_ns, s.now.hash),
            (2, 7_000_000_001, Some([1; 32]))
        );
        assert_eq!((s.now.generation, s.now.gone), (3, false));
        assert_eq!(s.stored, s.now);
        let s = settle(&changed(), None, scan);
        assert_eq!((s.now.size, s.now.mtime_ns, s.now.hash), (1, 5, None));
        assert_eq!(s.stored, s.now);
    }

    #[test]
    fn a_file_that_may_still_change_unseen_is_stored_without_a_time() {
        let scan = 100_000_000_000;
        // Within a fine clock's tick of the scan, or a coarse clock's two seconds.
        for mtime in [scan - 1_000_000, scan - 1_000_000_000] {
            let s = settle(&changed(), Some(hashed(mtime, false)), scan);
            assert_eq!(s.now.mtime_ns, mtime);
            assert_eq!(s.stored.mtime_ns, 0);
        }
        let s = settle(&changed(), Some(hashed(5, true)), scan);
        assert_eq!(s.stored.mtime_ns, 0);
        // Unhashed, there is no hash to check again: the time is kept.
        let mut c = changed();
        c.found.mtime_ns = scan;
        assert_eq!(settle(&c, None, scan).stored.mtime_ns, scan);
    }
}
