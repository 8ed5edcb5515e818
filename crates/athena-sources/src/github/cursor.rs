//! The `github` source's cursor: per stream, how far its list is stored, as versioned JSON.
//!
//! Version 1 (the only one written so far):
//!
//! ```json
//! {"version":1,"streams":{"commits":{"branch":"main","head":"<sha>","mark":"…","etag":"…"},
//!  "issues":{"mark":"2024-05-01T10:00:00Z","etag":"W/\"…\"","digests":true},
//!  "workflow_runs":{"mark":"…","pass":{"max_mark":"…"},"waiting":[{"id":1,"attempt":1}]}}}
//! ```
//!
//! Every stream has a [`ListCursor`] (its high-water mark, the ETag of its list when it was
//! last stored whole, an unfinished [`Pass`]); commits, issues and pull requests, and
//! workflow runs add their own fields (see their modules). Streams are written in name order.

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

use super::streams::commits::CommitsCursor;
use super::streams::threads::ThreadsCursor;
use super::streams::workflow_runs::RunsCursor;

pub(crate) const VERSION: u32 = 1;

/// The whole cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GitHubCursor {
    pub version: u32,
    pub streams: Streams,
}

/// Each stream's cursor, once the stream has stored something. The fields are in name order,
/// as the cursor has always been written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Streams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<CommitsCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_comments: Option<ListCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues: Option<ThreadsCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_requests: Option<ThreadsCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releases: Option<ListCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_runs: Option<RunsCursor>,
}

/// How far one stream's list is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ListCursor {
    /// The latest high-water time stored: items older than it were stored before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    /// The ETag of the list's first page when the whole list was last stored, so the next
    /// sync can ask "changed since?" and get a 304.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// A pass that stopped before reaching the mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
}

/// A pass over a stream's list (newest first, each page stored as it is read) that has not
/// reached the mark yet. The next sync reads the list again from the top, without trusting the
/// ETag; what the pass stored comes back as duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pass {
    /// The newest mark stored by the pass so far, for the mark when it completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mark: Option<String>,
}

/// A stream's own cursor: its list's, and whatever else the stream keeps.
pub(crate) trait StreamCursor: Clone + Default + PartialEq + Send {
    fn list(&self) -> &ListCursor;
    fn list_mut(&mut self) -> &mut ListCursor;
}

impl StreamCursor for ListCursor {
    fn list(&self) -> &ListCursor {
        self
    }
    fn list_mut(&mut self) -> &mut ListCursor {
        self
    }
}

impl GitHubCursor {
    /// The saved cursor, or a fresh one for a first sync.
    pub(crate) fn decode(saved: Option<Cursor>, source_id: &str) -> Result<Self, SourceError> {
        let saved = Cursor::decode_saved(saved, source_id, u64::from(VERSION))?;
        Ok(saved.unwrap_or(GitHubCursor {
            version: VERSION,
            streams: Streams::default(),
        }))
    }

    pub(crate) fn encode(&self) -> Cursor {
        Cursor::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the source has written it since version 1, every field of every stream set.
    const V1_FULL: &str = concat!(
        r#"{"version":1,"streams":{"#,
        r#""commits":{"branch":"main","head":"0000000000000000000000000000000000000082","mark":"2023-11-15T00:23:20Z","etag":"W/\"14f7\""},"#,
        r#""issue_comments":{"mark":"2023-11-14T22:43:20Z","etag":"W/\"bd90\""},"#,
        r#""issues":{"mark":"2023-11-15T02:43:20Z","pass":{"max_mark":"2023-11-15T03:00:00Z"},"digests":true},"#,
        r#""pull_requests":{"mark":"2023-11-15T12:14:20Z","etag":"W/\"b5ea\"","digests":true},"#,
        r#""releases":{"pass":{}},"#,
        r#""workflow_runs":{"mark":"2023-11-14T22:24:20Z","etag":"W/\"f4e7\"","waiting":[{"id":3011,"attempt":1},{"id":3012,"attempt":2}]}"#,
        r#"}}"#
    );

    fn round_trip(text: &str) -> (GitHubCursor, String) {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        let cursor = GitHubCursor::decode(Some(Cursor::from_json(json)), "gh").unwrap();
        let again = cursor.encode().as_json().to_string();
        (cursor, again)
    }

    #[test]
    fn a_version_1_cursor_decodes_into_each_streams_type_and_encodes_to_the_same_text() {
        let (cursor, again) = round_trip(V1_FULL);
        assert_eq!(again, V1_FULL);
        let s = &cursor.streams;
        let commits = s.commits.as_ref().unwrap();
        assert_eq!(commits.branch.as_deref(), Some("main"));
        assert_eq!(commits.list.mark.as_deref(), Some("2023-11-15T00:23:20Z"));
        let issues = s.issues.as_ref().unwrap();
        assert!(issues.digests);
        assert_eq!(
            issues.list.pass.as_ref().unwrap().max_mark.as_deref(),
            Some("2023-11-15T03:00:00Z")
        );
        assert_eq!(s.releases.as_ref().unwrap().pass, Some(Pass::default()));
        let runs = s.workflow_runs.as_ref().unwrap();
        assert_eq!(runs.waiting.len(), 2);
        assert_eq!((runs.waiting[1].id, runs.waiting[1].attempt), (3012, 2));
    }

    #[test]
    fn a_version_1_cursor_of_a_few_streams_keeps_the_others_absent() {
        let text = r#"{"version":1,"streams":{"issues":{"mark":"2024-05-01T10:00:00Z","etag":"W/\"x\""}}}"#;
        let (cursor, again) = round_trip(text);
        assert_eq!(again, text);
        assert!(!cursor.streams.issues.unwrap().digests);
        assert!(cursor.streams.commits.is_none());
    }

    #[test]
    fn an_unknown_version_is_a_cursor_error() {
        let json = serde_json::json!({"version": 2, "streams": {}});
        let err = GitHubCursor::decode(Some(Cursor::from_json(json)), "gh").unwrap_err();
        assert!(err.to_string().contains("unknown cursor version"), "{err}");
        let fresh = GitHubCursor::decode(None, "gh").unwrap();
        assert_eq!(
            fresh.encode().as_json().to_string(),
            r#"{"version":1,"streams":{}}"#
        );
    }
}
