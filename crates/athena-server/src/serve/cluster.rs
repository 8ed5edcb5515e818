//! Workers sharing a PostgreSQL store: each `serve` with the same config and store runs the
//! sources it holds a lease on, and the leases spread evenly among the workers alive.
//!
//! Every third of a lease's time, a worker says it is alive, renews its leases (and learns of
//! those another took over while it was paused), and claims sources no one holds (or whose
//! holder died: its leases ran out) up to its share, `ceil(sources / workers alive)`; holding
//! more than its share (a worker joined), it hands the extra ones back. Sources go by
//! `priority`: a worker claims the highest free ones first and hands back the lowest. The store itself
//! refuses a batch of a source the worker no longer holds (see `athena_store::Leases`): the
//! rebalancing never needs to be on time for nothing to be written twice. On a stop the
//! worker hands every lease back at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use athena_store::Leases;

/// This worker's side of the leases.
pub(super) struct Cluster {
    leases: Arc<Mutex<Leases>>,
    ttl: Duration,
    worker: String,
}

/// A name for this worker among the others: its host and process.
pub(super) fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!("{host}:{}", std::process::id())
}

impl Cluster {
    pub(super) fn new(leases: Leases, ttl: Duration) -> Self {
        Cluster {
            worker: leases.worker().to_string(),
            leases: Arc::new(Mutex::new(leases)),
            ttl,
        }
    }

    /// The leases this worker holds, as they change.
    pub(super) fn held(&self) -> athena_store::Held {
        self.leases.lock().unwrap_or_else(|p| p.into_inner()).held()
    }

    /// This worker's name among the others.
    pub(super) fn worker(&self) -> &str {
        &self.worker
    }

    /// How often the leases are looked after: a third of their time, so that two missed
    /// turns still renew them in time.
    pub(super) fn period(&self) -> Duration {
        self.ttl / 3
    }

    /// Renews, counts the workers alive and claims (or hands back) this worker's share of
    /// `sources`, which come highest priority first: it claims the first free ones and, over
    /// its share, hands the last ones back. Returns the sources it holds now, in that order.
    pub(super) async fn balance(&self, sources: Vec<String>) -> Result<Vec<String>> {
        let leases = self.leases.clone();
        let balanced = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut leases = leases.lock().unwrap_or_else(|p| p.into_inner());
            let alive = leases.heartbeat()?;
            let share = sources.len().div_ceil(alive.max(1));
            let mut held = leases.claim(&sources, share)?;
            // Sources gone from the config, and those over the share, go back.
            let mut extra: Vec<String> = (held.iter())
                .filter(|s| !sources.contains(s))
                .cloned()
                .collect();
            held.retain(|s| sources.contains(s));
            held.sort_by_key(|s| sources.iter().position(|x| x == s));
            if held.len() > share {
                extra.extend(held.split_off(share));
            }
            if !extra.is_empty() {
                leases.release(&extra)?;
            }
            Ok(held)
        });
        balanced.await.context("the lease keeper panicked")?
    }

    /// Hands every lease back and leaves the workers alive.
    pub(super) async fn leave(&self) {
        let leases = self.leases.clone();
        let left = tokio::task::spawn_blocking(move || {
            leases.lock().unwrap_or_else(|p| p.into_inner()).leave()
        })
        .await;
        match left {
            Ok(Ok(())) => tracing::info!("handed every lease back"),
            Ok(Err(e)) => tracing::warn!("handing the leases back: {e}"),
            Err(e) => tracing::warn!("handing the leases back: {e}"),
        }
    }
}
