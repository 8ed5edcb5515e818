//! Running a source's logic: a thread or a task, its panics, its errors, its end.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::sink::{Limits, Sink, Stopped};
use crate::cursor::Cursor;
use crate::error::{panic_message, SourceError};
use crate::source::{BatchStream, EventSource, SourceInfo, SourceState, SourceStats};
use crate::watch::Watch;

/// Batches that may wait between a source and the engine: enough to overlap reading with
/// storing, little enough to keep memory flat.
const QUEUE: usize = 2;

/// Why a source's reading ended early.
#[derive(Debug)]
pub enum ReadError {
    /// The consumer went away: not a failure.
    Stopped,
    /// The source failed.
    Failed(SourceError),
}

impl From<Stopped> for ReadError {
    fn from(_: Stopped) -> Self {
        ReadError::Stopped
    }
}

impl From<SourceError> for ReadError {
    fn from(e: SourceError) -> Self {
        ReadError::Failed(e)
    }
}

/// What a running source is handed: its saved cursor and state, and the [`Sink`] its findings
/// go to. The sink also tells when the consumer went away ([`Sink::is_stopped`]).
#[derive(Debug)]
pub struct Context {
    source_id: String,
    cursor: Option<Cursor>,
    state: SourceState,
    /// Where events, dead letters, state changes, progress and checkpoints go.
    pub sink: Sink,
}

impl Context {
    /// The source's id, for errors.
    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// The cursor the last stored batch carried (`None`: read from the beginning).
    pub fn take_cursor(&mut self) -> Option<Cursor> {
        self.cursor.take()
    }

    /// The per-item state stored by earlier batches (empty on a full sync).
    pub fn take_state(&mut self) -> SourceState {
        std::mem::take(&mut self.state)
    }
}

/// A source whose reading blocks (files, repositories, logs): its own logic, run on a thread
/// of its own by [`Blocking`].
pub trait BlockingSource: Send + Sync + 'static {
    /// Who the source is.
    fn info(&self) -> &SourceInfo;

    /// A cheap check before every sync (a path exists).
    fn validate(&self) -> Result<(), SourceError> {
        Ok(())
    }

    /// The deeper check of `athena-ingest validate`.
    fn health_check(&self) -> Result<(), SourceError> {
        self.validate()
    }

    /// How batches are cut.
    fn limits(&self) -> Limits {
        Limits::default()
    }

    /// Reads from the context's cursor on, into its sink. Everything emitted must be followed
    /// by a checkpoint ([`Sink::commit_blocking`]) before returning.
    fn read(&self, ctx: &mut Context) -> Result<(), ReadError>;

    /// The source's own counters.
    fn stats(&self) -> SourceStats {
        SourceStats::default()
    }

    /// What to watch when the source runs live; `None` runs it again on an interval.
    fn watch(&self) -> Option<Watch> {
        None
    }
}

/// A source that reads with async I/O (HTTP APIs): its own logic, run as a task by [`Async`].
#[async_trait]
pub trait AsyncSource: Send + Sync + 'static {
    /// Who the source is.
    fn info(&self) -> &SourceInfo;

    /// A cheap check before every sync.
    async fn validate(&self) -> Result<(), SourceError> {
        Ok(())
    }

    /// The deeper check of `athena-ingest validate` (reach the service, try the credentials).
    async fn health_check(&self) -> Result<(), SourceError> {
        self.validate().await
    }

    /// How batches are cut.
    fn limits(&self) -> Limits {
        Limits::default()
    }

    /// Reads from the context's cursor on, into its sink. Everything emitted must be followed
    /// by a checkpoint ([`Sink::commit`]) before returning.
    async fn read(&self, ctx: &mut Context) -> Result<(), ReadError>;

    /// The source's own counters.
    fn stats(&self) -> SourceStats {
        SourceStats::default()
    }

    /// What to watch when the source runs live; `None` runs it again on an interval.
    fn watch(&self) -> Option<Watch> {
        None
    }
}

/// Turns what a source's reading returned into what its stream ends with.
fn ending(ctx: &Context, result: Result<(), ReadError>) -> Option<SourceError> {
    match result {
        Ok(()) if ctx.sink.has_pending() => Some(SourceError::failed(
            &ctx.source_id,
            format!(
                "ended with {} items emitted after its last checkpoint (a bug in the source: they were not stored)",
                ctx.sink.pending()
            ),
        )),
        Ok(()) | Err(ReadError::Stopped) => None,
        Err(ReadError::Failed(e)) => Some(e),
    }
}

fn channel(
    info: &SourceInfo,
    cursor: Option<Cursor>,
    state: SourceState,
    limits: Limits,
) -> (Context, BatchStream<'static>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let ctx = Context {
        source_id: info.id.clone(),
        cursor,
        state,
        sink: Sink::new(tx, limits),
    };
    let stream = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    (ctx, stream)
}

/// A [`BlockingSource`] as an [`EventSource`]: each sync reads on a thread named after it; a
/// panic becomes the source's error; a dropped stream stops it at its next send, and `close()`
/// waits for it to have stopped.
pub struct Blocking<S> {
    source: Arc<S>,
    state: SourceState,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<S: BlockingSource> Blocking<S> {
    /// Wraps the source's logic.
    pub fn new(source: S) -> Self {
        Blocking {
            source: Arc::new(source),
            state: SourceState::new(),
            thread: None,
        }
    }

    /// The logic.
    pub fn inner(&self) -> &S {
        &self.source
    }
}

#[async_trait]
impl<S: BlockingSource> EventSource for Blocking<S> {
    fn info(&self) -> &SourceInfo {
        self.source.info()
    }

    /// On a blocking thread: a check may touch the disk (open a repository, resolve refs), and
    /// the runtime's own threads serve every other source and request.
    async fn validate(&mut self) -> Result<(), SourceError> {
        let source = self.source.clone();
        off_runtime(&self.source, move || source.validate()).await
    }

    async fn health_check(&mut self) -> Result<(), SourceError> {
        let source = self.source.clone();
        off_runtime(&self.source, move || source.health_check()).await
    }

    fn restore_state(&mut self, state: SourceState) {
        self.state = state;
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let info = self.source.info().clone();
        let state = std::mem::take(&mut self.state);
        let (mut ctx, stream) = channel(&info, cursor, state, self.source.limits());
        let source = self.source.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{}", info.source_type, info.id))
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| source.read(&mut ctx)))
                    .unwrap_or_else(|panic| Err(panicked(&ctx, panic.as_ref())));
                if let Some(e) = ending(&ctx, result) {
                    ctx.sink.fail_blocking(e);
                }
            });
        match spawned {
            Ok(thread) => {
                self.thread = Some(thread);
                stream
            }
            Err(e) => {
                let err = SourceError::failed(&info.id, format!("cannot start a thread: {e}"));
                Box::pin(futures_util::stream::iter([Err(err)]))
            }
        }
    }

    /// Waits for the reading thread: after the stream is dropped it stops at its next send (or
    /// its next look at [`Sink::is_stopped`]).
    async fn close(&mut self) -> Result<(), SourceError> {
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        self.source.stats()
    }

    fn watch(&self) -> Option<Watch> {
        self.source.watch()
    }
}

/// Runs a blocking check of `source` on a blocking thread; a panic in it is the source's error.
async fn off_runtime<S: BlockingSource>(
    source: &Arc<S>,
    check: impl FnOnce() -> Result<(), SourceError> + Send + 'static,
) -> Result<(), SourceError> {
    match tokio::task::spawn_blocking(check).await {
        Ok(result) => result,
        Err(e) => Err(SourceError::failed(
            &source.info().id,
            format!("checking it panicked: {e}"),
        )),
    }
}

fn panicked(ctx: &Context, panic: &(dyn std::any::Any + Send)) -> ReadError {
    ReadError::Failed(SourceError::failed(
        &ctx.source_id,
        format!("reading panicked: {}", panic_message(panic)),
    ))
}

/// An [`AsyncSource`] as an [`EventSource`]: each sync reads as a task; a panic becomes the
/// source's error; `close()` (or a dropped stream, at the next send) stops it.
pub struct Async<S> {
    source: Arc<S>,
    state: SourceState,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl<S: AsyncSource> Async<S> {
    /// Wraps the source's logic.
    pub fn new(source: S) -> Self {
        Async {
            source: Arc::new(source),
            state: SourceState::new(),
            task: None,
        }
    }

    /// The logic.
    pub fn inner(&self) -> &S {
        &self.source
    }
}

#[async_trait]
impl<S: AsyncSource> EventSource for Async<S> {
    fn info(&self) -> &SourceInfo {
        self.source.info()
    }

    async fn validate(&mut self) -> Result<(), SourceError> {
        self.source.validate().await
    }

    async fn health_check(&mut self) -> Result<(), SourceError> {
        self.source.health_check().await
    }

    fn restore_state(&mut self, state: SourceState) {
        self.state = state;
    }

    fn events(&mut self, cursor: Option<Cursor>) -> BatchStream<'_> {
        let info = self.source.info().clone();
        let state = std::mem::take(&mut self.state);
        let (mut ctx, stream) = channel(&info, cursor, state, self.source.limits());
        let source = self.source.clone();
        self.task = Some(tokio::spawn(async move {
            let result = AssertUnwindSafe(source.read(&mut ctx)).catch_unwind().await;
            let result = result.unwrap_or_else(|panic| Err(panicked(&ctx, panic.as_ref())));
            if let Some(e) = ending(&ctx, result) {
                ctx.sink.fail(e).await;
            }
        }));
        stream
    }

    async fn close(&mut self) -> Result<(), SourceError> {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        self.source.stats()
    }

    fn watch(&self) -> Option<Watch> {
        self.source.watch()
    }
}
