//! [`ApiSource`] and [`drive`]: the one loop of an API source that reads from a cursor.
//!
//! A sync decodes the stored cursor (and state) into the source's run, reads pages into the
//! sink with a checkpoint wherever the run's cursor is true, and then stores the run's cursor
//! (always, or only with events pending for a source that stores each move itself: [`Keep`]).
//! When a request fails, what was emitted since the last checkpoint is whole (a source emits a
//! unit, an issue or a page, before its checkpoint), so it is stored with the run's cursor
//! before the failure is told in the source's words: the next sync reads on from there, and
//! nothing is read twice into the store. A consumer that goes away ends the reading quietly.

use async_trait::async_trait;
use athena_core::kit::{Context, Limits, ReadError, Sink};
use athena_core::{Cursor, SourceError, SourceInfo, SourceStats};
use athena_http::{ApiClient, HttpError};

use super::{Failure, Hints};

/// An API source as the driver runs it: its requests and page parsing (`sync`), its cursor
/// (`start`, `cursor`) and its words for failures (`hints`). The kit's
/// [`AsyncSource`](athena_core::kit::AsyncSource) comes from `driven!`.
#[async_trait]
pub(crate) trait ApiSource: Send + Sync + 'static {
    /// What one sync keeps as it goes: at least the cursor.
    type Run: Send;

    /// Who the source is, its client, its batch size.
    fn parts(&self) -> Parts<'_>;

    /// The source's words for each kind of failure.
    fn hints(&self) -> Hints;

    /// A request error as the source's error.
    fn explain(&self, e: &HttpError) -> SourceError {
        self.hints().explain(&self.parts().info.id, e)
    }

    /// The deeper check of `athena-ingest validate`: one request that tries the credentials.
    async fn check(&self) -> Result<(), Failure>;

    /// The run of one sync, from the stored cursor and state the context holds.
    fn start(&self, ctx: &mut Context) -> Result<Self::Run, SourceError>;

    /// Reads from the run's cursor on into the sink, checkpointing as it goes; on `Ok` the
    /// run's cursor says the reading is complete.
    async fn sync(&self, run: &mut Self::Run, sink: &mut Sink) -> Result<(), Failure>;

    /// The run's cursor, true once everything emitted so far is stored.
    fn cursor(run: &Self::Run) -> Cursor;

    /// When the run's cursor is stored once `sync` succeeded.
    const ON_SUCCESS: Keep = Keep::Always;

    /// When the run's cursor is stored once `sync` failed (what was emitted since the last
    /// checkpoint is whole, see the module's doc).
    const ON_FAILURE: Keep = Keep::Always;

    /// The source's counters: the client's.
    fn stats(&self) -> SourceStats {
        super::stats(&self.parts().client.stats())
    }
}

/// When the driver stores the run's cursor at the end of a sync, besides the checkpoints the
/// source made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Always: the cursor may have moved without events (a mark, a phase).
    Always,
    /// Only when events were emitted since the last checkpoint: the source stores every move
    /// of its cursor itself.
    IfPending,
}

/// What every API source has.
pub(crate) struct Parts<'a> {
    /// Who the source is.
    pub info: &'a SourceInfo,
    /// The client its requests go through.
    pub client: &'a ApiClient,
    /// Events per stored batch (the `batch_size` key).
    pub batch_size: usize,
}

/// One sync of `source` (see the module's doc).
pub(crate) async fn drive<S: ApiSource>(source: &S, ctx: &mut Context) -> Result<(), ReadError> {
    // An API found unreachable in an earlier run (of `serve`) is tried again.
    source.parts().client.forget_unreachable();
    let mut run = source.start(ctx)?;
    let (keep, error) = match source.sync(&mut run, &mut ctx.sink).await {
        Ok(()) => (S::ON_SUCCESS, None),
        Err(Failure::Stopped) => return Err(ReadError::Stopped),
        Err(Failure::Http(e)) => (S::ON_FAILURE, Some(source.explain(&e))),
        Err(Failure::Source(e)) => (S::ON_FAILURE, Some(e)),
    };
    if keep == Keep::Always || ctx.sink.has_pending() {
        ctx.sink.commit(S::cursor(&run)).await?;
    }
    match error {
        None => Ok(()),
        Some(e) => Err(e.into()),
    }
}

/// The deeper check of `source`, its failure in its words.
pub(crate) async fn check<S: ApiSource>(source: &S) -> Result<(), SourceError> {
    source.parts().client.forget_unreachable();
    match source.check().await {
        Ok(()) | Err(Failure::Stopped) => Ok(()),
        Err(Failure::Http(e)) => Err(source.explain(&e)),
        Err(Failure::Source(e)) => Err(e),
    }
}

/// How batches of `source` are cut.
pub(crate) fn limits<S: ApiSource>(source: &S) -> Limits {
    Limits::items(source.parts().batch_size)
}

/// The kit's [`AsyncSource`](athena_core::kit::AsyncSource) for an [`ApiSource`]: every method
/// the driver's (the registry wraps the source in the kit's `Async`, so the impl is the
/// source's own; a macro because a blanket impl of a foreign trait is not allowed).
macro_rules! driven {
    ($source:ty) => {
        #[async_trait::async_trait]
        impl athena_core::kit::AsyncSource for $source {
            fn info(&self) -> &athena_core::SourceInfo {
                <Self as $crate::api::ApiSource>::parts(self).info
            }

            async fn health_check(&self) -> Result<(), athena_core::SourceError> {
                $crate::api::check(self).await
            }

            fn limits(&self) -> athena_core::kit::Limits {
                $crate::api::limits(self)
            }

            async fn read(
                &self,
                ctx: &mut athena_core::kit::Context,
            ) -> Result<(), athena_core::kit::ReadError> {
                $crate::api::drive(self, ctx).await
            }

            fn stats(&self) -> athena_core::SourceStats {
                <Self as $crate::api::ApiSource>::stats(self)
            }
        }
    };
}

pub(crate) use driven;
