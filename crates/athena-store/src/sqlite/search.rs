//! How a full-text condition joins the events: the same rows whichever way, but SQLite's plan
//! for "the newest N events that match" differs by orders of magnitude with how many match.
//!
//! Measured on 1,000,000 events (the recall benchmark of docs/performance.md), newest 51 first, on a busy
//! 2-core machine:
//! - few matches: fetch each match and sort them (`seq IN (…)`): about 3 µs a match;
//! - many: walk the time index newest first and test each row against the set of matches
//!   (`+seq IN (…)`; the `+` keeps SQLite from reading the set first): building the set
//!   costs about 0.2 µs a match, the walk stops at the 51st hit;
//! - most rows: walk the time index and probe the full-text index row by row (`EXISTS`):
//!   about 30 µs a probe, but a hit comes every few rows.
//!
//! So: up to 1,000 matches are sorted (at most a few ms); from 15% of all events on, rows are
//! probed (a hit in about every seventh row, 51 hits in some 350 probes: about 10 ms); in
//! between, the walk tests a set (its building, about 0.2 µs a match, dominates: up to 30 ms
//! at 150,000 matches). The number of matches is counted first, up to the bound that decides
//! (cheap: a doclist is read, no row), and the plan kept for the next page or the same query
//! until the store has grown by a tenth.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::SqliteStore;

/// Plans kept per connection, at most this many (then they are all forgotten).
const CACHED_PLANS: usize = 256;

/// A plan is counted again once the store has grown by this share since.
const RECOUNT_AFTER_GROWTH: f64 = 0.1;

/// Recent full-text queries' plans, with the store's size when each was counted.
#[derive(Debug, Default)]
pub(super) struct PlanCache(RefCell<HashMap<String, (SearchPlan, i64)>>);

/// At most this many matches are fetched and sorted: a walk could pass every row before it
/// finds them (a word found only in old events, or nowhere).
const SORT_AT_MOST: i64 = 1_000;

/// From this share of all events on, rows are probed one by one: a hit comes every few rows,
/// while the set of matches would take longest to build.
const PROBE_SHARE: f64 = 0.15;

/// How a full-text condition is written (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SearchPlan {
    /// Fetch the matches, then sort them.
    SortMatches,
    /// Walk the time order, testing each row against the set of matches.
    WalkTestingSet,
    /// Walk the time order, probing the full-text index for each row.
    WalkProbing,
}

impl SearchPlan {
    /// The condition, with one `?` for the full-text query.
    pub(super) fn condition(self) -> &'static str {
        match self {
            SearchPlan::SortMatches => {
                " AND seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)"
            }
            SearchPlan::WalkTestingSet => {
                " AND +seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)"
            }
            SearchPlan::WalkProbing => {
                " AND EXISTS (SELECT 1 FROM events_fts WHERE events_fts MATCH ? AND rowid = events.seq)"
            }
        }
    }
}

impl SqliteStore {
    /// The plan for the FTS5 query `fts` (already made safe): by how many events it matches,
    /// counted up to the bound that decides. A query FTS5 refuses is left for the real query
    /// to report.
    pub(super) fn search_plan(&self, fts: &str) -> SearchPlan {
        let total: i64 = self
            .conn
            .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
            .flatten()
            .unwrap_or(0);
        let mut cache = self.search_plans.0.borrow_mut();
        if let Some(&(plan, counted_at)) = cache.get(fts) {
            if (total - counted_at) as f64 <= counted_at as f64 * RECOUNT_AFTER_GROWTH {
                return plan;
            }
        }
        // A count that failed (a query FTS5 refuses, or one stopped by its budget) is not
        // kept: the next page or asking again counts anew.
        let Some(plan) = self.count_plan(fts, total) else {
            return SearchPlan::SortMatches;
        };
        if cache.len() >= CACHED_PLANS {
            cache.clear();
        }
        cache.insert(fts.to_string(), (plan, total));
        plan
    }

    /// [`Self::search_plan`] for a store of about `total` events, counted now; `None` if the
    /// count failed.
    fn count_plan(&self, fts: &str, total: i64) -> Option<SearchPlan> {
        let probe_from = ((total as f64) * PROBE_SHARE) as i64;
        let bound = probe_from.max(SORT_AT_MOST) + 1;
        let matches: i64 = match self.conn.query_row(
            "SELECT count(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 LIMIT ?2)",
            rusqlite::params![fts, bound],
            |r| r.get(0),
        ) {
            Ok(n) => n,
            Err(_) => return None,
        };
        Some(if matches <= SORT_AT_MOST {
            SearchPlan::SortMatches
        } else if matches > probe_from {
            SearchPlan::WalkProbing
        } else {
            SearchPlan::WalkTestingSet
        })
    }
}
