//! A fake of Linear's GraphQL API for tests (feature `test-server`): one endpoint, `/graphql`,
//! answering the operations the source sends by their `operationName` (`Issues`,
//! `IssueHistory`, `IssueComments`, `Viewer`) from the variables it reads (`filter.updatedAt.gte`,
//! `filter.team.key.in`, `first`, `after`, `id`), in Linear's shapes: connections with
//! `pageInfo { hasNextPage endCursor }`, nested `history`/`comments` of 50, issues newest
//! first, `X-RateLimit-Requests-*`/`X-RateLimit-Complexity-*` headers (resets in epoch
//! milliseconds), and a refused key as a 400 with `AUTHENTICATION_ERROR`. Faults (a
//! `RATELIMITED` 400: [`ratelimited`], errors in a 200: [`graphql_error`], 5xx, malformed
//! bodies) and delays come from the kit, [`athena_http::testing::FakeApi`]; key them `/graphql`.
//!
//! [`FakeLinear::generate`] makes a large workspace whose issues are made as they are asked
//! for, so a test of thousands of issues holds none of them.

use std::ops::Deref;
use std::time::{Duration, SystemTime};

use athena_http::testing::{FakeApi, Routes, TestRequest, TestResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The personal API key the fake accepts (sent bare: `Authorization: lin_api_…`).
pub const TOKEN: &str = "lin_api_test0123456789abcdefghijklmnop";

/// The OAuth token the fake accepts (`Authorization: Bearer …`).
pub const OAUTH_TOKEN: &str = "lin_oauth_test0123456789abcdef";

/// Items of a nested connection per page, as Linear's default.
const NESTED: usize = 50;

/// What the fake holds.
#[derive(Default)]
pub struct Workspace {
    /// Issues as [`issue`] makes them, their `history` and `comments` plain arrays.
    issues: Vec<Value>,
    /// Issues made on the fly by [`generated`] (`gen-00000` …), besides `issues`.
    generated: usize,
    /// (requests left, complexity left, reset in) sent in the rate-limit headers.
    budget: Option<(u64, u64, Duration)>,
    /// Issues queries after this issue get this answer (a page that keeps failing).
    broken_after: Option<(String, TestResponse)>,
}

/// A fake Linear serving a [`Workspace`]; clones share it. The kit's controls (`fault`,
/// `set_delay`, `start`, …) are reached through `Deref`.
#[derive(Clone)]
pub struct FakeLinear {
    api: FakeApi<Workspace>,
}

impl Deref for FakeLinear {
    type Target = FakeApi<Workspace>;

    fn deref(&self) -> &FakeApi<Workspace> {
        &self.api
    }
}

impl Default for FakeLinear {
    fn default() -> Self {
        FakeLinear::new()
    }
}

impl FakeLinear {
    /// An empty workspace.
    pub fn new() -> Self {
        FakeLinear {
            api: FakeApi::new(Workspace::default()),
        }
    }

    /// Replaces the issues.
    pub fn set_issues(&self, issues: Vec<Value>) {
        self.with(|w| w.issues = issues);
    }

    /// Adds an issue.
    pub fn add_issue(&self, issue: Value) {
        self.with(|w| w.issues.push(issue));
    }

    /// Changes the issue with this id in place.
    ///
    /// # Panics
    /// When there is no such issue: the test is wrong.
    pub fn edit_issue(&self, id: &str, change: impl FnOnce(&mut Value)) {
        self.with(|w| {
            let issue = w.issues.iter_mut().find(|i| i["id"] == id);
            change(issue.expect("no such issue"));
        });
    }

    /// Serves `n` more issues made on the fly, besides the others (see [`generated`]).
    pub fn generate(&self, n: usize) {
        self.with(|w| w.generated = n);
    }

    /// Every issues query for the page after issue `id` gets `answer`, until
    /// [`mend_pages`](FakeLinear::mend_pages).
    pub fn break_page_after(&self, id: &str, answer: TestResponse) {
        self.with(|w| w.broken_after = Some((id.to_string(), answer)));
    }

    /// Issues queries are answered again.
    pub fn mend_pages(&self) {
        self.with(|w| w.broken_after = None);
    }

    /// The rate-limit headers say this much is left, resetting in `reset_in`.
    pub fn set_budget(&self, requests: u64, complexity: u64, reset_in: Duration) {
        self.with(|w| w.budget = Some((requests, complexity, reset_in)));
    }
}

/// Minute `n` after 2024-01-01T00:00:00Z, as Linear writes times.
pub fn ts(n: u64) -> String {
    at(n * 60)
}

fn at(secs: u64) -> String {
    let t = DateTime::<Utc>::from_timestamp(1_704_067_200 + secs as i64, 0).unwrap_or_default();
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn user(name: &str) -> Value {
    json!({"name": format!("{name} Example"), "displayName": name})
}

/// Issue `n` of `team` (`id` `issue-N`, identifier `TEAM-N`), created at minute `n`, updated
/// at minute `updated`, by `ann`, with no history or comments.
pub fn issue(n: u64, team: &str, updated: u64) -> Value {
    json!({
        "id": format!("issue-{n}"), "identifier": format!("{team}-{n}"),
        "title": format!("Issue {n}"), "url": format!("https://linear.app/acme/issue/{team}-{n}"),
        "createdAt": ts(n), "updatedAt": ts(updated), "team": {"key": team},
        "creator": user("ann"), "history": [], "comments": []
    })
}

/// A history entry `id` at minute `at` by `bob`: a state change from `from` to `to` (of type
/// `to_type`: `started`, `completed`, `canceled` …).
pub fn state_change(id: &str, at: u64, from: &str, to: &str, to_type: &str) -> Value {
    json!({"id": id, "createdAt": ts(at), "actor": user("bob"),
        "fromState": {"name": from, "type": "unstarted"}, "toState": {"name": to, "type": to_type},
        "fromAssignee": null, "toAssignee": null})
}

/// A history entry `id` at minute `at` by `bob`: the issue assigned to `to`.
pub fn assignment(id: &str, at: u64, to: &str) -> Value {
    json!({"id": id, "createdAt": ts(at), "actor": user("bob"),
        "fromState": null, "toState": null, "fromAssignee": null, "toAssignee": user(to)})
}

/// A comment `id` at minute `at` by `cy`.
pub fn comment(id: &str, at: u64, body: &str) -> Value {
    json!({"id": id, "body": body, "createdAt": ts(at), "url": format!("https://linear.app/acme/comment/{id}"),
        "user": user("cy")})
}

/// Generated issue `i` (`gen-0000i`, team `GEN`), updated at second `i`: created, moved to
/// started, assigned, and commented on once.
pub fn generated(i: usize) -> Value {
    let secs = i as u64;
    let id = format!("gen-{i:05}");
    json!({
        "id": id, "identifier": format!("GEN-{i}"),
        "title": format!("Generated issue {i} with a title of a usual length"),
        "url": format!("https://linear.app/acme/issue/GEN-{i}"),
        "createdAt": at(secs), "updatedAt": at(secs), "team": {"key": "GEN"},
        "creator": user("ann"),
        "history": [
            {"id": format!("{id}-h1"), "createdAt": at(secs), "actor": user("bob"),
             "fromState": {"name": "Todo", "type": "unstarted"},
             "toState": {"name": "In Progress", "type": "started"}},
            {"id": format!("{id}-h2"), "createdAt": at(secs), "actor": user("bob"),
             "toAssignee": user("cy")}
        ],
        "comments": [
            {"id": format!("{id}-c1"), "createdAt": at(secs), "user": user("cy"),
             "body": "A comment of a few words, as most are. ".repeat(4)}
        ]
    })
}

/// A `RATELIMITED` refusal as Linear sends it: HTTP 400, the error in the body, the windows'
/// resets (epoch milliseconds) `reset_in` from now.
pub fn ratelimited(reset_in: Duration) -> TestResponse {
    let reset = epoch_ms(reset_in).to_string();
    TestResponse::json(
        400,
        &json!({"errors": [{"message": "Rate limit exceeded", "extensions": {
            "code": "RATELIMITED", "type": "ratelimited",
            "userPresentableMessage": "Rate limit exceeded, retry later"}}]}),
    )
    .header("X-RateLimit-Requests-Limit", "1500")
    .header("X-RateLimit-Requests-Remaining", "0")
    .header("X-RateLimit-Requests-Reset", &reset)
    .header("X-RateLimit-Complexity-Reset", &reset)
}

/// An error in a 200, as GraphQL servers say them, with `data: null`.
pub fn graphql_error(message: &str, code: &str) -> TestResponse {
    TestResponse::json(
        200,
        &json!({"data": null, "errors": [{"message": message, "path": ["issues"],
            "extensions": {"code": code}}]}),
    )
}

fn epoch_ms(from_now: Duration) -> u128 {
    (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        + from_now)
        .as_millis()
}

impl Routes for Workspace {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        let auth = r.header("authorization").unwrap_or("");
        (auth != TOKEN && auth != format!("Bearer {OAUTH_TOKEN}")).then(|| {
            TestResponse::json(
                400,
                &json!({"errors": [{"message": "Authentication required, not authenticated",
                    "extensions": {"code": "AUTHENTICATION_ERROR", "type": "authentication error",
                    "userPresentableMessage": "You need to authenticate to access this operation."}}]}),
            )
        })
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        let body: Value = match serde_json::from_slice(&r.body) {
            Ok(b) if r.method == "POST" && r.path() == "/graphql" => b,
            _ => {
                return TestResponse::json(
                    400,
                    &json!({"errors": [{"message": "POST a JSON query to /graphql",
                        "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]}),
                )
            }
        };
        let vars = &body["variables"];
        let data = match body["operationName"].as_str().unwrap_or("") {
            "Viewer" => json!({"viewer": {"id": "user-1", "name": "Test User"}}),
            "Issues" if self.broken(vars["after"].as_str()).is_some() => {
                return self
                    .broken(vars["after"].as_str())
                    .cloned()
                    .unwrap_or_else(|| TestResponse::status(500))
            }
            "Issues" => match self.issues_page(vars) {
                Some(page) => json!({ "issues": page }),
                // An `after` naming no issue of the list (one deleted or filtered out since).
                None => return graphql_error("Invalid cursor: entity not found", "INVALID_INPUT"),
            },
            op @ ("IssueHistory" | "IssueComments") => {
                let field = if op == "IssueHistory" {
                    "history"
                } else {
                    "comments"
                };
                let id = vars["id"].as_str().unwrap_or("");
                match self.find(id) {
                    Some(issue) => {
                        let items = issue[field].as_array().cloned().unwrap_or_default();
                        json!({"issue": {field: connection(&items, vars["after"].as_str(), NESTED)}})
                    }
                    None => json!({"issue": null}),
                }
            }
            other => {
                return TestResponse::json(
                    400,
                    &json!({"errors": [{"message": format!("unknown operation {other:?}"),
                        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}),
                )
            }
        };
        let (requests, complexity, reset_in) =
            self.budget
                .unwrap_or((1400, 250_000, Duration::from_secs(3600)));
        let reset = epoch_ms(reset_in).to_string();
        TestResponse::json(200, &json!({ "data": data }))
            .header("X-RateLimit-Requests-Limit", "1500")
            .header("X-RateLimit-Requests-Remaining", &requests.to_string())
            .header("X-RateLimit-Requests-Reset", &reset)
            .header("X-RateLimit-Complexity-Limit", "250000")
            .header("X-RateLimit-Complexity-Remaining", &complexity.to_string())
            .header("X-RateLimit-Complexity-Reset", &reset)
    }
}

impl Workspace {
    /// The answer set for the page after `after`, if that page is broken.
    fn broken(&self, after: Option<&str>) -> Option<&TestResponse> {
        let (id, answer) = self.broken_after.as_ref()?;
        (Some(id.as_str()) == after).then_some(answer)
    }

    fn find(&self, id: &str) -> Option<Value> {
        if let Some(i) = self.issues.iter().find(|i| i["id"] == id) {
            return Some(i.clone());
        }
        let n: usize = id.strip_prefix("gen-")?.parse().ok()?;
        (n < self.generated).then(|| generated(n))
    }

    /// The page of issues the variables ask for: of the filter's teams, updated at or after
    /// its `gte`, newest first, after the `after` issue (`None`: no such issue in the list).
    fn issues_page(&self, vars: &Value) -> Option<Value> {
        let first = vars["first"].as_u64().unwrap_or(50) as usize;
        let gte = vars
            .pointer("/filter/updatedAt/gte")
            .and_then(Value::as_str);
        let teams: Option<Vec<&str>> = vars
            .pointer("/filter/team/key/in")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let keep = |i: &Value| {
            gte.is_none_or(|g| i["updatedAt"].as_str().unwrap_or("") >= g)
                && teams
                    .as_ref()
                    .is_none_or(|t| t.contains(&i["team"]["key"].as_str().unwrap_or("")))
        };
        // Ids and update times, newest first; generated issues are made only for the page.
        let mut order: Vec<(String, String)> = self
            .issues
            .iter()
            .filter(|i| keep(i))
            .map(|i| {
                (
                    i["updatedAt"].as_str().unwrap_or("").to_string(),
                    i["id"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let gen_keep = |i: usize| keep(&json!({"updatedAt": at(i as u64), "team": {"key": "GEN"}}));
        let start_gen = (0..self.generated)
            .find(|&i| gen_keep(i))
            .unwrap_or(self.generated);
        order.extend((start_gen..self.generated).map(|i| (at(i as u64), format!("gen-{i:05}"))));
        order.sort_by(|a, b| b.cmp(a));
        let start = match vars["after"].as_str() {
            Some(after) => order.iter().position(|(_, id)| id == after)? + 1,
            None => 0,
        };
        let end = (start + first).min(order.len());
        let nodes: Vec<Value> = order[start..end]
            .iter()
            .filter_map(|(_, id)| self.find(id))
            .map(|mut issue| {
                for field in ["history", "comments"] {
                    let items = issue[field].as_array().cloned().unwrap_or_default();
                    issue[field] = connection(&items, None, NESTED);
                }
                issue
            })
            .collect();
        Some(json!({
            "pageInfo": {"hasNextPage": end < order.len(),
                "endCursor": order[..end].last().map(|(_, id)| id.clone())},
            "nodes": nodes
        }))
    }
}

/// A connection of `items` (cursors: their ids): up to `first` after `after`.
fn connection(items: &[Value], after: Option<&str>, first: usize) -> Value {
    let start = after
        .and_then(|a| items.iter().position(|i| i["id"] == a))
        .map_or(0, |p| p + 1);
    let end = (start + first).min(items.len());
    json!({
        "pageInfo": {"hasNextPage": end < items.len(),
            "endCursor": items[start..end].last().map(|i| i["id"].clone())},
        "nodes": items[start..end]
    })
}
