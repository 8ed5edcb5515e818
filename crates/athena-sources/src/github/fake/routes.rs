//! What the fake GitHub answers: the repository, its lists (paged by number with `Link`
//! headers, under ETags, with rate-limit headers), a comparison of two commits, and a workflow
//! run or one of its attempts by id.

use athena_http::testing::{conditional, paging, Routes, TestRequest, TestResponse};
use serde_json::{json, Value};

use super::{list_of, Repo, TOKEN};

/// GitHub's page size when a request names none.
const DEFAULT_PER_PAGE: usize = 30;

impl Routes for Repo {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        (!r.has_bearer(TOKEN)).then(|| {
            TestResponse::json(
                401,
                &json!({"message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest"}),
            )
        })
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        if let Some(rest) = r.path().strip_prefix("/repos/o/r/actions/runs/") {
            return self.run(rest);
        }
        if r.path() == "/repos/o/r" {
            return TestResponse::json(200, &json!({"full_name": "o/r", "default_branch": "main"}));
        }
        if let Some(basehead) = r.path().strip_prefix("/repos/o/r/compare/") {
            return match self.compare(basehead) {
                Some(commits) => list(r, &commits, |total, chunk| {
                    json!({"status": if total == 0 { "identical" } else { "ahead" },
                        "ahead_by": total, "behind_by": 0, "total_commits": total,
                        "commits": chunk})
                }),
                None => not_found(),
            };
        }
        match list_of(r.path()) {
            Some("runs") => list(
                r,
                self.list("runs"),
                |total, chunk| json!({"total_count": total, "workflow_runs": chunk}),
            ),
            Some(name) => list(r, self.list(name), |_, chunk| Value::from(chunk)),
            None => not_found(),
        }
    }
}

impl Repo {
    fn list(&self, name: &str) -> &[Value] {
        self.lists.get(name).map_or(&[], Vec::as_slice)
    }

    /// `ID`, or `ID/attempts/N`: an attempt a re-run replaced, or the latest.
    fn run(&self, rest: &str) -> TestResponse {
        let (id, attempt) = match rest.split_once("/attempts/") {
            Some((id, n)) => (id, n.parse::<u64>().ok()),
            None => (rest, None),
        };
        let id: u64 = id.parse().unwrap_or(0);
        let current = self.list("runs").iter().find(|run| run["id"] == id);
        let found = match attempt {
            Some(n) if current.is_some_and(|c| c["run_attempt"] != n) => {
                self.attempts.get(&(id, n))
            }
            _ => current,
        };
        match found {
            Some(run) => TestResponse::json(200, run),
            None => not_found(),
        }
    }

    /// The commits reachable from head but not from base, oldest first (the fake's history is
    /// a line); `None` when either is unknown.
    fn compare(&self, basehead: &str) -> Option<Vec<Value>> {
        let (base, head) = basehead.split_once("...").unwrap_or((basehead, ""));
        let base = self.history.iter().position(|c| c == base)?;
        let head = self.history.iter().position(|c| c == head)?;
        let all = self.list("commits");
        Some(
            self.history[(base + 1).min(head + 1)..=head]
                .iter()
                .filter_map(|sha| all.iter().find(|c| c["sha"] == sha.as_str()).cloned())
                .collect(),
        )
    }
}

/// The page a request asks for of `items`, in the body `shape` makes of (total, page), under
/// its ETag, with GitHub's rate-limit headers and a `Link` to the next page.
fn list(
    r: &TestRequest,
    items: &[Value],
    shape: impl FnOnce(usize, Vec<Value>) -> Value,
) -> TestResponse {
    let page = paging::numbered(r, items, DEFAULT_PER_PAGE);
    let body = shape(items.len(), page.items.to_vec());
    let resp = conditional::answer(r, TestResponse::json(200, &body))
        .header("X-RateLimit-Limit", "5000")
        .header("X-RateLimit-Remaining", "4321")
        .header("X-RateLimit-Reset", "4102444800");
    if resp.status == 304 {
        return resp;
    }
    page.link(resp)
}

fn not_found() -> TestResponse {
    TestResponse::json(404, &json!({"message": "Not Found"}))
}
