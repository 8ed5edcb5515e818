//! Running `serve` in tests: the child process, plain HTTP GETs, waiting, and log lines.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A `serve` child, killed if the test ends without stopping it.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
}

impl Server {
    /// `serve` polling every 100 ms what it cannot watch.
    pub fn start(env: &TestEnv) -> Server {
        Server::start_polling_every(env, 100)
    }

    /// `serve` that never polls within a test's time: a live source runs at start, on a
    /// change its watch sees, and every 30 s to reconcile, so what a test sees within its
    /// 10 s waits was seen by the watch.
    pub fn start_following(env: &TestEnv) -> Server {
        Server::start_polling_every(env, 600_000)
    }

    pub fn start_polling_every(env: &TestEnv, poll_ms: u64) -> Server {
        Server::start_with(env, &["--poll-interval-ms", &poll_ms.to_string()])
    }

    /// `serve --listen <a free port> ARGS`, once it answers `/healthz`.
    pub fn start_with(env: &TestEnv, args: &[&str]) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["serve", "--listen", &listen];
        all.extend_from_slice(args);
        let child = env
            .cmd(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting serve");
        let mut server = Server {
            child: Some(child),
            port,
        };
        wait_for("serve to answer /healthz", || {
            server.get("/healthz").is_some_and(|r| r.status == 200)
        });
        if let Some(status) = server.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!("serve exited at start with {status}");
        }
        server
    }

    /// `GET path`, or `None` while nothing listens.
    pub fn get(&self, path: &str) -> Option<Response> {
        http_get(self.port, path)
    }

    pub fn must_get(&self, path: &str) -> Response {
        self.get(path)
            .unwrap_or_else(|| panic!("GET {path}: nothing listens on {}", self.port))
    }

    pub fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("server running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    }

    /// SIGKILL, and the exit reaped.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server running");
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn running(&mut self) -> bool {
        let child = self.child.as_mut().expect("server started");
        child.try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit: (exit code, stderr, time taken).
    pub fn terminate(&mut self) -> (Option<i32>, String, Duration) {
        self.terminate_with(&[libc::SIGTERM])
    }

    /// Sends `signals`, one after the other, and waits (at most 10 s) for the exit.
    pub fn terminate_with(&mut self, signals: &[libc::c_int]) -> (Option<i32>, String, Duration) {
        let started = Instant::now();
        for &signal in signals {
            self.signal(signal);
        }
        let mut child = self.child.take().expect("server running");
        let deadline = started + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        (status.code(), stderr, started.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// A plain HTTP/1.1 GET over a `TcpStream` (`Connection: close`, so the body runs to EOF).
pub fn http_get(port: u16, path: &str) -> Option<Response> {
    http_get_with(port, path, "")
}

/// [`http_get`] with extra header lines (each ending in `\r\n`).
pub fn http_get_with(port: u16, path: &str, headers: &str) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Some(Response {
        status,
        content_type,
        body: body.to_string(),
    })
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls `done` every 50 ms for at most 10 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn line(n: usize) -> String {
    format!(
        "10.0.0.{} - - [17/May/2015:10:{:02}:{:02} +0000] \"GET /serve/{n} HTTP/1.1\" 200 {n} \"-\" \"test-agent\"\n",
        n % 250,
        (n / 60) % 60,
        n % 60
    )
}

pub fn append(path: &Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let text: String = range.map(line).collect();
    f.write_all(text.as_bytes()).unwrap();
}

/// The value of the one sample of `metrics` whose name and labels are `series`.
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

/// `promtool check metrics`; missing promtool is a failure, as in athena-core's metrics tests.
pub fn promtool_check(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("running promtool (Debian package `prometheus`; scripts/test-setup.sh installs it as root): {e}")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

/// The `sources` `/readyz` lists.
pub fn server_ids(readyz: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(readyz).unwrap_or_default();
    v["sources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn stored_count(env: &TestEnv, source: &str) -> usize {
    let Ok(c) = rusqlite::Connection::open(env.db()) else {
        return 0;
    };
    c.query_row(
        "SELECT count(*) FROM events WHERE source_id = ?1",
        [source],
        |r| r.get::<_, i64>(0),
    )
    .map_or(0, |n| n as usize)
}
