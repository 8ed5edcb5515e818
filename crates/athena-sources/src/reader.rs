//! The plumbing shared by sources that read on a thread of their own (files, repositories):
//! a bounded channel of batches turned into the `events()` stream.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;

use athena_core::error::panic_message;
use athena_core::{Batch, BatchStream, SourceError};
use tokio::sync::mpsc;

/// The reading thread's end of the channel.
pub(crate) type BatchSender = mpsc::Sender<Result<Batch, SourceError>>;

/// Runs `read` on a thread named `name`; its batches (and its error, or a panic turned into
/// one) come out of the returned stream. Two batches may wait in the channel: enough to overlap
/// reading with storing, little enough to keep memory flat. When the stream is dropped, the
/// thread's next send fails and it stops.
pub(crate) fn spawn_reader<F>(
    source_id: &str,
    name: String,
    read: F,
) -> (BatchStream<'static>, Option<JoinHandle<()>>)
where
    F: FnOnce(&BatchSender) -> Result<(), SourceError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(2);
    let id = source_id.to_string();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| read(&tx))).unwrap_or_else(|panic| {
            Err(SourceError::failed(
                &id,
                format!("reading panicked: {}", panic_message(panic.as_ref())),
            ))
        });
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    match spawned {
        Ok(handle) => (
            Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })),
            Some(handle),
        ),
        Err(e) => {
            let err = SourceError::failed(source_id, format!("cannot start a thread: {e}"));
            (Box::pin(futures_util::stream::iter([Err(err)])), None)
        }
    }
}
