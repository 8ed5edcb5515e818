//! A few connections shared by request handlers, for both stores' recall: a query takes a
//! free one if there is one, else the next in turn once it is free.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Connections of type `T`, at least one.
pub(crate) struct Pool<T> {
    connections: Vec<Mutex<T>>,
    next: AtomicUsize,
}

impl<T> Pool<T> {
    /// A pool of `connections` (not empty).
    pub(crate) fn new(connections: Vec<T>) -> Self {
        assert!(
            !connections.is_empty(),
            "a pool holds a connection at least"
        );
        Pool {
            connections: connections.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// A free connection if there is one, else the next in turn once it is free.
    pub(crate) fn get(&self) -> MutexGuard<'_, T> {
        let n = self.connections.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(c) = self.connections[(first + i) % n].try_lock() {
                return c;
            }
        }
        // A panic in another query left the connection as it was: reading on is safe.
        self.connections[first % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}
