//! `FakeGitHub` (feature `testing`): athena-sources' fake of GitHub's REST API on a local
//! port — `Link` paging, ETags and 304s, rate-limit headers, 401 for a wrong token — so the
//! package's tests read a GitHub source without the internet.

use athena_http::testing::TestServer;
use athena_sources::github::fake::{self, FakeGitHub as Fake, TOKEN};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The fake, serving until dropped: repository `o/r`, token `token`.
#[pyclass(module = "athena_ingest._native")]
struct FakeGitHub {
    fake: Fake,
    server: TestServer,
}

#[pymethods]
impl FakeGitHub {
    #[new]
    fn new() -> Self {
        let fake = Fake::new();
        let server = fake.start();
        FakeGitHub { fake, server }
    }

    /// `http://127.0.0.1:PORT`: the source's `api_url`.
    #[getter]
    fn url(&self) -> String {
        self.server.url()
    }

    /// The token the fake accepts.
    #[getter]
    fn token(&self) -> &'static str {
        TOKEN
    }

    /// Adds items numbered `first..=last` to a list: `issues` (issue n updated at time n),
    /// `pulls`, `commits`, `releases`.
    fn add(&self, list: &str, first: u64, last: u64) -> PyResult<()> {
        let (name, items): (&'static str, Vec<_>) = match list {
            "issues" => (
                "issues",
                (first..=last).map(|n| fake::issue(n, n)).collect(),
            ),
            "pulls" => ("pulls", (first..=last).map(|n| fake::pull(n, n)).collect()),
            "commits" => ("commits", (first..=last).map(fake::commit).collect()),
            "releases" => ("releases", (first..=last).map(fake::release).collect()),
            other => {
                return Err(PyValueError::new_err(format!(
                    "no list {other:?} (issues, pulls, commits, releases)"
                )))
            }
        };
        self.fake.add(name, items);
        Ok(())
    }

    /// Requests received so far.
    fn requests(&self) -> usize {
        self.server.requests().len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FakeGitHub>()
}
