//! What the fake CircleCI answers, by path under `/api/v2`: `project/{slug}`,
//! `project/{slug}/pipeline`, `pipeline/{id}/workflow`, `workflow/{id}` and
//! `workflow/{id}/job`.

use athena_http::testing::{paging, Routes, TestRequest, TestResponse};
use serde_json::{json, Value};

use super::{at, Project, SLUG, TOKEN};

/// CircleCI's pipelines a page.
const PIPELINE_PAGE: usize = 20;

/// Workflows and jobs a page: small, so paging shows in small tests.
const SMALL_PAGE: usize = 2;

impl Routes for Project {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        (r.header("circle-token") != Some(TOKEN))
            .then(|| TestResponse::json(401, &json!({"message": "You must log in first."})))
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        let path = r.path().trim_start_matches("/api/v2/");
        let project = format!("project/{SLUG}");
        if path == project {
            return TestResponse::json(
                200,
                &json!({"slug": SLUG, "name": "app", "organization_name": "acme"}),
            );
        }
        if path == format!("{project}/pipeline") {
            return self.pipelines(r);
        }
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["pipeline", id, "workflow"] => match self.workflows.get(*id) {
                Some(list) => page(list, r),
                None => match self.generated_workflow(id) {
                    Some(w) => page(&[w], r),
                    None => not_found("Pipeline"),
                },
            },
            ["workflow", id] => self
                .find_workflow(id)
                .map_or_else(|| not_found("Workflow"), |w| TestResponse::json(200, &w)),
            ["workflow", id, "job"] => match self.jobs.get(*id) {
                Some(list) => page(list, r),
                None => match self.generated_jobs(id) {
                    Some(jobs) => page(&jobs, r),
                    None => not_found("Workflow"),
                },
            },
            _ => not_found("Project"),
        }
    }
}

impl Project {
    /// Newest first: the added pipelines, then the generated ones, each page made as asked.
    fn pipelines(&self, r: &TestRequest) -> TestResponse {
        let branch = r.query("branch");
        let on = |p: &&Value| branch.as_deref().is_none_or(|b| p["vcs"]["branch"] == b);
        let added: Vec<&Value> = self.pipelines.iter().rev().filter(on).collect();
        let generated = if branch.as_deref().is_none_or(|b| b == "main") {
            self.generated as usize
        } else {
            0
        };
        let total = added.len() + generated;
        let from = match r.query("page-token") {
            None => 0,
            Some(t) => match t.strip_prefix("off:").map(str::parse::<usize>) {
                Some(Ok(n)) => n.min(total),
                _ => panic!("a page token the fake did not hand out: {t:?}"),
            },
        };
        let to = (from + PIPELINE_PAGE).min(total);
        let items: Vec<Value> = (from..to)
            .map(|i| match added.get(i) {
                Some(p) => (*p).clone(),
                None => generated_pipeline((generated - (i - added.len())) as u64),
            })
            .collect();
        let next = (to < total).then(|| format!("off:{to}"));
        TestResponse::json(200, &json!({"items": items, "next_page_token": next}))
    }

    fn find_workflow(&self, id: &str) -> Option<Value> {
        let added = self.workflows.values().flatten().find(|w| w["id"] == id);
        added.cloned().or_else(|| {
            let n: u64 = id.strip_prefix("gen-w-")?.parse().ok()?;
            (1..=self.generated)
                .contains(&n)
                .then(|| generated_workflow(n))
        })
    }

    fn generated_workflow(&self, pipeline: &str) -> Option<Value> {
        let n: u64 = pipeline.strip_prefix("gen-p-")?.parse().ok()?;
        (1..=self.generated)
            .contains(&n)
            .then(|| generated_workflow(n))
    }

    fn generated_jobs(&self, workflow: &str) -> Option<Vec<Value>> {
        let n: u64 = workflow.strip_prefix("gen-w-")?.parse().ok()?;
        (1..=self.generated).contains(&n).then(|| {
            let failed = n.is_multiple_of(10);
            vec![
                json!({"id": format!("gen-j-{n}-build"), "name": "build", "status": "success",
                       "job_number": n * 2, "started_at": at(-3000), "stopped_at": at(-2999)}),
                json!({"id": format!("gen-j-{n}-test"), "name": "test",
                       "status": if failed { "failed" } else { "success" },
                       "job_number": n * 2 + 1, "started_at": at(-2999), "stopped_at": at(-2998)}),
            ]
        })
    }
}

/// Generated pipeline `n`: on `main`, `n` seconds after a point well before [`at`]`(0)`.
fn generated_pipeline(n: u64) -> Value {
    let t = chrono::DateTime::parse_from_rfc3339(&at(-5000)).expect("a time")
        + chrono::Duration::seconds(n as i64);
    let t = t
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": format!("gen-p-{n}"), "number": n, "project_slug": SLUG, "state": "created",
        "created_at": t, "updated_at": t,
        "trigger": {"type": "webhook", "actor": {"login": "bot"}},
        "vcs": {"branch": "main", "revision": format!("{n:040x}"),
                "commit": {"subject": format!("generated change {n} with a subject long enough to weigh something"), "body": ""}}
    })
}

fn generated_workflow(n: u64) -> Value {
    let failed = n.is_multiple_of(10);
    json!({
        "id": format!("gen-w-{n}"), "name": "ci",
        "status": if failed { "failed" } else { "success" },
        "pipeline_id": format!("gen-p-{n}"), "pipeline_number": n, "project_slug": SLUG,
        "created_at": at(-3000), "stopped_at": at(-2998), "started_by": "u"
    })
}

/// The page of a short list the request's `page-token` starts.
fn page(items: &[Value], r: &TestRequest) -> TestResponse {
    let page = paging::by_token(items, r.query("page-token").as_deref(), SMALL_PAGE);
    TestResponse::json(
        200,
        &json!({"items": page.items, "next_page_token": page.next}),
    )
}

fn not_found(what: &str) -> TestResponse {
    TestResponse::json(404, &json!({"message": format!("{what} not found.")}))
}
