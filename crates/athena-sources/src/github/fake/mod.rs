//! A fake of GitHub's REST API for tests (feature `test-server`): one repository, `o/r`, whose
//! lists a test sets and changes between syncs, served in GitHub's documented shapes: `Link`
//! paging with absolute URLs, ETags and 304s, rate-limit headers, 401 for a wrong token, 404
//! for anything else. Faults (429, 5xx, malformed pages) and delays come from the kit,
//! [`athena_http::testing::FakeApi`].
//!
//! - `items`: GitHub's items, numbered ([`issue`], [`commit`], …).
//! - `routes`: what each path answers.

mod items;
mod routes;

use std::collections::BTreeMap;
use std::ops::Deref;

use athena_http::testing::FakeApi;
use serde_json::{json, Value};

pub use items::{comment, commit, issue, pull, release, run, ts};

/// The token the fake accepts (`Authorization: Bearer …`).
pub const TOKEN: &str = "ghp_test_token_0123456789abcdef";

/// The fake's repository: its lists newest first, as GitHub returns them.
#[derive(Default)]
pub struct Repo {
    /// By [`list_of`]'s names.
    lists: BTreeMap<&'static str, Vec<Value>>,
    /// Workflow run attempts replaced by a re-run, by (run id, attempt).
    attempts: BTreeMap<(u64, u64), Value>,
    /// The commits' SHAs in the order they joined the branch (its history, oldest first),
    /// whatever their dates: what the compare endpoint answers from.
    history: Vec<String>,
}

/// A fake GitHub serving [`Repo`]; clones share it. The kit's controls (`fault`, `set_delay`,
/// `start`, …) are reached through `Deref`, so a test drives one object.
#[derive(Clone)]
pub struct FakeGitHub {
    api: FakeApi<Repo>,
}

impl Deref for FakeGitHub {
    type Target = FakeApi<Repo>;

    fn deref(&self) -> &FakeApi<Repo> {
        &self.api
    }
}

impl Default for FakeGitHub {
    fn default() -> Self {
        FakeGitHub::new()
    }
}

/// The list a path of the repository serves (`/repos/o/r/issues/comments` → `comments`):
/// `commits`, `pulls`, `issues`, `comments`, `releases` or `runs`.
pub fn list_of(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/repos/o/r/")?;
    Some(match rest {
        "commits" => "commits",
        "pulls" => "pulls",
        "issues" => "issues",
        "issues/comments" => "comments",
        "releases" => "releases",
        "actions/runs" => "runs",
        _ => return None,
    })
}

impl FakeGitHub {
    /// An empty repository.
    pub fn new() -> Self {
        FakeGitHub {
            api: FakeApi::new(Repo::default()),
        }
    }

    /// Replaces a list (named as by [`list_of`]). Commits are given oldest first, in the order
    /// they joined the branch, and listed from the tip back, as GitHub lists a branch; other
    /// lists are sorted by time.
    pub fn set(&self, list: &'static str, items: Vec<Value>) {
        self.with(|repo| repo.set(list, items));
    }

    /// Adds to a list; commits join the branch at its tip, in the order given.
    pub fn add(&self, list: &'static str, items: Vec<Value>) {
        self.with(|repo| {
            let mut all = repo.lists.get(list).cloned().unwrap_or_default();
            if list == "commits" {
                all.reverse();
            }
            all.extend(items);
            repo.set(list, all);
        });
    }

    /// Changes a list in place, newest first as served; its order is left as `change` makes it.
    pub fn edit_list(&self, list: &'static str, change: impl FnOnce(&mut Vec<Value>)) {
        self.with(|repo| change(repo.lists.entry(list).or_default()));
    }

    /// Changes the run with this id in place (it keeps its place in the list); returns it as
    /// it was.
    ///
    /// # Panics
    /// When there is no such run: the test is wrong.
    pub fn edit_run(&self, id: u64, change: impl FnOnce(&mut Value)) -> Value {
        self.with(|repo| {
            let r = repo
                .lists
                .get_mut("runs")
                .and_then(|runs| runs.iter_mut().find(|r| r["id"] == id))
                .expect("no such run");
            let before = r.clone();
            change(r);
            before
        })
    }

    /// The run with this id completes successfully at `ts(at)`.
    pub fn complete_run(&self, id: u64, at: u64) {
        self.edit_run(id, |r| {
            r["status"] = json!("completed");
            r["conclusion"] = json!("success");
            r["updated_at"] = json!(ts(at));
        });
    }

    /// A re-run of a run: its attempt so far is kept, and a new one starts.
    pub fn rerun(&self, id: u64) {
        let before = self.edit_run(id, |r| {
            r["run_attempt"] = json!(r["run_attempt"].as_u64().unwrap_or(1) + 1);
            r["status"] = json!("in_progress");
            r["conclusion"] = json!(null);
        });
        let attempt = before["run_attempt"].as_u64().unwrap_or(1);
        self.with(|repo| repo.attempts.insert((id, attempt), before));
    }
}

impl Repo {
    fn set(&mut self, list: &'static str, mut items: Vec<Value>) {
        if list == "commits" {
            self.history = items
                .iter()
                .filter_map(|c| c["sha"].as_str().map(str::to_string))
                .collect();
            items.reverse();
        } else {
            items.sort_by_key(|i| std::cmp::Reverse(sort_key(list, i)));
        }
        self.lists.insert(list, items);
    }
}

/// The time a list is sorted by, newest first.
fn sort_key(list: &str, item: &Value) -> String {
    let p = match list {
        "releases" | "runs" => "/created_at",
        _ => "/updated_at",
    };
    item.pointer(p)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}
