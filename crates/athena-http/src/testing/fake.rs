//! [`FakeApi`]: an API's routes and data behind a lock, with the faults and the delay every
//! fake injects, served by a [`TestServer`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::server::{TestRequest, TestResponse, TestServer};

/// What a fake of one API is: its data and how it answers.
pub trait Routes: Send + 'static {
    /// The answer to a request refused before anything else, faults included (a missing or
    /// wrong token), or `None` to let it through.
    fn refuse(&self, _request: &TestRequest) -> Option<TestResponse> {
        None
    }

    /// Answers a request that was let through and matched no fault.
    fn answer(&mut self, request: &TestRequest) -> TestResponse;
}

/// An API's [`Routes`] shared between a test and the server answering for it: the test changes
/// the data between syncs, queues faults and sets a delay; [`start`](FakeApi::start) serves it.
/// Clones share everything.
pub struct FakeApi<R> {
    shared: Arc<Shared<R>>,
}

struct Shared<R> {
    routes: Mutex<R>,
    /// (key, response), in the order queued; see [`FakeApi::fault`].
    faults: Mutex<VecDeque<(String, TestResponse)>>,
    delay: Mutex<Duration>,
}

impl<R> Clone for FakeApi<R> {
    fn clone(&self) -> Self {
        FakeApi {
            shared: self.shared.clone(),
        }
    }
}

impl<R: Routes> FakeApi<R> {
    /// A fake answering with `routes`, no faults, no delay.
    pub fn new(routes: R) -> Self {
        FakeApi {
            shared: Arc::new(Shared {
                routes: Mutex::new(routes),
                faults: Mutex::new(VecDeque::new()),
                delay: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// Runs `f` on the routes and their data (to change what the API holds).
    pub fn with<T>(&self, f: impl FnOnce(&mut R) -> T) -> T {
        f(&mut lock(&self.shared.routes))
    }

    /// The next request matching `key` gets `response` instead of its answer; queued faults
    /// are used once each, the first matching one first. A key holding a `?` matches anywhere
    /// in the path and query (`page=3`: one page of a list); any other key, the path's end
    /// (`/pulls`, or a method name such as Slack's `users.info`).
    pub fn fault(&self, key: &str, response: TestResponse) {
        lock(&self.shared.faults).push_back((key.to_string(), response));
    }

    /// Forgets the faults not used yet.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Waits this long before each answer (so a test can kill a sync half-way).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    /// Serves the fake on a free local port until the server is dropped.
    pub fn start(&self) -> TestServer {
        let fake = self.clone();
        TestServer::start(move |r| fake.respond(r))
    }

    fn respond(&self, request: &TestRequest) -> TestResponse {
        // Slept without a lock held, so concurrent requests each wait once, not in turn.
        let delay = *lock(&self.shared.delay);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut routes = lock(&self.shared.routes);
        if let Some(refusal) = routes.refuse(request) {
            return refusal;
        }
        if let Some(fault) = self.take_fault(request) {
            return fault;
        }
        routes.answer(request)
    }

    fn take_fault(&self, request: &TestRequest) -> Option<TestResponse> {
        let matches = |key: &str| {
            if key.contains('?') {
                request.target.contains(key)
            } else {
                request.path().ends_with(key)
            }
        };
        let mut faults = lock(&self.shared.faults);
        let i = faults.iter().position(|(key, _)| matches(key))?;
        faults.remove(i).map(|(_, response)| response)
    }
}

/// A test that panicked while holding a lock left plain data behind; keep serving it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl Routes for Echo {
        fn refuse(&self, request: &TestRequest) -> Option<TestResponse> {
            (!request.has_bearer("t")).then(|| TestResponse::status(401))
        }
        fn answer(&mut self, request: &TestRequest) -> TestResponse {
            TestResponse::text(200, request.path())
        }
    }

    fn request(target: &str, token: &str) -> TestRequest {
        TestRequest {
            method: "GET".into(),
            target: target.into(),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            server: "http://127.0.0.1:1".into(),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_fault_answers_the_first_matching_request_once_and_a_refusal_keeps_it_queued() {
        let fake = FakeApi::new(Echo);
        fake.fault("/b", TestResponse::status(502));
        fake.fault("page=2", TestResponse::status(503));
        fake.fault("x?page=2", TestResponse::status(429));
        let status = |target: &str, token: &str| fake.respond(&request(target, token)).status;
        assert_eq!(status("/a/b", "wrong"), 401, "refused before faults");
        assert_eq!(
            status("/a/b/c", "t"),
            200,
            "a key without `?` matches the path's end"
        );
        assert_eq!(status("/a/b", "t"), 502);
        assert_eq!(status("/a/b", "t"), 200, "used once");
        assert_eq!(
            status("/x?page=2", "t"),
            429,
            "a key with `?` matches the target"
        );
        assert_eq!(
            status("/y?page=2", "t"),
            200,
            "`page=2` has no `?`: the path's end"
        );
        fake.clear_faults();
        assert_eq!(status("/page=2", "t"), 200);
    }
}
