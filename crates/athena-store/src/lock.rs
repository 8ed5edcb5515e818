//! One sync per store: an OS file lock beside the database (`athena.db.lock`), taken on the
//! database's resolved path, so a store reached through a symlink shares its lock.
//!
//! The kernel drops the lock when its process dies, even by SIGKILL, so a crashed sync never
//! leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use athena_core::StoreError;

/// Held for the whole sync; released on drop.
#[derive(Debug)]
pub(crate) struct SyncLock {
    _file: File,
}

pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the lock of the store at `db` (resolved; `shown` in errors), waiting up to `wait` for
/// another sync to finish.
pub(crate) fn acquire(db: &Path, shown: &Path, wait: Duration) -> Result<SyncLock, StoreError> {
    let path = lock_path(db);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display()).into()))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(SyncLock { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    path: shown.to_path_buf(),
                })
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::Backend(
                    format!("locking {}: {e}", path.display()).into(),
                ))
            }
        }
    }
}

/// Whether a sync holds the store at `db` (resolved) now. Reads only: a missing lock file means
/// no sync has run since the file system was set up, and a shared lock needs no write access.
pub(crate) fn held(db: &Path) -> bool {
    let Ok(file) = File::open(lock_path(db)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}
