//! What the fake Jira answers, by path: `search/jql`, `issue/{id}/changelog`,
//! `issue/{id}/comment` and `myself`, under `/rest/api/3/`.

use athena_http::testing::{paging, Routes, TestRequest, TestResponse};
use serde_json::{json, Value};

use super::{account, adf, at, time, FakeIssue, Site, BEARER, EMAIL, TOKEN};
use crate::jira::source::base64;

/// Issues a search page holds at most, whatever `maxResults` asks: servers may serve fewer,
/// and small pages make paging visible in small tests.
const SEARCH_PAGE: usize = 10;
/// Histories a search result carries inline (Jira: up to 40); the rest are paged for.
const INLINE_HISTORIES: usize = 2;
/// Histories and comments per page of an issue's lists.
const ITEM_PAGE: usize = 3;

impl Routes for Site {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        let basic = format!("Basic {}", base64(format!("{EMAIL}:{TOKEN}").as_bytes()));
        let ok = r.header("authorization") == Some(basic.as_str()) || r.has_bearer(BEARER);
        (!ok).then(|| {
            TestResponse::text(401, "Client must be authenticated to access this resource.")
                .header("WWW-Authenticate", "Basic realm=\"protected-area\"")
        })
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        let Some(rest) = r.path().strip_prefix("/rest/api/3/") else {
            return not_found("no such resource");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["search", "jql"] => self.search(r),
            ["myself"] => TestResponse::json(200, &account("Bot")),
            ["issue", id, "changelog"] => match self.issue(id) {
                Some(i) => {
                    let (page, total, last) = items(&i.histories, r);
                    TestResponse::json(
                        200,
                        &json!({"startAt": start(r), "maxResults": ITEM_PAGE,
                        "total": total, "isLast": last, "values": page}),
                    )
                }
                None => missing_issue(),
            },
            ["issue", id, "comment"] => match self.issue(id) {
                Some(i) => {
                    let (page, total, _) = items(&i.comments, r);
                    TestResponse::json(
                        200,
                        &json!({"startAt": start(r), "maxResults": ITEM_PAGE,
                        "total": total, "comments": page}),
                    )
                }
                None => missing_issue(),
            },
            _ => not_found("no such resource"),
        }
    }
}

impl Site {
    /// An issue by id, or a generated one.
    fn issue(&self, id: &str) -> Option<FakeIssue> {
        let id: u64 = id.parse().ok()?;
        if self.generated > 0 {
            let i = id.checked_sub(100_000)?;
            return (i < self.generated as u64).then(|| generated(i));
        }
        self.issues.iter().find(|i| i.id == id).cloned()
    }

    fn search(&self, r: &TestRequest) -> TestResponse {
        let jql = r.query("jql").unwrap_or_default();
        if !jql.ends_with("ORDER BY updated ASC")
            || r.query("expand").as_deref() != Some("changelog")
        {
            return TestResponse::json(
                400,
                &json!({"errorMessages":
                ["the fake serves `… ORDER BY updated ASC` with expand=changelog"], "errors": {}}),
            );
        }
        let since = number_after(&jql, "updated >= ").unwrap_or(0);
        let projects = projects(&jql);
        let size = r
            .query("maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(50usize)
            .min(SEARCH_PAGE);
        let token = r.query("nextPageToken");
        let minute_of = |ms: u64| {
            ms.saturating_sub(time(0).timestamp_millis() as u64)
                .div_ceil(60_000)
        };
        let (issues, next): (Vec<Value>, Option<String>) = if self.generated > 0 {
            // Issue i is updated at minute i: the matching ones start at the first minute ≥ since.
            let first = minute_of(since) as usize;
            let offset = token
                .as_deref()
                .and_then(|t| t.strip_prefix("off:"))
                .and_then(|t| t.parse().ok())
                .unwrap_or(0usize);
            let from = (first + offset).min(self.generated);
            let to = (from + size).min(self.generated);
            let list = (from..to).map(|i| generated(i as u64).json()).collect();
            (
                list,
                (to < self.generated).then(|| format!("off:{}", to - first)),
            )
        } else {
            let mut matching: Vec<&FakeIssue> = self
                .issues
                .iter()
                .filter(|i| time(i.updated).timestamp_millis() as u64 >= since)
                .filter(|i| projects.is_empty() || projects.contains(&i.project))
                .collect();
            matching.sort_by_key(|i| (i.updated, i.id));
            let page = paging::by_token(&matching, token.as_deref(), size);
            (page.items.iter().map(|i| i.json()).collect(), page.next)
        };
        let mut body = json!({"issues": issues, "isLast": next.is_none()});
        if let Some(n) = next {
            body["nextPageToken"] = json!(n);
        }
        TestResponse::json(200, &body)
    }
}

impl FakeIssue {
    /// As a search result: the requested fields and the first histories.
    fn json(&self) -> Value {
        let inline: Vec<&Value> = self.histories.iter().take(INLINE_HISTORIES).collect();
        json!({
            "expand": "operations,changelog",
            "id": self.id.to_string(),
            "key": self.key,
            "self": format!("https://fake.atlassian.net/rest/api/3/issue/{}", self.id),
            "fields": {
                "summary": self.summary,
                "status": {"name": self.status, "statusCategory": {"key": "new"}},
                "assignee": self.assignee.as_deref().map(account),
                "reporter": account("Ann"),
                "created": at(self.created),
                "updated": at(self.updated),
                "resolutiondate": null,
                "description": adf(&format!("What {} is about.", self.key)),
                "project": {"id": "1", "key": self.project, "name": self.project},
                "issuetype": {"name": "Task"},
                "priority": {"name": "Medium"}
            },
            "changelog": {"startAt": 0, "maxResults": inline.len(),
                "total": self.histories.len(), "histories": inline}
        })
    }
}

/// Generated issue `i`: `BULK-i`, created and updated at minute `i`, one transition, one
/// comment.
fn generated(i: u64) -> FakeIssue {
    FakeIssue {
        id: 100_000 + i,
        key: format!("BULK-{i}"),
        project: "BULK".into(),
        summary: format!("generated issue {i} with a summary of ordinary length"),
        created: i,
        updated: i,
        status: "In Progress".into(),
        assignee: Some("Ann".into()),
        histories: vec![
            json!({"id": (1_000_000 + i).to_string(), "author": account("Ann"),
            "created": at(i), "items": [{"field": "status", "fieldId": "status",
            "fromString": "To Do", "toString": "In Progress"}]}),
        ],
        comments: vec![
            json!({"id": (2_000_000 + i).to_string(), "author": account("Bob"),
            "body": adf(&format!("a comment on issue {i}, long enough to look like one")),
            "created": at(i), "updated": at(i)}),
        ],
    }
}

fn start(r: &TestRequest) -> usize {
    r.query("startAt").and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The page of `list` the request's `startAt` and `maxResults` ask for (at most
/// [`ITEM_PAGE`]), the total, and whether it is the last page.
fn items(list: &[Value], r: &TestRequest) -> (Vec<Value>, usize, bool) {
    let from = start(r).min(list.len());
    let size = r
        .query("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(50usize)
        .min(ITEM_PAGE);
    let to = (from + size).min(list.len());
    (list[from..to].to_vec(), list.len(), to == list.len())
}

fn number_after(text: &str, prefix: &str) -> Option<u64> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The keys of `project in ("A", "B")`, if the JQL has it.
fn projects(jql: &str) -> Vec<String> {
    let Some(at) = jql.find("project in (") else {
        return Vec::new();
    };
    let rest = &jql[at + "project in (".len()..];
    let list = rest.split(')').next().unwrap_or("");
    list.split(',')
        .map(|p| p.trim().trim_matches('"').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn not_found(message: &str) -> TestResponse {
    TestResponse::json(404, &json!({"errorMessages": [message], "errors": {}}))
}

fn missing_issue() -> TestResponse {
    not_found("Issue does not exist or you do not have permission to see it.")
}
