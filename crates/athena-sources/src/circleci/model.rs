//! CircleCI's items (pipelines, workflows, jobs) read leniently, and the events made of them.

use std::collections::BTreeMap;

use athena_core::{Event, Outcome};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};

/// A field read leniently: missing, `null` or of an unexpected type, it is `None`, and the
/// item keeps its other fields. (GitHub's source has its own; each source's fields are its own.)
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lax<T>(pub Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lax(T::deserialize(Value::deserialize(d)?).ok()))
    }
}

impl Lax<String> {
    fn str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(self.str()?)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// An element of a list: any JSON object is one (one that is not an object has no fields).
pub(super) fn item<T: DeserializeOwned + Default>(value: &Value) -> T {
    if value.is_object() {
        T::deserialize(value).unwrap_or_default()
    } else {
        T::default()
    }
}

/// Where events happen: the project, and how the web app links to it.
pub(super) struct Project {
    pub slug: String,
    /// `https://app.circleci.com/pipelines/github/ORG/REPO`, when the API is circleci.com's.
    pub app_url: Option<String>,
}

impl Project {
    pub fn new(slug: &str, api_url: &str) -> Project {
        let cloud = athena_http::Url::parse(api_url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| h == "circleci.com" || h.ends_with(".circleci.com"))
            })
            .unwrap_or(false);
        let app_slug = match slug.split_once('/') {
            Some(("gh", rest)) => format!("github/{rest}"),
            Some(("bb", rest)) => format!("bitbucket/{rest}"),
            _ => slug.to_string(),
        };
        Project {
            slug: slug.to_string(),
            app_url: cloud.then(|| format!("https://app.circleci.com/pipelines/{app_slug}")),
        }
    }

    fn pipeline_url(&self, number: u64) -> Option<String> {
        self.app_url.as_ref().map(|u| format!("{u}/{number}"))
    }

    fn workflow_url(&self, number: u64, workflow: &str) -> Option<String> {
        self.pipeline_url(number)
            .map(|u| format!("{u}/workflows/{workflow}"))
    }

    fn event(&self, mut e: Event, branch: Option<&str>) -> Event {
        e.context.insert("project_slug".into(), json!(self.slug));
        if let Some(b) = branch {
            e.context.insert("branch".into(), json!(b));
        }
        e
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Actor {
    login: Lax<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Trigger {
    #[serde(rename = "type")]
    kind: Lax<String>,
    actor: Lax<Actor>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Commit {
    subject: Lax<String>,
    body: Lax<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Vcs {
    branch: Lax<String>,
    tag: Lax<String>,
    revision: Lax<String>,
    commit: Lax<Commit>,
}

/// An element of `GET /project/{slug}/pipeline`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Pipeline {
    pub id: Lax<String>,
    number: Lax<u64>,
    state: Lax<String>,
    created_at: Lax<String>,
    trigger: Lax<Trigger>,
    vcs: Lax<Vcs>,
}

impl Pipeline {
    /// Where it is in the list; `None` without a creation time or number (not a pipeline).
    pub fn key(&self) -> Option<(DateTime<Utc>, u64)> {
        Some((self.created_at.time()?, self.number.0?))
    }

    pub fn number(&self) -> u64 {
        self.number.0.unwrap_or(0)
    }

    pub fn branch(&self) -> Option<&str> {
        self.vcs.0.as_ref().and_then(|v| v.branch.str())
    }

    /// `pipeline_created`, id `pipeline:ID`.
    pub fn event(&self, project: &Project) -> Option<Event> {
        let id = self.id.str()?;
        let at = self.created_at.time()?;
        let number = self.number();
        let vcs = self.vcs.0.as_ref();
        let commit = vcs.and_then(|v| v.commit.0.as_ref());
        let subject = commit.and_then(|c| c.subject.str());
        let trigger = self.trigger.0.as_ref();
        let title = match subject {
            Some(s) => format!("pipeline #{number}: {s}"),
            None => format!("pipeline #{number}"),
        };
        let mut e = Event::new(format!("pipeline:{id}"), "pipeline_created", at, title);
        e.actor = trigger
            .and_then(|t| t.actor.0.as_ref())
            .and_then(|a| a.login.0.clone());
        e.url = project.pipeline_url(number);
        e.body = commit
            .and_then(|c| c.body.str())
            .unwrap_or_default()
            .to_string();
        let mut m = Map::new();
        m.insert("pipeline_id".into(), json!(id));
        m.insert("number".into(), json!(number));
        m.insert("state".into(), json!(self.state.0));
        m.insert(
            "trigger".into(),
            json!(trigger.and_then(|t| t.kind.0.clone())),
        );
        m.insert(
            "revision".into(),
            json!(vcs.and_then(|v| v.revision.0.clone())),
        );
        m.insert("tag".into(), json!(vcs.and_then(|v| v.tag.0.clone())));
        m.insert("commit_subject".into(), json!(subject));
        e.metadata = m;
        Some(project.event(e, self.branch()))
    }
}

/// An element of `GET /pipeline/{id}/workflow`, or `GET /workflow/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Workflow {
    pub id: Lax<String>,
    name: Lax<String>,
    pub status: Lax<String>,
    pipeline_number: Lax<u64>,
    created_at: Lax<String>,
    stopped_at: Lax<String>,
    started_by: Value,
}

/// The workflow statuses that are final; every other (`running`, `on_hold`, `failing`,
/// `not_run`, one CircleCI adds later) is followed until it becomes one of these.
const FINISHED: [&str; 5] = ["success", "failed", "error", "canceled", "unauthorized"];

impl Workflow {
    pub fn finished(&self) -> bool {
        self.status.str().is_some_and(|s| FINISHED.contains(&s))
    }

    /// When it was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_at.time()
    }

    pub fn pipeline_number(&self) -> Option<u64> {
        self.pipeline_number.0
    }

    /// Whether it was created so long ago that it will not finish now.
    pub fn abandoned(&self, days: i64) -> bool {
        self.created_at
            .time()
            .is_some_and(|t| Utc::now() - t > chrono::Duration::days(days))
    }

    /// `workflow_completed`, id `workflow:ID`, with a summary of its `jobs`.
    pub fn event(
        &self,
        project: &Project,
        pipeline: u64,
        branch: Option<&str>,
        jobs: &[Job],
    ) -> Option<Event> {
        if !self.finished() {
            return None;
        }
        let id = self.id.str()?;
        let created = self.created_at.time();
        let stopped = self.stopped_at.time();
        let at = stopped.or(created)?;
        let status = self.status.str().unwrap_or("finished");
        let name = self.name.str().unwrap_or("workflow");
        let mut e = Event::new(
            format!("workflow:{id}"),
            "workflow_completed",
            at,
            format!("{name} {status} (pipeline #{pipeline})"),
        );
        e.outcome = match status {
            "success" => Some(Outcome::Success),
            "failed" | "error" => Some(Outcome::Failure),
            _ => None,
        };
        e.url = project.workflow_url(pipeline, id);
        let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
        let mut failed = Vec::new();
        for j in jobs {
            let s = j.status.str().unwrap_or("unknown");
            *by_status.entry(s).or_default() += 1;
            if j.failed() {
                failed.push(j.name.str().unwrap_or("job"));
            }
        }
        if !failed.is_empty() {
            e.body = format!("failed: {}", failed.join(", "));
        }
        let mut m = Map::new();
        m.insert("workflow_id".into(), json!(id));
        m.insert("name".into(), json!(name));
        m.insert("status".into(), json!(status));
        m.insert("pipeline_number".into(), json!(pipeline));
        m.insert(
            "duration_secs".into(),
            json!(created.zip(stopped).map(|(a, b)| (b - a).num_seconds())),
        );
        m.insert("started_by".into(), self.started_by.clone());
        m.insert(
            "jobs".into(),
            json!({"total": jobs.len(), "by_status": by_status, "failed": failed}),
        );
        e.metadata = m;
        Some(project.event(e, branch))
    }
}

/// An element of `GET /workflow/{id}/job`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Job {
    id: Lax<String>,
    name: Lax<String>,
    status: Lax<String>,
    job_number: Lax<u64>,
    started_at: Lax<String>,
    stopped_at: Lax<String>,
    #[serde(rename = "type")]
    kind: Lax<String>,
}

impl Job {
    fn failed(&self) -> bool {
        matches!(
            self.status.str(),
            Some("failed" | "infrastructure_fail" | "timedout" | "terminated-unknown")
        )
    }

    /// `job_failed`, id `job:ID`, for a job that failed.
    pub fn event(
        &self,
        project: &Project,
        pipeline: u64,
        branch: Option<&str>,
        workflow: &str,
    ) -> Option<Event> {
        if !self.failed() {
            return None;
        }
        let id = self.id.str()?;
        let started = self.started_at.time();
        let stopped = self.stopped_at.time();
        let at = stopped.or(started)?;
        let name = self.name.str().unwrap_or("job");
        let status = self.status.str().unwrap_or("failed");
        let mut e = Event::new(
            format!("job:{id}"),
            "job_failed",
            at,
            format!("job {name} {status} (pipeline #{pipeline})"),
        );
        e.outcome = Some(Outcome::Failure);
        e.url = match self.job_number.0 {
            Some(n) => project
                .workflow_url(pipeline, workflow)
                .map(|u| format!("{u}/jobs/{n}")),
            None => project.workflow_url(pipeline, workflow),
        };
        let mut m = Map::new();
        m.insert("job_id".into(), json!(id));
        m.insert("name".into(), json!(name));
        m.insert("number".into(), json!(self.job_number.0));
        m.insert("status".into(), json!(status));
        m.insert("type".into(), json!(self.kind.0));
        m.insert("workflow_id".into(), json!(workflow));
        m.insert("pipeline_number".into(), json!(pipeline));
        m.insert(
            "duration_secs".into(),
            json!(started.zip(stopped).map(|(a, b)| (b - a).num_seconds())),
        );
        e.metadata = m;
        Some(project.event(e, branch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project::new("gh/acme/app", "https://circleci.com/api/v2")
    }

    #[test]
    fn a_pipeline_is_an_event_with_its_commit_branch_and_actor() {
        let p: Pipeline = item(&json!({
            "id": "p-1", "number": 7, "state": "created", "created_at": "2024-05-01T10:00:00Z",
            "trigger": {"type": "webhook", "actor": {"login": "ann"}},
            "vcs": {"branch": "main", "revision": "abc", "commit": {"subject": "Fix it", "body": "Long"}}
        }));
        let e = p.event(&project()).unwrap();
        assert_eq!(
            (e.id.as_str(), e.kind.as_str()),
            ("pipeline:p-1", "pipeline_created")
        );
        assert_eq!(e.title, "pipeline #7: Fix it");
        assert_eq!(e.actor.as_deref(), Some("ann"));
        assert_eq!(
            e.url.as_deref(),
            Some("https://app.circleci.com/pipelines/github/acme/app/7")
        );
        assert_eq!(e.context["branch"], "main");
        assert_eq!(e.metadata["trigger"], "webhook");
        let odd: Pipeline = item(&json!({"id": 3, "number": "x"}));
        assert!(odd.event(&project()).is_none() && odd.key().is_none());
    }

    #[test]
    fn a_finished_workflow_summarises_its_jobs_and_a_running_one_is_no_event() {
        let jobs: Vec<Job> = [
            json!({"id": "j1", "name": "build", "status": "success"}),
            json!({"id": "j2", "name": "test", "status": "failed", "job_number": 12,
                   "started_at": "2024-05-01T10:01:00Z", "stopped_at": "2024-05-01T10:03:30Z"}),
            json!({"id": "j3", "name": "deploy", "status": "blocked"}),
        ]
        .iter()
        .map(item)
        .collect();
        let mut w: Workflow = item(&json!({
            "id": "w-1", "name": "ci", "status": "failed", "pipeline_number": 7,
            "created_at": "2024-05-01T10:00:00Z", "stopped_at": "2024-05-01T10:04:00Z"
        }));
        let e = w.event(&project(), 7, Some("main"), &jobs).unwrap();
        assert_eq!(e.outcome, Some(Outcome::Failure));
        assert_eq!(e.metadata["duration_secs"], 240);
        assert_eq!(e.metadata["jobs"]["by_status"]["failed"], 1);
        assert_eq!(e.metadata["jobs"]["failed"], json!(["test"]));
        assert_eq!(e.body, "failed: test");
        let j = jobs[1].event(&project(), 7, Some("main"), "w-1").unwrap();
        assert_eq!(
            (j.id.as_str(), j.metadata["duration_secs"].as_i64()),
            ("job:j2", Some(150))
        );
        assert!(j.url.unwrap().ends_with("/7/workflows/w-1/jobs/12"));
        assert!(jobs[0].event(&project(), 7, None, "w-1").is_none());
        for (status, outcome) in [("success", Some(Outcome::Success)), ("canceled", None)] {
            w.status = Lax(Some(status.into()));
            assert_eq!(w.event(&project(), 7, None, &[]).unwrap().outcome, outcome);
        }
        for status in ["running", "on_hold", "failing", "not_run"] {
            w.status = Lax(Some(status.into()));
            assert!(!w.finished() && w.event(&project(), 7, None, &[]).is_none());
        }
    }

    #[test]
    fn app_links_only_for_circleci_com_and_by_vcs() {
        let bb = Project::new("bb/acme/app", "https://circleci.com/api/v2");
        assert_eq!(
            bb.app_url.as_deref(),
            Some("https://app.circleci.com/pipelines/bitbucket/acme/app")
        );
        let standalone = Project::new("circleci/o-1/p-2", "https://circleci.com/api/v2");
        assert!(standalone
            .app_url
            .unwrap()
            .ends_with("/pipelines/circleci/o-1/p-2"));
        assert_eq!(
            Project::new("gh/a/b", "https://ci.example.com/api/v2").app_url,
            None
        );
    }
}
