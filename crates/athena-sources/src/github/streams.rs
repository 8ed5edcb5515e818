//! What each stream asks GitHub for, how its list is ordered, and the events one item yields.

use athena_core::{Event, Outcome};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::config::Stream;

/// Where the events happened: the repository, and the branch for commits.
pub(crate) struct Ctx<'a> {
    /// `owner/repo`.
    pub repository: &'a str,
    pub branch: Option<&'a str>,
}

fn text<'a>(item: &'a Value, pointer: &str) -> Option<&'a str> {
    item.pointer(pointer).and_then(Value::as_str)
}

pub(crate) fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Percent-encodes a query value (branch names may hold `/`, `#`, `&`).
fn encode(s: &str) -> String {
    percent_encode(s, b"")
}

/// Percent-encodes everything outside the unreserved set and `keep`.
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b if keep.contains(&b) => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Stream {
    /// The first page's path and query. Every list is read newest first and the same URL is
    /// asked every sync, so its ETag can say "nothing new" with a 304.
    pub(crate) fn path(self, owner: &str, repo: &str, branch: Option<&str>) -> String {
        let base = format!("repos/{}/{}", encode(owner), encode(repo));
        match self {
            Stream::Commits => match branch {
                Some(b) => format!("{base}/commits?sha={}&per_page=100", encode(b)),
                None => format!("{base}/commits?per_page=100"),
            },
            Stream::PullRequests => {
                format!("{base}/pulls?state=all&sort=updated&direction=desc&per_page=100")
            }
            Stream::Issues => {
                format!("{base}/issues?state=all&sort=updated&direction=desc&per_page=100")
            }
            Stream::IssueComments => {
                format!("{base}/issues/comments?sort=updated&direction=desc&per_page=100")
            }
            Stream::Releases => format!("{base}/releases?per_page=100"),
            // Not `status=completed`: GitHub caps filtered lists at 1,000 runs. Runs still
            // running are skipped here and stored once completed.
            Stream::WorkflowRuns => format!("{base}/actions/runs?per_page=100"),
        }
    }

    /// The items of a page, or `None` if the page is not shaped as this list.
    pub(crate) fn items(self, page: &Value) -> Option<&Vec<Value>> {
        match self {
            Stream::WorkflowRuns => page.get("workflow_runs")?.as_array(),
            _ => page.as_array(),
        }
    }

    /// The time the list is sorted by, newest first: paging stops at an item older than the
    /// high-water mark (less the overlap).
    pub(crate) fn order_time(self, item: &Value) -> Option<DateTime<Utc>> {
        let t = match self {
            Stream::Commits => text(item, "/commit/committer/date"),
            Stream::PullRequests | Stream::Issues | Stream::IssueComments => {
                text(item, "/updated_at")
            }
            Stream::Releases => text(item, "/created_at"),
            Stream::WorkflowRuns => text(item, "/created_at"),
        };
        t.and_then(time)
    }

    /// The item's high-water mark: the cursor keeps the latest one stored. Items older than
    /// the stored mark were stored before and are skipped.
    pub(crate) fn mark(self, item: &Value) -> Option<DateTime<Utc>> {
        let t = match self {
            Stream::Commits => text(item, "/commit/committer/date"),
            Stream::PullRequests | Stream::Issues | Stream::IssueComments => {
                text(item, "/updated_at")
            }
            Stream::Releases => text(item, "/published_at"),
            Stream::WorkflowRuns if text(item, "/status") != Some("completed") => None,
            Stream::WorkflowRuns => text(item, "/updated_at"),
        };
        t.and_then(time)
    }

    /// How far before the mark paging goes on, for lists whose order is not their mark's: a
    /// workflow run is listed by creation but stored when it completes; releases are read
    /// whole. (Commits do not page down to a mark at all: see the source's `compare`.)
    pub(crate) fn overlap(self) -> chrono::Duration {
        match self {
            Stream::WorkflowRuns => chrono::Duration::days(1),
            // A repository's releases are few: read them all, so a draft published long after
            // it was created is not missed.
            Stream::Releases => chrono::Duration::days(365 * 100),
            _ => chrono::Duration::zero(),
        }
    }

    /// The events one item yields (none for an item of another kind, such as a pull request
    /// in the issues list, or a draft release).
    pub(crate) fn events(self, item: &Value, ctx: &Ctx<'_>) -> Vec<Event> {
        let events = match self {
            Stream::Commits => commit(item, ctx).into_iter().collect(),
            Stream::PullRequests => pull_request(item, ctx),
            Stream::Issues if item.get("pull_request").is_some() => Vec::new(),
            Stream::Issues => issue(item, ctx),
            Stream::IssueComments => comment(item, ctx),
            Stream::Releases => release(item, ctx).into_iter().collect(),
            Stream::WorkflowRuns => workflow_run(item, ctx).into_iter().collect(),
        };
        events
            .into_iter()
            .map(|mut e: Event| {
                e.context.insert("repository".into(), json!(ctx.repository));
                e
            })
            .collect()
    }
}

fn login(item: &Value, pointer: &str) -> Option<String> {
    text(item, pointer).map(str::to_string)
}

fn commit(item: &Value, ctx: &Ctx<'_>) -> Option<Event> {
    let sha = text(item, "/sha")?;
    let at = time(text(item, "/commit/committer/date")?)?;
    let message = text(item, "/commit/message").unwrap_or("");
    let (subject, body) = message.split_once('\n').unwrap_or((message, ""));
    let mut e = Event::new(sha, "commit", at, subject.trim());
    e.body = body.trim().to_string();
    e.actor = login(item, "/author/login").or_else(|| login(item, "/commit/author/name"));
    e.url = login(item, "/html_url");
    if let Some(b) = ctx.branch {
        e.context.insert("branch".into(), json!(b));
    }
    let mut m = Map::new();
    m.insert("sha".into(), json!(sha));
    for who in ["author", "committer"] {
        m.insert(
            who.into(),
            json!({
                "name": text(item, &format!("/commit/{who}/name")),
                "email": text(item, &format!("/commit/{who}/email")),
                "date": text(item, &format!("/commit/{who}/date")),
                "login": text(item, &format!("/{who}/login")),
            }),
        );
    }
    let parents: Vec<&str> = item
        .get("parents")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().filter_map(|p| text(p, "/sha")).collect())
        .unwrap_or_default();
    m.insert("merge".into(), json!(parents.len() > 1));
    m.insert("parents".into(), json!(parents));
    e.metadata = m;
    Some(e)
}

/// Fields shared by issues and pull requests.
fn thread_metadata(item: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "number".into(),
        item.get("number").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "state".into(),
        item.get("state").cloned().unwrap_or(Value::Null),
    );
    m.insert("author".into(), json!(text(item, "/user/login")));
    let labels: Vec<&str> = item
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| ls.iter().filter_map(|l| text(l, "/name")).collect())
        .unwrap_or_default();
    m.insert("labels".into(), json!(labels));
    for k in ["created_at", "updated_at", "closed_at"] {
        m.insert(k.into(), item.get(k).cloned().unwrap_or(Value::Null));
    }
    m
}

/// One event of an issue or pull request. Its id is the repository, the number and the kind,
/// plus the time for a closing (an issue closed, reopened and closed again closed twice).
fn thread_event(
    item: &Value,
    ctx: &Ctx<'_>,
    kind: &str,
    what: &str,
    at: DateTime<Utc>,
) -> Option<Event> {
    let number = item.get("number")?.as_u64()?;
    let title = text(item, "/title").unwrap_or("");
    let id = if kind.ends_with("_closed") {
        format!(
            "{}#{number}:{kind}@{}",
            ctx.repository,
            text(item, "/closed_at")?
        )
    } else {
        format!("{}#{number}:{kind}", ctx.repository)
    };
    let mut e = Event::new(id, kind, at, format!("{what} #{number}: {title}"));
    e.body = text(item, "/body").unwrap_or("").to_string();
    e.actor = login(item, "/user/login");
    e.url = login(item, "/html_url");
    e.context.insert("number".into(), json!(number));
    e.metadata = thread_metadata(item);
    Some(e)
}

/// An issue or pull request, for remembering its text: the pull requests stream's items have
/// the high bit set (issue and pull request numbers are one sequence in a repository).
pub(crate) type TextKey = u64;

const PULL_BIT: u64 = 1 << 63;

/// For an issue or a pull request: its [`TextKey`] and a digest of its title and body. `None`
/// for other items (and for the pull requests the issues list carries, which the pull requests
/// stream remembers).
pub(crate) fn text_digest(stream: Stream, item: &Value) -> Option<(TextKey, [u8; 16])> {
    let bit = match stream {
        Stream::Issues if item.get("pull_request").is_none() => 0,
        Stream::PullRequests => PULL_BIT,
        _ => return None,
    };
    let number = item.get("number")?.as_u64()?;
    let mut h = blake3::Hasher::new();
    h.update(text(item, "/title").unwrap_or("").as_bytes());
    h.update(b"\0");
    h.update(text(item, "/body").unwrap_or("").as_bytes());
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Some((number | bit, digest))
}

/// The key a [`TextKey`] is stored under in the source's state: it names the repository, so
/// a source pointed at another repository does not compare its texts with the old one's.
pub(crate) fn text_state_key(repository: &str, key: TextKey) -> Vec<u8> {
    let kind = if key & PULL_BIT == 0 { "issue" } else { "pull" };
    format!("{repository}#{kind}:{}", key & !PULL_BIT).into_bytes()
}

/// The inverse of [`text_state_key`], for this repository's keys only.
pub(crate) fn parse_text_state_key(repository: &str, stored: &[u8]) -> Option<TextKey> {
    let rest = std::str::from_utf8(stored).ok()?.strip_prefix(repository)?;
    let (kind, number) = rest.strip_prefix('#')?.split_once(':')?;
    let number: u64 = number.parse().ok().filter(|n| n & PULL_BIT == 0)?;
    match kind {
        "issue" => Some(number),
        "pull" => Some(number | PULL_BIT),
        _ => None,
    }
}

/// An issue's or pull request's title or body as changed at its `updated_at` (the list API
/// does not say who edited; the actor is the author).
pub(crate) fn edited(stream: Stream, item: &Value, ctx: &Ctx<'_>) -> Option<Event> {
    let kind = match stream {
        Stream::Issues => "issue_edited",
        Stream::PullRequests => "pull_request_edited",
        _ => return None,
    };
    let updated = text(item, "/updated_at")?;
    let at = time(updated)?;
    let mut e = thread_event(item, ctx, kind, "edited", at)?;
    e.id = format!("{}@{updated}", e.id);
    e.context.insert("repository".into(), json!(ctx.repository));
    Some(e)
}

fn pull_request(item: &Value, ctx: &Ctx<'_>) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(at) = text(item, "/created_at").and_then(time) {
        out.extend(thread_event(item, ctx, "pull_request_opened", "opened", at));
    }
    let merged = text(item, "/merged_at").and_then(time);
    let closed = text(item, "/closed_at").and_then(time);
    let extra = |mut e: Event| {
        e.metadata
            .insert("base".into(), json!(text(item, "/base/ref")));
        e.metadata
            .insert("head".into(), json!(text(item, "/head/ref")));
        e.metadata.insert(
            "draft".into(),
            item.get("draft").cloned().unwrap_or(Value::Null),
        );
        e.metadata.insert(
            "merged_at".into(),
            item.get("merged_at").cloned().unwrap_or(Value::Null),
        );
        e
    };
    if let Some(at) = merged {
        out.extend(
            thread_event(item, ctx, "pull_request_merged", "merged", at).map(|mut e| {
                e.outcome = Some(Outcome::Success);
                e
            }),
        );
    } else if let (Some(at), Some("closed")) = (closed, text(item, "/state")) {
        out.extend(
            thread_event(item, ctx, "pull_request_closed", "closed", at).map(|mut e| {
                e.outcome = Some(Outcome::Failure);
                e
            }),
        );
    }
    out.into_iter().map(extra).collect()
}

fn issue(item: &Value, ctx: &Ctx<'_>) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(at) = text(item, "/created_at").and_then(time) {
        out.extend(thread_event(item, ctx, "issue_opened", "opened", at));
    }
    if let (Some(at), Some("closed")) = (
        text(item, "/closed_at").and_then(time),
        text(item, "/state"),
    ) {
        out.extend(
            thread_event(item, ctx, "issue_closed", "closed", at).map(|mut e| {
                e.metadata.insert(
                    "state_reason".into(),
                    item.get("state_reason").cloned().unwrap_or(Value::Null),
                );
                e
            }),
        );
    }
    out
}

/// A comment, and when GitHub says it was updated after its creation, an edit: the text as
/// of that update (the REST API keeps only the latest text and does not say who edited).
fn comment(item: &Value, _ctx: &Ctx<'_>) -> Vec<Event> {
    let Some(id) = item.get("id").and_then(Value::as_u64) else {
        return Vec::new();
    };
    let Some(at) = text(item, "/created_at").and_then(time) else {
        return Vec::new();
    };
    // `…/issues/42`: the thread the comment is on.
    let number = text(item, "/issue_url")
        .and_then(|u| u.rsplit('/').next())
        .and_then(|n| n.parse::<u64>().ok());
    let title = match number {
        Some(n) => format!("comment on #{n}"),
        None => "comment".to_string(),
    };
    let mut e = Event::new(format!("comment:{id}"), "issue_comment", at, title.clone());
    e.body = text(item, "/body").unwrap_or("").to_string();
    e.actor = login(item, "/user/login");
    e.url = login(item, "/html_url");
    if let Some(n) = number {
        e.context.insert("number".into(), json!(n));
    }
    let mut m = Map::new();
    m.insert("comment_id".into(), json!(id));
    m.insert(
        "updated_at".into(),
        item.get("updated_at").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "author_association".into(),
        item.get("author_association")
            .cloned()
            .unwrap_or(Value::Null),
    );
    e.metadata = m;
    let updated = text(item, "/updated_at").and_then(|u| Some((u, time(u)?)));
    let mut events = vec![e];
    if let Some((updated_text, updated)) = updated.filter(|(_, u)| *u > at) {
        let first = &events[0];
        let mut edit = Event::new(
            format!("comment:{id}:edited@{updated_text}"),
            "issue_comment_edited",
            updated,
            format!("{title} edited"),
        );
        edit.body = first.body.clone();
        edit.actor = first.actor.clone();
        edit.url = first.url.clone();
        edit.context = first.context.clone();
        edit.metadata = first.metadata.clone();
        edit.metadata
            .insert("created_at".into(), json!(text(item, "/created_at")));
        events.push(edit);
    }
    events
}

fn release(item: &Value, _ctx: &Ctx<'_>) -> Option<Event> {
    if item.get("draft").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let id = item.get("id")?.as_u64()?;
    let at = time(text(item, "/published_at")?)?;
    let tag = text(item, "/tag_name").unwrap_or("");
    let name = text(item, "/name").filter(|n| !n.is_empty()).unwrap_or(tag);
    let mut e = Event::new(
        format!("release:{id}"),
        "release_published",
        at,
        format!("released {name}"),
    );
    e.body = text(item, "/body").unwrap_or("").to_string();
    e.actor = login(item, "/author/login");
    e.url = login(item, "/html_url");
    let mut m = Map::new();
    m.insert("release_id".into(), json!(id));
    m.insert("tag_name".into(), json!(tag));
    m.insert(
        "prerelease".into(),
        item.get("prerelease").cloned().unwrap_or(Value::Null),
    );
    e.metadata = m;
    Some(e)
}

fn workflow_run(item: &Value, _ctx: &Ctx<'_>) -> Option<Event> {
    if text(item, "/status") != Some("completed") {
        return None;
    }
    let id = item.get("id")?.as_u64()?;
    let attempt = item.get("run_attempt").and_then(Value::as_u64).unwrap_or(1);
    let at = time(text(item, "/updated_at")?)?;
    let conclusion = text(item, "/conclusion");
    let name = text(item, "/name").unwrap_or("workflow");
    let number = item.get("run_number").and_then(Value::as_u64).unwrap_or(0);
    let mut e = Event::new(
        format!("run:{id}:{attempt}"),
        "workflow_run_completed",
        at,
        format!("{name} #{number} {}", conclusion.unwrap_or("completed")),
    );
    e.outcome = match conclusion {
        Some("success") => Some(Outcome::Success),
        Some("failure" | "timed_out" | "startup_failure") => Some(Outcome::Failure),
        _ => None,
    };
    e.actor = login(item, "/triggering_actor/login").or_else(|| login(item, "/actor/login"));
    e.url = login(item, "/html_url");
    e.body = text(item, "/display_title").unwrap_or("").to_string();
    if let Some(b) = text(item, "/head_branch") {
        e.context.insert("branch".into(), json!(b));
    }
    let mut m = Map::new();
    m.insert("run_id".into(), json!(id));
    m.insert("run_attempt".into(), json!(attempt));
    m.insert("run_number".into(), json!(number));
    m.insert("conclusion".into(), json!(conclusion));
    m.insert(
        "event".into(),
        item.get("event").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "head_sha".into(),
        item.get("head_sha").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "workflow_id".into(),
        item.get("workflow_id").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "run_started_at".into(),
        item.get("run_started_at").cloned().unwrap_or(Value::Null),
    );
    e.metadata = m;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        Ctx {
            repository: "o/r",
            branch: Some("main"),
        }
    }

    #[test]
    fn a_merged_pull_request_yields_opened_and_merged() {
        let pr = json!({
            "number": 7, "title": "Add x", "body": "details", "state": "closed",
            "user": {"login": "ann"}, "html_url": "https://github.com/o/r/pull/7",
            "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-02T10:00:00Z",
            "closed_at": "2024-01-02T10:00:00Z", "merged_at": "2024-01-02T10:00:00Z",
            "base": {"ref": "main"}, "head": {"ref": "x"}, "labels": [{"name": "bug"}]
        });
        let events = Stream::PullRequests.events(&pr, &ctx());
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["pull_request_opened", "pull_request_merged"]);
        assert_eq!(events[0].id, "o/r#7:pull_request_opened");
        assert_eq!(events[1].id, "o/r#7:pull_request_merged");
        assert_eq!(events[1].outcome, Some(Outcome::Success));
        assert_eq!(events[0].actor.as_deref(), Some("ann"));
        assert_eq!(events[0].metadata["labels"], json!(["bug"]));
        assert_eq!(events[0].context["repository"], "o/r");
    }

    #[test]
    fn an_edited_comment_also_yields_its_edit() {
        let mut c = json!({
            "id": 5, "body": "first", "user": {"login": "ann"},
            "issue_url": "https://api.github.com/repos/o/r/issues/9",
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        });
        let plain = Stream::IssueComments.events(&c, &ctx());
        assert_eq!(plain.len(), 1);
        assert_eq!(
            (plain[0].id.as_str(), plain[0].kind.as_str()),
            ("comment:5", "issue_comment")
        );
        c["body"] = json!("second");
        c["updated_at"] = json!("2024-01-03T10:00:00Z");
        let both = Stream::IssueComments.events(&c, &ctx());
        assert_eq!(both.len(), 2);
        let edit = &both[1];
        assert_eq!(edit.id, "comment:5:edited@2024-01-03T10:00:00Z");
        assert_eq!(edit.kind, "issue_comment_edited");
        assert_eq!(edit.body, "second");
        assert_eq!(edit.title, "comment on #9 edited");
        assert_eq!(edit.occurred_at.to_rfc3339(), "2024-01-03T10:00:00+00:00");
        assert_eq!(edit.context["number"], 9);
        // The comment itself keeps its id, so a store that has it keeps its first text.
        assert_eq!(both[0].id, "comment:5");
    }

    #[test]
    fn text_state_keys_name_the_repository_and_round_trip() {
        let issue = json!({"number": 7, "title": "t", "body": "b"});
        let (ki, di) = text_digest(Stream::Issues, &issue).unwrap();
        let (kp, dp) = text_digest(Stream::PullRequests, &issue).unwrap();
        assert_ne!(ki, kp);
        assert_eq!(di, dp);
        let mut edited = issue.clone();
        edited["body"] = json!("b2");
        assert_ne!(text_digest(Stream::Issues, &edited).unwrap().1, di);
        for k in [ki, kp] {
            let stored = text_state_key("o/r", k);
            assert_eq!(parse_text_state_key("o/r", &stored), Some(k));
            assert_eq!(parse_text_state_key("o/other", &stored), None);
        }
        assert_eq!(text_state_key("o/r", kp), b"o/r#pull:7");
        let as_pr = json!({"number": 7, "pull_request": {}});
        assert!(text_digest(Stream::Issues, &as_pr).is_none());
    }

    #[test]
    fn pull_requests_in_the_issues_list_are_skipped() {
        let item = json!({"number": 1, "created_at": "2024-01-01T00:00:00Z", "pull_request": {}});
        assert!(Stream::Issues.events(&item, &ctx()).is_empty());
    }

    #[test]
    fn workflow_outcomes_come_from_the_conclusion() {
        for (conclusion, outcome) in [
            ("success", Some(Outcome::Success)),
            ("failure", Some(Outcome::Failure)),
            ("timed_out", Some(Outcome::Failure)),
            ("cancelled", None),
        ] {
            let run = json!({"id": 5, "run_attempt": 2, "updated_at": "2024-01-01T00:00:00Z", "status": "completed",
                             "conclusion": conclusion, "name": "CI", "run_number": 9});
            let e = &Stream::WorkflowRuns.events(&run, &ctx())[0];
            assert_eq!(e.outcome, outcome, "{conclusion}");
            assert_eq!(e.id, "run:5:2");
        }
    }

    #[test]
    fn branch_names_are_encoded_in_the_query() {
        assert_eq!(
            Stream::Commits.path("o", "r", Some("feat/a&b")),
            "repos/o/r/commits?sha=feat%2Fa%26b&per_page=100"
        );
    }
}
