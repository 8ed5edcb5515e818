//! Who gets a store connection next: a bounded queue ordered by cost, with a share of the
//! connections per kind of query.
//!
//! - A query that fits runs at once; the others wait, at most [`Gate::new`]'s `queue` of them.
//! - The cheapest waiting query goes first when a connection frees (ties: the first to
//!   arrive): under more load than the store can answer, small questions are still answered
//!   and the biggest pages are the ones turned away.
//! - A full queue turns away the newcomer, or, if it is cheaper, the costliest waiter.
//! - Each [`Kind`] has a share it may not exceed: big pages and costly queries together leave
//!   one connection to small questions, and costly ones (full-text searches, timelines) take
//!   at most half.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

/// What a query is, for its share of the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One event, the sources, a page of up to [`Cost::LIGHT_PAGE`] events by time.
    Light = 0,
    /// A bigger page by time.
    Heavy = 1,
    /// A full-text search, an actor's substring, a timeline: may read much of the store.
    Costly = 2,
}

/// How much a query may cost: its kind, and its weight in the queue (lighter goes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    pub kind: Kind,
    pub weight: u32,
}

impl Cost {
    /// One event by id, or the list of sources.
    pub(crate) const ONE: Cost = Cost {
        kind: Kind::Light,
        weight: 1,
    };

    /// Counts over the whole store (or a window of it).
    pub(crate) const TIMELINE: Cost = Cost {
        kind: Kind::Costly,
        weight: 20_000,
    };

    /// The largest page that is [`Kind::Light`].
    pub(crate) const LIGHT_PAGE: usize = 100;

    /// A page of `limit` events; `reads_many`: with a condition that may read many rows
    /// to find them (full text, an actor's substring), weighed as ten times the rows.
    pub(crate) fn page(limit: usize, reads_many: bool) -> Cost {
        let rows = u32::try_from(limit).unwrap_or(u32::MAX);
        if reads_many {
            Cost {
                kind: Kind::Costly,
                weight: rows.saturating_mul(10).saturating_add(1_000),
            }
        } else if limit > Cost::LIGHT_PAGE {
            Cost {
                kind: Kind::Heavy,
                weight: rows,
            }
        } else {
            Cost {
                kind: Kind::Light,
                weight: rows,
            }
        }
    }
}

/// The connections, who holds them, and who waits.
pub(crate) struct Gate {
    connections: usize,
    /// The most connections heavy and costly queries may hold together: all but one.
    heavy_share: usize,
    /// The most connections costly queries may hold: half.
    costly_share: usize,
    queue: usize,
    wait: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    held: [usize; 3],
    seq: u64,
    /// By (weight, arrival): the first that fits goes next.
    waiting: BTreeMap<(u32, u64), Waiter>,
}

struct Waiter {
    kind: Kind,
    grant: oneshot::Sender<Ticket>,
}

/// One connection held; given back when dropped.
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    kind: Kind,
}

/// No connection for this query: the queue is full of cheaper ones, or the wait ran out.
#[derive(Debug)]
pub(crate) struct Full;

impl Gate {
    /// `connections` (at least one), at most `queue` waiting, none longer than `wait`.
    pub(crate) fn new(connections: usize, queue: usize, wait: Duration) -> Arc<Gate> {
        let n = connections.max(1);
        Arc::new(Gate {
            connections: n,
            heavy_share: (n - 1).max(1),
            costly_share: n.div_ceil(2),
            queue,
            wait,
            state: Mutex::new(State::default()),
        })
    }

    /// A connection for a query of `cost`, at once or after waiting its turn.
    pub(crate) async fn enter(self: &Arc<Gate>, cost: Cost) -> Result<Ticket, Full> {
        let (key, granted) = {
            let mut state = self.lock();
            if self.fits(&state, cost.kind) {
                state.held[cost.kind as usize] += 1;
                drop(state);
                return Ok(Ticket {
                    gate: self.clone(),
                    kind: cost.kind,
                });
            }
            state.seq += 1;
            let key = (cost.weight, state.seq);
            if state.waiting.len() >= self.queue {
                match state.waiting.last_key_value() {
                    // Dropping its sender tells the costliest waiter it was turned away.
                    Some((&last, _)) if key < last => drop(state.waiting.remove(&last)),
                    _ => return Err(Full),
                }
            }
            let (grant, granted) = oneshot::channel();
            state.waiting.insert(
                key,
                Waiter {
                    kind: cost.kind,
                    grant,
                },
            );
            (key, granted)
        };
        // Leaves the queue however the wait ends: granted, turned away, timed out, or the
        // request dropped.
        let _queued = Queued { gate: self, key };
        match tokio::time::timeout(self.wait, granted).await {
            Ok(Ok(ticket)) => Ok(ticket),
            _ => Err(Full),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is counts and a map, each updated in one step: safe to use after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fits(&self, state: &State, kind: Kind) -> bool {
        let [light, heavy, costly] = state.held;
        match kind {
            Kind::Light => light + heavy + costly < self.connections,
            Kind::Heavy => {
                light + heavy + costly < self.connections && heavy + costly < self.heavy_share
            }
            Kind::Costly => {
                light + heavy + costly < self.connections
                    && heavy + costly < self.heavy_share
                    && costly < self.costly_share
            }
        }
    }

    /// Gives a connection back and hands the free ones to the first waiters that fit.
    fn leave(self: &Arc<Gate>, kind: Kind) {
        let mut granted = Vec::new();
        {
            let mut state = self.lock();
            state.held[kind as usize] -= 1;
            loop {
                let next = (state.waiting.iter())
                    .find(|(_, w)| self.fits(&state, w.kind))
                    .map(|(&key, _)| key);
                let Some(waiter) = next.and_then(|key| state.waiting.remove(&key)) else {
                    break;
                };
                state.held[waiter.kind as usize] += 1;
                granted.push(waiter);
            }
        }
        // Sent with the lock released: a ticket its waiter no longer wants is dropped here,
        // and gives its connection back through this same function.
        for waiter in granted {
            let ticket = Ticket {
                gate: self.clone(),
                kind: waiter.kind,
            };
            drop(waiter.grant.send(ticket));
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.gate.leave(self.kind);
    }
}

/// A place in the queue, given up when its request stops waiting.
struct Queued<'a> {
    gate: &'a Arc<Gate>,
    key: (u32, u64),
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let removed = self.gate.lock().waiting.remove(&self.key);
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn light(weight: u32) -> Cost {
        Cost {
            kind: Kind::Light,
            weight,
        }
    }

    /// Waits until `n` requests wait in `gate`'s queue.
    async fn queued(gate: &Gate, n: usize) {
        while gate.lock().waiting.len() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn the_cheapest_waiter_goes_first_and_ties_keep_their_order() {
        let gate = Gate::new(1, 8, Duration::from_secs(3600));
        let held = gate.enter(light(50)).await.unwrap();
        let (tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let arrivals = [("big", 1000), ("small", 5), ("small too", 5), ("mid", 50)];
        for (i, (name, weight)) in arrivals.into_iter().enumerate() {
            let (entering, tx) = (gate.clone(), tx.clone());
            tokio::spawn(async move {
                let ticket = entering.enter(light(weight)).await.unwrap();
                tx.send(name).unwrap();
                drop(ticket);
            });
            queued(&gate, i + 1).await;
        }
        drop(held);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(order.recv().await.unwrap());
        }
        assert_eq!(got, ["small", "small too", "mid", "big"]);
    }

    #[tokio::test]
    async fn a_full_queue_turns_away_the_costliest_or_the_newcomer() {
        let gate = Gate::new(1, 2, Duration::from_secs(3600));
        let held = gate.enter(light(1)).await.unwrap();
        let spawn = |weight| {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter(light(weight)).await.map(drop) })
        };
        let big = spawn(1000);
        queued(&gate, 1).await;
        let mid = spawn(50);
        queued(&gate, 2).await;
        // Not cheaper than the costliest waiter: turned away at once.
        assert!(gate.enter(light(1000)).await.is_err());
        // Cheaper: the costliest waiter is turned away in its stead.
        let small = spawn(5);
        assert!(big.await.unwrap().is_err());
        queued(&gate, 2).await;
        drop(held);
        assert!(small.await.unwrap().is_ok());
        assert!(mid.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_waiter_past_its_wait_is_turned_away_and_leaves_the_queue() {
        let gate = Gate::new(1, 4, Duration::from_millis(20));
        let _held = gate.enter(light(1)).await.unwrap();
        assert!(gate.enter(light(1)).await.is_err());
        assert!(gate.lock().waiting.is_empty());
    }

    #[tokio::test]
    async fn each_kind_keeps_to_its_share_and_small_questions_always_have_a_connection() {
        let gate = Gate::new(4, 8, Duration::from_millis(20));
        let costly = Cost::page(50, true);
        let heavy = Cost::page(1000, false);
        let c1 = gate.enter(costly).await.unwrap();
        let _c2 = gate.enter(costly).await.unwrap();
        assert!(gate.enter(costly).await.is_err(), "costly: half of four");
        let _h1 = gate.enter(heavy).await.unwrap();
        assert!(gate.enter(heavy).await.is_err(), "heavy: all but one");
        let _l = gate.enter(Cost::ONE).await.unwrap();
        assert!(gate.enter(Cost::ONE).await.is_err(), "all four held");
        drop(c1);
        assert!(gate.enter(heavy).await.is_ok(), "a freed connection");
    }

    #[test]
    fn a_page_weighs_its_rows_and_a_search_ten_times_more() {
        assert_eq!(Cost::page(5, false), light(5));
        assert_eq!(Cost::page(Cost::LIGHT_PAGE, false).kind, Kind::Light);
        assert_eq!(Cost::page(1000, false).kind, Kind::Heavy);
        let search = Cost::page(5, true);
        assert_eq!((search.kind, search.weight), (Kind::Costly, 1_050));
    }
}
