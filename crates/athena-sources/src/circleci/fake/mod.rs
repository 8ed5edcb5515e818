//! A fake of CircleCI's API v2 for tests (feature `test-server`): one project's pipelines,
//! their workflows and jobs, which a test sets and changes between syncs, served in the
//! documented shapes: `{"items": […], "next_page_token": …}` lists paged by `page-token`
//! (pipelines newest first, 20 a page; workflows and jobs 2 a page so paging shows in small
//! tests), `?branch=` on pipelines, `GET /workflow/{id}`, `Circle-Token` checked (401
//! otherwise), 404 for what does not exist. Faults (429 with `Retry-After`, 5xx, a malformed
//! body) and delays come from the kit, [`athena_http::testing::FakeApi`]; `routes` has what
//! each path answers. [`FakeCircleci::generate`] adds thousands of pipelines made on the fly.

mod routes;

use std::collections::BTreeMap;
use std::ops::Deref;

use athena_http::testing::FakeApi;
use serde_json::{json, Value};

/// The token the fake accepts (`Circle-Token: …`).
pub const TOKEN: &str = "circle-test-token-0123456789-secret";

/// The fake's project.
pub const SLUG: &str = "gh/acme/app";

/// The fake's data.
pub struct Project {
    /// Pipelines, oldest first (numbered after the generated ones).
    pipelines: Vec<Value>,
    /// Pipeline id → its workflows, oldest first.
    workflows: BTreeMap<String, Vec<Value>>,
    /// Workflow id → its jobs.
    jobs: BTreeMap<String, Vec<Value>>,
    /// Pipelines `1..=generated`, made when asked for (see [`FakeCircleci::generate`]).
    generated: u64,
    /// For ids.
    counter: u64,
}

/// A fake CircleCI serving one [`Project`], [`SLUG`]; clones share it. The kit's controls
/// (`fault` by path end, `set_delay`, `start`, …) are reached through `Deref`.
#[derive(Clone)]
pub struct FakeCircleci {
    api: FakeApi<Project>,
}

impl Deref for FakeCircleci {
    type Target = FakeApi<Project>;

    fn deref(&self) -> &FakeApi<Project> {
        &self.api
    }
}

impl Default for FakeCircleci {
    fn default() -> Self {
        FakeCircleci::new()
    }
}

/// The time `minutes` after the hour two days ago, as CircleCI writes times.
pub fn at(minutes: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let base = now / 3600 * 3600 - 2 * 86_400;
    let t = chrono::DateTime::from_timestamp(base + minutes * 60, 0).unwrap_or_default();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Statuses after which a workflow does not change.
fn finished(status: &str) -> bool {
    ["success", "failed", "error", "canceled", "unauthorized"].contains(&status)
}

impl FakeCircleci {
    /// A project without pipelines.
    pub fn new() -> Self {
        FakeCircleci {
            api: FakeApi::new(Project {
                pipelines: Vec::new(),
                workflows: BTreeMap::new(),
                jobs: BTreeMap::new(),
                generated: 0,
                counter: 0,
            }),
        }
    }

    /// `n` pipelines older than any added, numbered from 1, each with one workflow of two
    /// jobs (every tenth workflow failed, with its `test` job), made as they are asked for.
    ///
    /// # Panics
    /// After a pipeline was added: their numbers follow the generated ones.
    pub fn generate(&self, n: u64) {
        self.with(|p| {
            assert!(p.pipelines.is_empty(), "generate before adding pipelines");
            p.generated = n;
        });
    }

    /// Adds a pipeline on `branch` created at [`at`]`(minutes)`, triggered by `actor`;
    /// returns its id.
    pub fn pipeline(&self, branch: &str, minutes: i64, actor: &str) -> String {
        self.with(|p| {
            let number = p.generated + p.pipelines.len() as u64 + 1;
            let id = format!("pipe-{number}");
            p.pipelines.push(json!({
                "id": id, "number": number, "project_slug": SLUG, "state": "created",
                "created_at": at(minutes), "updated_at": at(minutes),
                "errors": [],
                "trigger": {"type": "webhook", "received_at": at(minutes),
                            "actor": {"login": actor, "avatar_url": null}},
                "vcs": {"branch": branch, "revision": format!("{number:040x}"),
                        "provider_name": "GitHub",
                        "origin_repository_url": "https://github.com/acme/app",
                        "target_repository_url": "https://github.com/acme/app",
                        "commit": {"subject": format!("change {number}"), "body": ""}}
            }));
            id
        })
    }

    /// Adds a workflow named `name` to `pipeline` with `status`, created a minute after the
    /// pipeline, and its jobs as (name, status); returns its id.
    ///
    /// # Panics
    /// When there is no such pipeline: the test is wrong.
    pub fn workflow(
        &self,
        pipeline: &str,
        name: &str,
        status: &str,
        jobs: &[(&str, &str)],
    ) -> String {
        self.with(|p| {
            let pipe = p
                .pipelines
                .iter()
                .find(|x| x["id"] == pipeline)
                .expect("no such pipeline")
                .clone();
            p.counter += 1;
            let id = format!("wf-{}", p.counter);
            let created = pipe["created_at"].as_str().unwrap_or_default();
            let created = chrono::DateTime::parse_from_rfc3339(created).expect("a time");
            let created = created + chrono::Duration::minutes(p.counter as i64 % 50 + 1);
            let stamp = |t: chrono::DateTime<chrono::FixedOffset>| {
                t.to_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            };
            let stopped = finished(status).then(|| stamp(created + chrono::Duration::minutes(4)));
            p.workflows
                .entry(pipeline.to_string())
                .or_default()
                .push(json!({
                    "id": id, "name": name, "status": status, "pipeline_id": pipeline,
                    "pipeline_number": pipe["number"], "project_slug": SLUG,
                    "started_by": "user-uuid-1", "created_at": stamp(created),
                    "stopped_at": stopped, "tag": null
                }));
            p.set_jobs(&id, jobs, finished(status));
            id
        })
    }

    /// Changes a workflow's status and jobs (a running workflow finishing).
    ///
    /// # Panics
    /// When there is no such workflow: the test is wrong.
    pub fn finish(&self, workflow: &str, status: &str, jobs: &[(&str, &str)]) {
        self.with(|p| {
            let w = p
                .workflows
                .values_mut()
                .flatten()
                .find(|w| w["id"] == workflow)
                .expect("no such workflow");
            w["status"] = json!(status);
            if finished(status) {
                let created = w["created_at"].as_str().unwrap_or_default();
                let created = chrono::DateTime::parse_from_rfc3339(created).expect("a time");
                let stopped = created + chrono::Duration::minutes(9);
                w["stopped_at"] = json!(stopped
                    .to_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            }
            p.set_jobs(workflow, jobs, finished(status));
        });
    }
}

impl Project {
    fn set_jobs(&mut self, workflow: &str, jobs: &[(&str, &str)], stopped: bool) {
        let list = jobs
            .iter()
            .enumerate()
            .map(|(i, (name, status))| {
                json!({
                    "id": format!("{workflow}-job-{i}"), "name": name, "status": status,
                    "type": "build", "job_number": 1000 + i, "project_slug": SLUG,
                    "dependencies": [], "started_at": at(1),
                    "stopped_at": stopped.then(|| at(3))
                })
            })
            .collect();
        self.jobs.insert(workflow.to_string(), list);
    }
}
