//! The thread that checkpoints the WAL during a sync, so the writer never stops to copy pages.
//! Its checkpoints are passive: they never block the writer, and no commit waits for one.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// A thread with its own connection that checkpoints the WAL whenever commits have come in, so
/// the writer never stops to copy pages itself. In WAL mode a passive checkpoint runs beside
/// the writer: neither waits for the other. Commits that arrive during a checkpoint are served
/// by the next one.
pub(super) struct Checkpointer {
    commits: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// WAL pages after which the writer checkpoints by itself (1 GiB of 64 KiB pages): the
/// checkpointer thread normally keeps the WAL far below this.
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        let (commits, rx) = std::sync::mpsc::channel::<()>();
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("athena-store-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    while rx.try_recv().is_ok() {}
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(store = %shown, "checkpoint failed: {e}");
                    }
                }
            })
            .ok()?;
        Some(Checkpointer {
            commits: Some(commits),
            thread: Some(thread),
        })
    }

    pub(super) fn committed(&self) {
        if let Some(tx) = &self.commits {
            let _ = tx.send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.commits.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
