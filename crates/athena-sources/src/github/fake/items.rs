//! Items as GitHub's REST API returns them, numbered so a test can make many and name each:
//! item `n` has ids, titles and times derived from `n`, in the fake's repository `o/r`.

use serde_json::{json, Value};

/// The time `n` minutes after 2023-11-14T22:13:20Z, as GitHub writes times.
pub fn ts(n: u64) -> String {
    chrono::DateTime::from_timestamp(1_700_000_000 + n as i64 * 60, 0)
        .expect("a time within chrono's range")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Issue `#n`, open, by `ann`, created and updated at `ts(at)`.
pub fn issue(n: u64, at: u64) -> Value {
    json!({
        "id": 1000 + n, "node_id": format!("I_{n}"), "number": n, "title": format!("issue {n}"),
        "body": format!("body of issue {n}"), "state": "open", "user": {"login": "ann"},
        "labels": [], "html_url": format!("https://github.com/o/r/issues/{n}"),
        "created_at": ts(at), "updated_at": ts(at), "closed_at": null,
    })
}

/// Pull request `#n` by `bob`, merged into `main` one minute after it was opened at `ts(at)`.
pub fn pull(n: u64, at: u64) -> Value {
    json!({
        "id": 5000 + n, "number": n, "title": format!("pr {n}"), "body": null, "state": "closed",
        "user": {"login": "bob"}, "labels": [{"name": "feature"}], "draft": false,
        "html_url": format!("https://github.com/o/r/pull/{n}"),
        "created_at": ts(at), "updated_at": ts(at + 1), "closed_at": ts(at + 1),
        "merged_at": ts(at + 1), "base": {"ref": "main"}, "head": {"ref": format!("f{n}")},
    })
}

/// Commit `n`: its SHA is `n` in hex, its time `ts(n)`, its parent commit `n - 1`.
pub fn commit(n: u64) -> Value {
    json!({
        "sha": format!("{n:040x}"), "html_url": format!("https://github.com/o/r/commit/{n:040x}"),
        "commit": {
            "message": format!("change {n}\n\nlonger text {n}"),
            "author": {"name": "Ann", "email": "ann@example.com", "date": ts(n)},
            "committer": {"name": "Ann", "email": "ann@example.com", "date": ts(n)},
        },
        "author": {"login": "ann"}, "committer": {"login": "ann"},
        "parents": [{"sha": format!("{:040x}", n.saturating_sub(1))}],
    })
}

/// Comment `n` on issue `#issue`, by `cy`, at `ts(n)`.
pub fn comment(n: u64, issue: u64) -> Value {
    json!({
        "id": 9000 + n, "body": format!("comment {n}"), "user": {"login": "cy"},
        "issue_url": format!("https://api.github.com/repos/o/r/issues/{issue}"),
        "html_url": format!("https://github.com/o/r/issues/{issue}#issuecomment-{n}"),
        "created_at": ts(n), "updated_at": ts(n), "author_association": "MEMBER",
    })
}

/// Release `v0.n.0`, published at `ts(n)`.
pub fn release(n: u64) -> Value {
    json!({
        "id": 700 + n, "tag_name": format!("v0.{n}.0"), "name": format!("0.{n}"), "body": "notes",
        "draft": false, "prerelease": false, "author": {"login": "ann"},
        "html_url": format!("https://github.com/o/r/releases/tag/v0.{n}.0"),
        "created_at": ts(n), "published_at": ts(n),
    })
}

/// Workflow run `3000 + n` of CI on `main`, completed (every third fails), started at `ts(n)`.
pub fn run(n: u64) -> Value {
    json!({
        "id": 3000 + n, "name": "CI", "run_number": n, "run_attempt": 1, "event": "push",
        "status": "completed", "conclusion": if n.is_multiple_of(3) { "failure" } else { "success" },
        "head_branch": "main", "head_sha": format!("{n:040x}"), "display_title": format!("change {n}"),
        "html_url": format!("https://github.com/o/r/actions/runs/{}", 3000 + n),
        "created_at": ts(n), "updated_at": ts(n + 1), "run_started_at": ts(n),
        "actor": {"login": "ann"}, "triggering_actor": {"login": "ann"}, "workflow_id": 1,
    })
}
