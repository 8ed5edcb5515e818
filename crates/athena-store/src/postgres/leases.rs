//! Leases: several workers sharing one PostgreSQL store divide its sources, each source held
//! by one worker at a time, with a fencing token.
//!
//! A lease row per source (`leases`: owner, epoch, expiry in the server's clock) is claimed
//! with `FOR UPDATE SKIP LOCKED`, so workers claiming together never wait on each other nor
//! take the same source; claiming bumps the epoch. The holder renews its leases before they
//! expire; a worker that dies loses them after their time, and another takes them.
//!
//! A lease alone does not keep a paused worker (GC, SIGSTOP, a slow disk) from writing after
//! another took its source. So every batch commit of a [`PgStore`](super::PgStore) fenced by a
//! worker's [`Held`] leases checks, inside the batch's own transaction and under the lease
//! row's lock, that the source's epoch is still the one the worker claimed; if not, nothing of
//! the batch is written and the commit fails with [`StoreError::Fenced`]. The row lock holds
//! until the commit, so a claim cannot slip in between the check and the commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use athena_core::StoreError;
use tokio_postgres::Client;

use super::{connect, shown_url, wait};

/// The server's clock, in milliseconds: every worker reads expiry against the same clock.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// The leases a worker holds: source → the epoch it claimed. Shared by the worker's lease
/// keeper, which claims and renews, and its store, which fences every commit by it.
#[derive(Debug, Clone)]
pub struct Held {
    worker: Arc<str>,
    epochs: Arc<Mutex<HashMap<String, i64>>>,
}

impl Held {
    /// The worker whose leases these are.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The epoch held for `source_id`, if the lease is held.
    pub fn epoch(&self, source_id: &str) -> Option<i64> {
        self.lock().get(source_id).copied()
    }

    /// The sources held, in name order.
    pub fn sources(&self) -> Vec<String> {
        let mut all: Vec<String> = self.lock().keys().cloned().collect();
        all.sort();
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.epochs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A lease as the store has it, for `status` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The source.
    pub source_id: String,
    /// The worker holding it, if any.
    pub owner: Option<String>,
    /// Claims so far: the fencing token.
    pub epoch: i64,
    /// Whether its time has run out (the owner died, or paused).
    pub expired: bool,
}

/// One worker's side of the leases.
pub struct Leases {
    client: Client,
    url: String,
    shown: String,
    worker: String,
    ttl: Duration,
    held: Held,
}

impl Leases {
    /// Connects worker `worker` (an id unique among the workers: host and process) to the
    /// leases of the store at `url`; its leases last `ttl` unless renewed. The store must
    /// exist (a [`PgStore`](super::PgStore) has migrated it).
    pub fn open(url: &str, worker: &str, ttl: Duration) -> Result<Self, StoreError> {
        let shown = shown_url(url);
        let client = connect(url, &shown)?;
        Ok(Leases {
            client,
            url: url.to_string(),
            shown,
            worker: worker.to_string(),
            ttl,
            held: Held {
                worker: Arc::from(worker),
                epochs: Arc::default(),
            },
        })
    }

    /// The leases held, for the worker's store to fence its commits by.
    pub fn held(&self) -> Held {
        self.held.clone()
    }

    /// This worker's id.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    fn backend(&self, e: tokio_postgres::Error) -> StoreError {
        StoreError::Backend(format!("store {}: leases: {}", self.shown, super::explain(&e)).into())
    }

    /// Connects again when the connection was lost (the server restarted).
    fn reconnect_if_lost(&mut self) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.client = connect(&self.url, &self.shown)?;
        }
        Ok(())
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Renews the leases held (their time starts again) and forgets those another worker has
    /// taken meanwhile (their epoch moved on); then claims, of `sources`, those no one holds
    /// or whose time ran out, until this worker holds `want` of them, the first of
    /// `sources` first (the caller puts them highest priority first). Returns the sources held
    /// afterwards, in name order.
    pub fn claim(&mut self, sources: &[String], want: usize) -> Result<Vec<String>, StoreError> {
        self.renew()?;
        let mut held = self.held.lock().len();
        if held < want {
            let wanted: Vec<&String> = sources
                .iter()
                .filter(|s| self.held.epoch(s).is_none())
                .collect();
            let limit = (want - held) as i64;
            let ttl = self.ttl_ms();
            let claimed = wait(async {
                self.client
                    .execute(
                        "INSERT INTO leases (source_id) SELECT unnest($1::text[])
                         ON CONFLICT (source_id) DO NOTHING",
                        &[&wanted],
                    )
                    .await?;
                self.client
                    .query(
                        &format!(
                            "WITH free AS (
                                SELECT source_id FROM leases
                                WHERE source_id = ANY($1::text[])
                                  AND (owner IS NULL OR expires_at < {NOW_MS})
                                ORDER BY array_position($1::text[], source_id)
                                FOR UPDATE SKIP LOCKED
                                LIMIT $2
                             )
                             UPDATE leases l SET owner = $3, epoch = l.epoch + 1,
                                    expires_at = {NOW_MS} + $4
                             FROM free WHERE l.source_id = free.source_id
                             RETURNING l.source_id, l.epoch"
                        ),
                        &[&wanted, &limit, &self.worker, &ttl],
                    )
                    .await
            })
            .map_err(|e| self.backend(e))?;
            let mut map = self.held.lock();
            for row in claimed {
                map.insert(row.get(0), row.get(1));
            }
            held = map.len();
        }
        let _ = held;
        Ok(self.held.sources())
    }

    /// Extends the leases held whose epoch is still this worker's; forgets the others.
    pub fn renew(&mut self) -> Result<Vec<String>, StoreError> {
        self.reconnect_if_lost()?;
        let ttl = self.ttl_ms();
        let kept = wait(self.client.query(
            &format!(
                "UPDATE leases SET expires_at = {NOW_MS} + $2
                 WHERE owner = $1
                 RETURNING source_id, epoch"
            ),
            &[&self.worker, &ttl],
        ))
        .map_err(|e| self.backend(e))?;
        let still: HashMap<String, i64> = kept.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut map = self.held.lock();
        map.retain(|source, epoch| still.get(source) == Some(epoch));
        Ok({
            let mut all: Vec<String> = map.keys().cloned().collect();
            all.sort();
            all
        })
    }

    /// Says this worker is alive, and returns how many are (this one included): those seen
    /// within a lease's time.
    pub fn heartbeat(&mut self) -> Result<usize, StoreError> {
        self.reconnect_if_lost()?;
        let ttl = self.ttl_ms();
        let alive = wait(async {
            self.client
                .execute(
                    &format!(
                        "INSERT INTO workers (worker, seen_at) VALUES ($1, {NOW_MS})
                         ON CONFLICT (worker) DO UPDATE SET seen_at = excluded.seen_at"
                    ),
                    &[&self.worker],
                )
                .await?;
            self.client
                .query_one(
                    &format!("SELECT count(*) FROM workers WHERE seen_at > {NOW_MS} - $1"),
                    &[&ttl],
                )
                .await
        })
        .map_err(|e| self.backend(e))?;
        Ok(alive.get::<_, i64>(0).max(1) as usize)
    }

    /// Leaves: hands every lease back and is no longer counted among the workers.
    pub fn leave(&mut self) -> Result<(), StoreError> {
        let held = self.held.sources();
        self.release(&held)?;
        wait(
            self.client
                .execute("DELETE FROM workers WHERE worker = $1", &[&self.worker]),
        )
        .map_err(|e| self.backend(e))?;
        Ok(())
    }

    /// Hands `sources` back at once (a worker stopping, or holding more than its share): they
    /// are free for another worker to claim.
    pub fn release(&mut self, sources: &[String]) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        wait(self.client.execute(
            "UPDATE leases SET owner = NULL, expires_at = NULL
             WHERE owner = $1 AND source_id = ANY($2::text[])",
            &[&self.worker, &sources],
        ))
        .map_err(|e| self.backend(e))?;
        let mut map = self.held.lock();
        for s in sources {
            map.remove(s);
        }
        Ok(())
    }

    /// Every lease in the store, by source.
    pub fn all(&self) -> Result<Vec<Lease>, StoreError> {
        let rows = wait(self.client.query(
            &format!(
                "SELECT source_id, owner, epoch, coalesce(expires_at < {NOW_MS}, false)
                 FROM leases ORDER BY source_id COLLATE \"C\""
            ),
            &[],
        ))
        .map_err(|e| self.backend(e))?;
        Ok(rows
            .iter()
            .map(|r| Lease {
                source_id: r.get(0),
                owner: r.get(1),
                epoch: r.get(2),
                expired: r.get(3),
            })
            .collect())
    }
}

/// Inside a batch's transaction: whether `held`'s worker still holds `source_id`'s lease at
/// the epoch it claimed, locking the lease's row until the transaction ends. `Err(current)`:
/// it does not (`current`: the lease's epoch now, 0 when it has none).
pub(super) async fn check(
    client: &Client,
    source_id: &str,
    held: &Held,
) -> Result<Result<(), (i64, i64)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT epoch, owner FROM leases WHERE source_id = $1 FOR UPDATE",
            &[&source_id],
        )
        .await?;
    let (current, owner): (i64, Option<String>) = row.map_or((0, None), |r| (r.get(0), r.get(1)));
    let mine = held.epoch(source_id);
    Ok(match mine {
        Some(epoch) if epoch == current && owner.as_deref() == Some(held.worker()) => Ok(()),
        _ => Err((mine.unwrap_or(0), current)),
    })
}
