//! The source kit: writing a source means writing only its own logic.
//!
//! # The exactly-once model
//! A running source is handed a [`Context`]: its saved cursor, its stored per-item state, and a
//! [`Sink`]. It emits events, dead letters and state changes into the sink, and at points
//! where it knows a cursor that is true once everything emitted so far is stored, it gives the
//! sink a checkpoint. The sink cuts batches only at checkpoints, so every batch carries a
//! cursor that is true for it; the engine stores each batch and its cursor in one
//! transaction. After a crash at any instant the store's cursor matches its events, and the
//! next sync reads on from there: nothing lost, and (ids being derived from the data) nothing
//! twice.
//!
//! # Writing a source
//! Implement [`BlockingSource`] (reading on a thread: files, repositories, logs) or
//! [`AsyncSource`] (async I/O: HTTP APIs) and register `Box::new(Blocking::new(source))` or
//! `Box::new(Async::new(source))`. The kit spawns the thread or task, cuts batches by size and
//! age ([`Limits`]), applies backpressure (sending waits while the engine is behind), turns a
//! panic into the source's error, and stops the source when the consumer goes away
//! ([`Stopped`], which `?` turns into a quiet end). A source that runs without end (a followed
//! log) checkpoints as it goes and ends when [`Sink::is_stopped`] says so.
//!
//! - `sink`: [`Sink`], [`Limits`], [`Stopped`]; `run`: [`Context`], the two source traits and
//!   their [`Blocking`] and [`Async`] adapters.

mod run;
mod sink;

pub use run::{Async, AsyncSource, Blocking, BlockingSource, Context, ReadError};
pub use sink::{Limits, Sink, StopFlag, Stopped};

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use futures_util::StreamExt;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::source::{Batch, EventSource, SourceInfo};
    use crate::{Cursor, Event, SourceError};

    #[derive(Serialize, Deserialize)]
    struct Count {
        version: u32,
        n: u64,
    }

    fn count(n: u64) -> Cursor {
        Cursor::encode(&Count { version: 1, n })
    }

    fn info() -> SourceInfo {
        SourceInfo {
            id: "t".into(),
            source_type: "test".into(),
            name: "test".into(),
        }
    }

    /// Emits `0..total` from its cursor on, one checkpoint per event.
    struct Counter {
        info: SourceInfo,
        total: u64,
        limits: Limits,
        panic_at: Option<u64>,
        stopped: AtomicBool,
    }

    impl Counter {
        fn new(total: u64, max_items: usize) -> Self {
            Counter {
                info: info(),
                total,
                limits: Limits::items(max_items),
                panic_at: None,
                stopped: AtomicBool::new(false),
            }
        }

        fn start(ctx: &mut Context) -> u64 {
            ctx.take_cursor()
                .map_or(0, |c| c.decode::<Count>().unwrap().n)
        }

        fn event(n: u64) -> Event {
            Event::new(n.to_string(), "tick", chrono::Utc::now(), "tick")
        }
    }

    impl BlockingSource for Counter {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn limits(&self) -> Limits {
            self.limits
        }
        fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
            let mut n = Counter::start(ctx);
            while n < self.total {
                if self.panic_at == Some(n) {
                    panic!("tick {n} is cursed");
                }
                ctx.sink.event(Counter::event(n));
                n += 1;
                let result = ctx.sink.checkpoint_blocking(|| count(n));
                if result.is_err() {
                    self.stopped.store(true, Ordering::SeqCst);
                }
                result?;
            }
            ctx.sink.commit_blocking(count(n))?;
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl AsyncSource for Counter {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn limits(&self) -> Limits {
            self.limits
        }
        async fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
            let mut n = Counter::start(ctx);
            while n < self.total {
                ctx.sink.event(Counter::event(n));
                n += 1;
                ctx.sink.checkpoint(|| count(n)).await?;
            }
            ctx.sink.commit(count(n)).await?;
            Ok(())
        }
    }

    async fn collect(
        mut source: impl EventSource,
        cursor: Option<Cursor>,
    ) -> Vec<Result<Batch, SourceError>> {
        source.events(cursor).collect().await
    }

    fn shape(batches: &[Result<Batch, SourceError>]) -> Vec<(usize, u64)> {
        batches
            .iter()
            .map(|b| {
                let b = b.as_ref().unwrap();
                (b.events.len(), b.checkpoint.decode::<Count>().unwrap().n)
            })
            .collect()
    }

    #[tokio::test]
    async fn batches_are_cut_by_size_at_checkpoints_with_the_cursor_of_their_last_event() {
        let batches = collect(Blocking::new(Counter::new(7, 3)), None).await;
        assert_eq!(shape(&batches), [(3, 3), (3, 6), (1, 7)]);
        let batches = collect(Async::new(Counter::new(7, 3)), Some(count(5))).await;
        assert_eq!(shape(&batches), [(2, 7)]);
    }

    #[tokio::test]
    async fn a_batch_whose_first_item_waited_too_long_goes_at_the_next_checkpoint() {
        struct Slow(SourceInfo);
        impl BlockingSource for Slow {
            fn info(&self) -> &SourceInfo {
                &self.0
            }
            fn limits(&self) -> Limits {
                Limits {
                    max_items: 1000,
                    max_age: Duration::from_millis(200),
                }
            }
            fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
                for n in 0..3 {
                    ctx.sink.event(Counter::event(n));
                    if n == 1 {
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    ctx.sink.checkpoint_blocking(|| count(n + 1))?;
                }
                ctx.sink.commit_blocking(count(3))?;
                Ok(())
            }
        }
        let batches = collect(Blocking::new(Slow(info())), None).await;
        assert_eq!(shape(&batches), [(2, 2), (1, 3)]);
    }

    #[tokio::test]
    async fn a_panic_becomes_the_sources_error_after_the_batches_before_it() {
        let mut counter = Counter::new(10, 2);
        counter.panic_at = Some(5);
        let batches = collect(Blocking::new(counter), None).await;
        assert_eq!(shape(&batches[..2]), [(2, 2), (2, 4)]);
        let err = batches[2].as_ref().unwrap_err().to_string();
        assert!(err.contains("panicked: tick 5 is cursed"), "{err}");
        assert_eq!(batches.len(), 3);
    }

    #[tokio::test]
    async fn a_dropped_stream_stops_the_source_quietly() {
        let source = std::sync::Arc::new(Counter::new(u64::MAX, 1));
        struct Shared(std::sync::Arc<Counter>);
        impl BlockingSource for Shared {
            fn info(&self) -> &SourceInfo {
                &self.0.info
            }
            fn limits(&self) -> Limits {
                self.0.limits
            }
            fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
                BlockingSource::read(&*self.0, ctx)
            }
        }
        let mut wrapped = Blocking::new(Shared(source.clone()));
        let mut stream = wrapped.events(None);
        assert!(stream.next().await.unwrap().is_ok());
        drop(stream);
        for _ in 0..200 {
            if source.stopped.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the source did not notice its stream was dropped");
    }

    #[tokio::test]
    async fn events_left_without_a_checkpoint_are_an_error_not_a_silent_loss() {
        struct Forgetful(SourceInfo);
        impl BlockingSource for Forgetful {
            fn info(&self) -> &SourceInfo {
                &self.0
            }
            fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
                ctx.sink.event(Counter::event(0));
                Ok(())
            }
        }
        let batches = collect(Blocking::new(Forgetful(info())), None).await;
        assert_eq!(batches.len(), 1);
        let err = batches[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("after its last checkpoint"), "{err}");
    }
}
