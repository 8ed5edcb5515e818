//! Fencing through the engine: once a batch of a source fails, the engine refuses that
//! source's later batches of the run, so its cursor never passes a batch that was not stored;
//! the next run resumes right after the last batch that was.

use std::sync::Arc;

use athena_core::kit::{Blocking, BlockingSource, Context, ReadError};
use athena_core::{
    Batch, Engine, EngineSettings, EventSource, Registry, RunStatus, SourceInfo, SourceStatusKind,
    Store, SyncOptions, SyncReport,
};

use super::support::{
    all_ids, batch, event, info, letter, put, refused_batch, saved_next, state_of,
};
use super::Fixture;

/// Hands over its batches one at a time, from the one after the saved cursor's `next` on
/// (batch `n` of the list carries `next = n + 1`).
struct Replay {
    info: SourceInfo,
    batches: Vec<Batch>,
}

impl BlockingSource for Replay {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(&self, ctx: &mut Context) -> Result<(), ReadError> {
        let saved = ctx.take_cursor();
        let start = saved.map_or(0, |c| c.as_json()["next"].as_u64().unwrap_or(0) as usize);
        for b in self.batches.iter().skip(start) {
            b.events.iter().for_each(|e| ctx.sink.event(e.clone()));
            b.dead_letters
                .iter()
                .for_each(|d| ctx.sink.dead_letter(d.clone()));
            b.state.iter().for_each(|s| ctx.sink.state(s.clone()));
            ctx.sink.commit_blocking(b.checkpoint.clone())?;
        }
        Ok(())
    }
}

/// Runs `batches` as one source's sync through the engine into `store`.
fn sync(store: Box<dyn Store>, batches: Vec<Batch>) -> (SyncReport, Box<dyn Store>) {
    let source: Box<dyn EventSource> = Box::new(Blocking::new(Replay {
        info: info(),
        batches,
    }));
    let engine = Engine::new(Arc::new(Registry::new()), EngineSettings::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(engine.run(store, vec![source], SyncOptions::default()))
}

/// The batches of a run: the second is refused by the store when `refuse` is set.
fn three_batches(refuse: bool) -> Vec<Batch> {
    let mut first = batch(
        vec![event("1", 1, "one", "a"), event("2", 2, "two", "a")],
        1,
    );
    first.state = vec![put("a", Some("1"))];
    first.dead_letters.push(letter("x:1"));
    let events = vec![event("3", 3, "three", "a")];
    let mut second = if refuse {
        refused_batch(events, 2)
    } else {
        batch(events, 2)
    };
    second.state = vec![put("a", Some("2"))];
    second.dead_letters.push(letter("x:2"));
    let mut third = batch(vec![event("4", 4, "four", "a")], 3);
    third.state = vec![put("c", Some("3"))];
    vec![first, second, third]
}

/// A sync whose second batch the store refuses fails, keeps its first batch whole and
/// nothing of the second or third (the third is fenced though the store would take it);
/// the next sync resumes after the first batch and stores the rest exactly once.
pub fn a_source_fenced_after_a_refused_batch_stores_nothing_more_and_resumes_after_it<
    F: Fixture,
>(
    f: &F,
) {
    let mut store = f.open();
    f.refuse_marked_batches(&mut store);
    let (report, store) = sync(Box::new(store), three_batches(true));
    let src = &report.sources[0];
    assert_eq!(src.status, SourceStatusKind::Failed, "{src:?}");
    assert_eq!((src.events_written, src.duplicates, src.invalid), (2, 0, 1));
    assert!(src.error.is_some());
    drop(store);
    let mut store = f.open();
    assert_eq!(all_ids(&store), ["2", "1"]);
    assert_eq!(saved_next(&mut store, "src"), Some(1));
    assert_eq!(
        state_of(&mut store, "src"),
        [("a".to_string(), "1".to_string())]
    );
    let letters = store.dead_letters(None, 10).unwrap();
    assert_eq!(letters.len(), 1);
    let status = store.sources_status().unwrap();
    assert_eq!(status[0].last_status, Some(RunStatus::Failed));
    // The next run, the store taking every batch, goes on from the first batch's cursor.
    let (report, store) = sync(Box::new(store), three_batches(false));
    let src = &report.sources[0];
    assert_eq!(src.status, SourceStatusKind::Ok, "{src:?}");
    assert_eq!((src.events_written, src.duplicates, src.invalid), (2, 0, 1));
    drop(store);
    let mut store = f.open();
    assert_eq!(all_ids(&store), ["4", "3", "2", "1"]);
    assert_eq!(saved_next(&mut store, "src"), Some(3));
    let want = [("a", "2"), ("c", "3")].map(|(k, v)| (k.to_string(), v.to_string()));
    assert_eq!(state_of(&mut store, "src"), want);
    assert_eq!(store.dead_letters(None, 10).unwrap().len(), 2);
}
