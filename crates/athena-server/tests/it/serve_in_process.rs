//! A program that embeds the server: it starts it on its own runtime with its own registry and
//! stop token, reads recall over HTTP, gets errors back as values, and stops it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use athena_core::{Batch, CancelToken, Cursor, Event, Registry, SourceInfo, Store};
use athena_server::{HttpLimits, ServeError, ServeOptions, Server};
use athena_store::SqliteStore;
use chrono::{TimeZone, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A store of three events of source `notes`, in a temp dir.
fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("athena.db");
    let mut store = SqliteStore::open(&db).unwrap();
    let info = SourceInfo {
        id: "notes".into(),
        source_type: "test".into(),
        name: "test".into(),
    };
    let events = (1..=3)
        .map(|i| {
            let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, i, 0).unwrap();
            let mut e = Event::new(format!("n{i}"), "note", at, format!("note {i}"));
            info.stamp(&mut e);
            e
        })
        .collect();
    let cursor = Cursor::from_json(serde_json::json!({"version": 1}));
    store
        .commit_batch(&info, &Batch::new(events, cursor))
        .unwrap();
    (dir, db)
}

/// Serve `db` read-only on a port the system chooses, with `config` (a file that may not
/// exist).
fn options(config: &Path, db: &Path) -> ServeOptions {
    ServeOptions::new(config).db(db).listen("127.0.0.1:0")
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &str) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Waits for `server` to end after its stop, within a few seconds.
async fn stopped(server: Server) -> Result<(), ServeError> {
    tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("the server stops within 5 s of its token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_in_process_answers_recall_and_stops_with_its_token() {
    let (dir, db) = store();
    let stop = CancelToken::new();
    let options = options(&dir.path().join("none.toml"), &db);
    let server = Server::start(options, Arc::new(Registry::new()), stop.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let page = get(addr, "/v1/events?limit=2", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = page.json();
    let ids: Vec<&str> = (page["events"].as_array().unwrap().iter())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["n3", "n2"], "newest first, two of three");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = get(addr, &format!("/v1/events?limit=2&cursor={cursor}"), "").await;
    assert_eq!(rest.json()["events"][0]["id"], "n1");
    let timeline = get(addr, "/v1/timeline?bucket=day", "").await.json();
    assert_eq!(
        timeline["counts"],
        serde_json::json!([{"start": "2024-05-01T00:00:00Z", "source": "notes", "count": 3}])
    );
    let refused = get(addr, "/v1/events?limit=1001", "").await;
    assert_eq!(refused.status, 400);

    stop.cancel();
    stopped(server).await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after the stop"
    );
}

#[tokio::test]
async fn a_refusal_to_start_comes_back_as_an_error_to_the_caller() {
    let (dir, _db) = store();
    let registry = Arc::new(Registry::new());
    let missing = options(
        &dir.path().join("none.toml"),
        &dir.path().join("missing.db"),
    );
    let err = Server::start(missing, registry.clone(), CancelToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.db"), "{err}");

    let public = ServeOptions::new(dir.path().join("none.toml"))
        .db(dir.path().join("athena.db"))
        .listen("0.0.0.0:0");
    let err = Server::start(public, registry, CancelToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::Usage(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("listen address 0.0.0.0:0"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_guards_recall_mcp_and_metrics_and_the_page_and_healthz_stay_public() {
    let (dir, db) = store();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "[serve]\napi_token = \"in-process-t0ken\"\n").unwrap();
    let stop = CancelToken::new();
    let server = Server::start(
        options(&config, &db),
        Arc::new(Registry::new()),
        stop.clone(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let auth = "Authorization: Bearer in-process-t0ken\r\n";
    for path in ["/v1/events", "/openapi.json", "/mcp", "/metrics", "/readyz"] {
        let denied = get(addr, path, "").await;
        assert_eq!(denied.status, 401, "{path}: {}", denied.body);
        assert!(
            denied.head.contains("www-authenticate: Bearer"),
            "{path}: {}",
            denied.head
        );
        let wrong = get(addr, path, "Authorization: Bearer in-process-t0keN\r\n").await;
        assert_eq!(wrong.status, 401, "{path}");
    }
    for path in ["/v1/events", "/openapi.json", "/metrics", "/readyz"] {
        assert_eq!(get(addr, path, auth).await.status, 200, "{path}");
    }
    for path in ["/healthz", "/", "/assets/app.js"] {
        assert_eq!(get(addr, path, "").await.status, 200, "{path}");
    }
    stop.cancel();
    stopped(server).await.unwrap();
}

/// Past its bound on requests in flight, a request is answered 503 at once, not queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_on_requests_in_flight_a_request_is_answered_503_at_once() {
    let (dir, db) = store();
    let mut options = options(&dir.path().join("none.toml"), &db);
    options.http = HttpLimits {
        max_in_flight: 0,
        ..HttpLimits::default()
    };
    let stop = CancelToken::new();
    let server = Server::start(options, Arc::new(Registry::new()), stop.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    let shed = tokio::time::timeout(Duration::from_secs(2), get(addr, "/v1/sources", ""))
        .await
        .expect("answered at once");
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert!(shed.head.contains("retry-after: 1"), "{}", shed.head);
    assert!(shed.json()["error"].as_str().unwrap().contains("try again"));
    // The probe is not behind the bound.
    assert_eq!(get(addr, "/healthz", "").await.status, 200);
    stop.cancel();
    stopped(server).await.unwrap();
}
