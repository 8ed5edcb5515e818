//! Concurrency slots handed out by priority: at most `concurrency` sources read at once, and
//! when sources wait for a slot the one of highest `priority` goes first (of equal ones, the
//! one that asked first).
//!
//! A source holding a slot asks [`Slot::should_yield`] between batches: when a source of
//! higher priority waits, it gives its slot up and waits for its turn again, its stream kept
//! where it was. So a low-priority backfill holds back a high-priority source for at most the
//! one batch it is reading, not for the rest of its run.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// The slots of one engine.
#[derive(Clone)]
pub(super) struct Slots {
    shared: Arc<Mutex<State>>,
}

struct State {
    free: usize,
    waiting: BinaryHeap<Waiter>,
    /// Orders waiters of equal priority by their arrival.
    arrivals: u64,
}

struct Waiter {
    priority: i32,
    arrival: u64,
    source_id: String,
    give: oneshot::Sender<Slot>,
}

// The heap's greatest is the next served: highest priority, then earliest arrival.
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.priority.cmp(&other.priority)).then(other.arrival.cmp(&self.arrival))
    }
}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiter {}

/// A slot held; given back (to the waiter of highest priority) when dropped.
pub(super) struct Slot {
    /// `None` once the slot is disarmed (it never reached a waiter who gave up).
    shared: Option<Arc<Mutex<State>>>,
    priority: i32,
}

impl Slots {
    pub(super) fn new(count: usize) -> Self {
        Slots {
            shared: Arc::new(Mutex::new(State {
                free: count.max(1),
                waiting: BinaryHeap::new(),
                arrivals: 0,
            })),
        }
    }

    /// Waits for a slot: a free one at once when no one of the same or higher priority is
    /// waiting, else when its turn comes.
    pub(super) async fn acquire(&self, source_id: &str, priority: i32) -> Slot {
        let turn = {
            let mut state = lock(&self.shared);
            state.drop_abandoned();
            let ahead = (state.waiting.peek()).is_some_and(|w| w.priority >= priority);
            if state.free > 0 && !ahead {
                state.free -= 1;
                return Slot {
                    shared: Some(self.shared.clone()),
                    priority,
                };
            }
            let (give, turn) = oneshot::channel();
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.waiting.push(Waiter {
                priority,
                arrival,
                source_id: source_id.to_string(),
                give,
            });
            turn
        };
        // The sender lives in the heap until it is served, and the heap as long as `self`.
        turn.await
            .expect("a waiting source is served before its slots are dropped")
    }

    /// The sources waiting for a slot, in the order they will get one.
    pub(super) fn waiting(&self) -> Vec<String> {
        let mut state = lock(&self.shared);
        state.drop_abandoned();
        let mut waiting: Vec<&Waiter> = state.waiting.iter().collect();
        waiting.sort_by(|a, b| b.cmp(a));
        waiting.iter().map(|w| w.source_id.clone()).collect()
    }
}

impl Slot {
    /// Whether a source of higher priority than this slot's holder waits for a slot.
    pub(super) fn should_yield(&self) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        let mut state = lock(shared);
        state.drop_abandoned();
        (state.waiting.peek()).is_some_and(|w| w.priority > self.priority)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let mut state = lock(&shared);
        while let Some(waiter) = state.waiting.pop() {
            let slot = Slot {
                shared: Some(shared.clone()),
                priority: waiter.priority,
            };
            match waiter.give.send(slot) {
                Ok(()) => return,
                // It stopped waiting (cancelled): the next one gets the slot.
                Err(mut slot) => slot.shared = None,
            }
        }
        state.free += 1;
    }
}

impl State {
    /// Forgets waiters who stopped waiting, so that they neither hold a slot back nor make
    /// a holder yield.
    fn drop_abandoned(&mut self) {
        while self.waiting.peek().is_some_and(|w| w.give.is_closed()) {
            self.waiting.pop();
        }
    }
}

fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}
