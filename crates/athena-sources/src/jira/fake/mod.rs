//! A fake of Jira Cloud's REST API v3 for tests (feature `test-server`): issues a test adds
//! and changes between syncs, served in Jira's documented shapes: `search/jql` filtered by
//! `updated >= MS` and `project in (…)`, ordered by `updated`, paged by `nextPageToken` and
//! `isLast`, with `expand=changelog` giving only the first histories (`changelog.total` says
//! how many there are); `issue/{id}/changelog` and `issue/{id}/comment` paged by `startAt`;
//! `myself`; 401 for wrong credentials, 404 for an unknown issue. Faults (429 with
//! `Retry-After`, 5xx, malformed bodies) and delays come from the kit,
//! [`athena_http::testing::FakeApi`]; `routes` has what each path answers.
//!
//! [`FakeJira::generated`] serves a large site whose issues are made on the fly, page by page.

mod routes;

use std::ops::Deref;

use athena_http::testing::FakeApi;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{json, Value};

/// The account's email the fake accepts, with [`TOKEN`] (Basic auth).
pub const EMAIL: &str = "bot@example.com";
/// The API token the fake accepts.
pub const TOKEN: &str = "ATATT3xFfGF0-test-jira-token-0123456789";
/// The OAuth token the fake accepts (`Authorization: Bearer …`).
pub const BEARER: &str = "oauth-jira-bearer-0123456789";

/// An issue of the fake site.
#[derive(Clone)]
pub struct FakeIssue {
    id: u64,
    key: String,
    project: String,
    summary: String,
    created: u64,
    updated: u64,
    status: String,
    assignee: Option<String>,
    histories: Vec<Value>,
    comments: Vec<Value>,
}

/// The fake's site: its issues, or a generated number of them.
#[derive(Default)]
pub struct Site {
    issues: Vec<FakeIssue>,
    /// Issues `BULK-0…` made on the fly, one a minute (none: `issues` is served).
    generated: usize,
    next_history: u64,
    next_comment: u64,
}

/// A fake Jira serving a [`Site`]; clones share it. The kit's controls (`fault` by path end,
/// `set_delay`, `start`, …) are reached through `Deref`, so a test drives one object.
#[derive(Clone)]
pub struct FakeJira {
    api: FakeApi<Site>,
}

impl Deref for FakeJira {
    type Target = FakeApi<Site>;

    fn deref(&self) -> &FakeApi<Site> {
        &self.api
    }
}

impl Default for FakeJira {
    fn default() -> Self {
        FakeJira::new()
    }
}

/// The fake's times: `minutes` after 2024-03-01 00:00 UTC.
pub fn time(minutes: u64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(i64::try_from(minutes).unwrap_or(0))
}

/// [`time`] as Jira writes it: milliseconds and an offset without a colon, here `-0700`.
pub fn at(minutes: u64) -> String {
    let zone = FixedOffset::west_opt(7 * 3600).expect("a valid offset");
    time(minutes)
        .with_timezone(&zone)
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

/// An ADF document of one paragraph of `text`.
pub fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}

fn account(name: &str) -> Value {
    json!({"accountId": format!("acc-{}", name.to_lowercase()), "displayName": name,
           "active": true})
}

impl FakeJira {
    /// A site with no issues.
    pub fn new() -> Self {
        FakeJira {
            api: FakeApi::new(Site {
                next_history: 50_000,
                next_comment: 70_000,
                ..Site::default()
            }),
        }
    }

    /// A site of `count` issues `BULK-0…` made on the fly as they are asked for (issue `i`
    /// updated at minute `i`, with one transition and one comment).
    pub fn generated(count: usize) -> Self {
        let fake = FakeJira::new();
        fake.with(|s| s.generated = count);
        fake
    }

    /// Adds issue `KEY-n` (id `10000 + n`) of project `KEY`, created at minute `minutes` by
    /// Ann, status "To Do".
    pub fn issue(&self, project: &str, n: u64, minutes: u64, summary: &str) {
        self.with(|s| {
            s.issues.push(FakeIssue {
                id: 10_000 + n,
                key: format!("{project}-{n}"),
                project: project.to_string(),
                summary: summary.to_string(),
                created: minutes,
                updated: minutes,
                status: "To Do".into(),
                assignee: None,
                histories: Vec::new(),
                comments: Vec::new(),
            })
        });
    }

    fn change(
        &self,
        n: u64,
        minutes: u64,
        who: &str,
        items: Vec<Value>,
        f: impl FnOnce(&mut FakeIssue),
    ) -> u64 {
        self.with(|s| {
            s.next_history += 1;
            let id = s.next_history;
            let issue = s.find(n);
            issue
                .histories
                .push(json!({"id": id.to_string(), "author": account(who),
                "created": at(minutes), "items": items}));
            issue.updated = issue.updated.max(minutes);
            f(issue);
            id
        })
    }

    /// Moves issue `n` to `to` at minute `minutes`; returns the history's id.
    pub fn transition(&self, n: u64, minutes: u64, who: &str, to: &str) -> u64 {
        let from = self.with(|s| s.find(n).status.clone());
        let item = json!({"field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": "1", "fromString": from, "to": "2", "toString": to});
        let to = to.to_string();
        self.change(n, minutes, who, vec![item], |i| i.status = to)
    }

    /// Assigns issue `n` to `to`; returns the history's id.
    pub fn assign(&self, n: u64, minutes: u64, who: &str, to: &str) -> u64 {
        let from = self.with(|s| s.find(n).assignee.clone());
        let item = json!({"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
            "from": from.as_ref().map(|_| "acc-old"), "fromString": from,
            "to": format!("acc-{}", to.to_lowercase()), "toString": to});
        let to = to.to_string();
        self.change(n, minutes, who, vec![item], |i| i.assignee = Some(to))
    }

    /// Resolves issue `n` as Done/Fixed in one history (status and resolution); returns its id.
    pub fn resolve(&self, n: u64, minutes: u64, who: &str) -> u64 {
        let from = self.with(|s| s.find(n).status.clone());
        let items = vec![
            json!({"field": "status", "fieldtype": "jira", "fieldId": "status",
                "fromString": from, "toString": "Done"}),
            json!({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                "from": null, "fromString": null, "to": "10000", "toString": "Fixed"}),
        ];
        self.change(n, minutes, who, items, |i| i.status = "Done".into())
    }

    /// Comments on issue `n`; returns the comment's id.
    pub fn comment(&self, n: u64, minutes: u64, who: &str, body: Value) -> u64 {
        self.with(|s| {
            s.next_comment += 1;
            let id = s.next_comment;
            let issue = s.find(n);
            issue
                .comments
                .push(json!({"id": id.to_string(), "author": account(who),
                "updateAuthor": account(who), "body": body,
                "created": at(minutes), "updated": at(minutes), "jsdPublic": true}));
            issue.updated = issue.updated.max(minutes);
            id
        })
    }

    /// Edits comment `id` of issue `n` at minute `minutes`.
    pub fn edit_comment(&self, n: u64, id: u64, minutes: u64, who: &str, body: Value) {
        let want = id.to_string();
        self.with(|s| {
            let issue = s.find(n);
            let c = issue
                .comments
                .iter_mut()
                .find(|c| c["id"] == want.as_str())
                .expect("no such comment");
            c["body"] = body;
            c["updated"] = json!(at(minutes));
            c["updateAuthor"] = account(who);
            issue.updated = issue.updated.max(minutes);
        });
    }

    /// Moves issue `n` to project `project` (its key changes, its id does not).
    pub fn move_to(&self, n: u64, project: &str, new_n: u64, minutes: u64) {
        self.with(|s| {
            let issue = s.find(n);
            issue.project = project.to_string();
            issue.key = format!("{project}-{new_n}");
            issue.updated = issue.updated.max(minutes);
        });
    }
}

impl Site {
    /// Issue `KEY-n` by its number (id `10000 + n`).
    ///
    /// # Panics
    /// When there is no such issue: the test is wrong.
    fn find(&mut self, n: u64) -> &mut FakeIssue {
        self.issues
            .iter_mut()
            .find(|i| i.id == 10_000 + n)
            .expect("no such issue")
    }
}
