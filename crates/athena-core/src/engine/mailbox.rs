//! The writer's mailbox: a bounded queue from the source tasks to the writer thread that hands
//! out the request of highest priority first (of equal ones, the oldest, so each source's
//! requests keep their order).
//!
//! The bound is per priority: a sender waits while `capacity` requests of its priority or
//! higher are queued. Requests of a lower priority never hold a higher one back, so a
//! high-priority batch waits only for the one the writer is storing; memory stays bounded by
//! `capacity` for each priority in use.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Makes a mailbox holding at most `capacity` requests of each priority.
pub(super) fn mailbox<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: BinaryHeap::new(),
            queued: BTreeMap::new(),
            arrivals: 0,
            senders: 1,
            receiving: true,
        }),
        ready: Condvar::new(),
        space: Notify::new(),
        capacity: capacity.max(1),
    });
    (
        Sender {
            shared: shared.clone(),
            priority: 0,
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes the writer: a request came, or the last sender left.
    ready: Condvar,
    /// Wakes waiting senders: a request was taken, or the writer left.
    space: Notify,
    capacity: usize,
}

struct State<T> {
    queue: BinaryHeap<Entry<T>>,
    /// How many requests of each priority are queued.
    queued: BTreeMap<i32, usize>,
    arrivals: u64,
    senders: usize,
    receiving: bool,
}

struct Entry<T> {
    priority: i32,
    arrival: u64,
    item: T,
}

// The heap's greatest is taken first: highest priority, then earliest arrival.
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.priority.cmp(&other.priority)).then(other.arrival.cmp(&self.arrival))
    }
}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Entry<T> {}

fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, State<T>> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A source task's side: sends at its priority.
pub(super) struct Sender<T> {
    shared: Arc<Shared<T>>,
    priority: i32,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared).senders += 1;
        Sender {
            shared: self.shared.clone(),
            priority: self.priority,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.senders -= 1;
        if state.senders == 0 {
            self.shared.ready.notify_all();
        }
    }
}

impl<T> Sender<T> {
    /// The same mailbox, sending at `priority`.
    pub(super) fn at_priority(&self, priority: i32) -> Self {
        let mut sender = self.clone();
        sender.priority = priority;
        sender
    }

    /// Queues `item` once fewer than `capacity` requests of this priority or higher wait;
    /// gives it back if the writer is gone.
    pub(super) async fn send(&self, item: T) -> Result<(), T> {
        let shared = &*self.shared;
        loop {
            // Registered before looking, so a request taken meanwhile still wakes this one.
            let space = shared.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            {
                let mut state = lock(shared);
                if !state.receiving {
                    return Err(item);
                }
                let ahead: usize = (state.queued.range(self.priority..)).map(|(_, n)| n).sum();
                if ahead < shared.capacity {
                    state.arrivals += 1;
                    let arrival = state.arrivals;
                    *state.queued.entry(self.priority).or_default() += 1;
                    state.queue.push(Entry {
                        priority: self.priority,
                        arrival,
                        item,
                    });
                    shared.ready.notify_one();
                    return Ok(());
                }
            }
            space.await;
        }
    }
}

/// The writer's side.
pub(super) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next request and its priority, waiting for one; `None` once every sender is gone
    /// and nothing is left.
    pub(super) fn blocking_recv(&mut self) -> Option<(i32, T)> {
        let mut state = lock(&self.shared);
        loop {
            if let Some(taken) = self.take(&mut state) {
                return Some(taken);
            }
            if state.senders == 0 {
                return None;
            }
            state = (self.shared.ready.wait(state)).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The next request and its priority, if one is queued.
    pub(super) fn try_recv(&mut self) -> Option<(i32, T)> {
        let mut state = lock(&self.shared);
        self.take(&mut state)
    }

    fn take(&self, state: &mut State<T>) -> Option<(i32, T)> {
        let entry = state.queue.pop()?;
        if let Some(n) = state.queued.get_mut(&entry.priority) {
            *n -= 1;
            if *n == 0 {
                state.queued.remove(&entry.priority);
            }
        }
        self.shared.space.notify_waiters();
        Some((entry.priority, entry.item))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // What was queued goes with the writer: dropping it (outside the lock) tells each
        // request's caller that the writer is gone, rather than leaving it waiting.
        let queued = {
            let mut state = lock(&self.shared);
            state.receiving = false;
            state.queued.clear();
            std::mem::take(&mut state.queue)
        };
        self.shared.space.notify_waiters();
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_highest_priority_is_taken_first_and_equal_ones_in_order() {
        let (low, mut rx) = mailbox::<&str>(8);
        let high = low.at_priority(5);
        low.send("low 1").await.unwrap();
        low.send("low 2").await.unwrap();
        high.send("high 1").await.unwrap();
        high.send("high 2").await.unwrap();
        let order: Vec<_> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert_eq!(
            order,
            [(5, "high 1"), (5, "high 2"), (0, "low 1"), (0, "low 2")]
        );
    }

    #[tokio::test]
    async fn a_full_queue_of_low_requests_does_not_hold_a_high_one_back() {
        let (low, mut rx) = mailbox::<u32>(2);
        let high = low.at_priority(1);
        low.send(1).await.unwrap();
        low.send(2).await.unwrap();
        // A third low request waits for space ...
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(50), low.send(3));
        assert!(blocked.await.is_err(), "the bound holds for its priority");
        // ... a high one goes in at once, and out first.
        high.send(10).await.unwrap();
        assert_eq!(rx.try_recv(), Some((1, 10)));
        assert_eq!(rx.try_recv(), Some((0, 1)));
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_in_when_a_request_is_taken() {
        let (tx, mut rx) = mailbox::<u32>(1);
        tx.send(1).await.unwrap();
        let sender = tx.clone();
        let waiting = tokio::spawn(async move { sender.send(2).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        assert_eq!(rx.try_recv(), Some((0, 1)));
        waiting.await.unwrap().unwrap();
        assert_eq!(rx.try_recv(), Some((0, 2)));
    }

    #[tokio::test]
    async fn the_writer_sees_the_end_and_senders_see_the_writer_gone() {
        let (tx, mut rx) = mailbox::<u32>(4);
        tx.send(7).await.unwrap();
        drop(tx);
        assert_eq!(rx.blocking_recv(), Some((0, 7)));
        assert_eq!(rx.blocking_recv(), None);

        let (tx, rx) = mailbox::<u32>(4);
        drop(rx);
        assert_eq!(tx.send(1).await, Err(1));

        // What was queued when the writer went is dropped with it: its callers hear of it.
        let (tx, rx) = mailbox::<tokio::sync::oneshot::Sender<()>>(4);
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(reply).await.unwrap();
        drop(rx);
        assert!(answer.await.is_err());
    }
}
