//! The recall API under `serve`: filters, paging with a cursor while events arrive, one
//! event by id, every 400, the token, CORS, Athena's shape (API and `events --format
//! athena`), serving a store without sources, and schemathesis against `/openapi.json`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::serve_support::*;
use crate::support::*;

/// A raw answer: status, head (for headers) and body.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn request(port: u16, method: &str, path: &str, headers: &str) -> Raw {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    Raw {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(server: &Server, path: &str) -> Raw {
    request(server.port, "GET", path, "")
}

/// `GET path`, which must answer 200 with JSON.
fn ok(server: &Server, path: &str) -> Value {
    let r = get(server, path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    r.json()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Two api_log sources (`web`: lines 0..30, `api`: lines 100..105) and a files source
/// (`tree`: ids with `/` and `:`), synced once; the config also has `extra`.
fn synced_env(extra: &str) -> TestEnv {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("logs")).unwrap();
    std::fs::create_dir_all(env.path("tree/a")).unwrap();
    std::fs::write(env.path("tree/a/b.txt"), "hello").unwrap();
    append(&env.path("logs/web.log"), 0..30);
    append(&env.path("logs/api.log"), 100..105);
    env.write_config(&format!(
        "{extra}\n[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/web.log\"]\n\n\
         [[sources]]\nid = \"api\"\ntype = \"api_log\"\npaths = [\"logs/api.log\"]\n\n\
         [[sources]]\nid = \"tree\"\ntype = \"files\"\npath = \"tree\"\n"
    ));
    let (run, _) = env.sync_json();
    assert_eq!(run.code(), 0, "{}", run.describe());
    env
}

#[test]
fn recall_filters_by_source_kind_actor_text_and_time_and_counts_a_timeline() {
    let env = synced_env("");
    let server = Server::start_following(&env);

    let all = ok(&server, "/v1/events?limit=1000");
    assert_eq!(all["events"].as_array().unwrap().len(), 36);
    assert_eq!(all["next_cursor"], Value::Null);

    let two = ok(&server, "/v1/events?source=api&source=tree&limit=1000");
    let sources: std::collections::BTreeSet<&str> = (two["events"].as_array().unwrap().iter())
        .map(|e| e["source_id"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["api", "tree"].into());
    assert_eq!(two["events"].as_array().unwrap().len(), 6);

    let files = ok(&server, "/v1/events?kind=file_modified");
    assert_eq!(ids(&files).len(), 1, "{files}");
    // `line(n)` is from 10.0.0.{n % 250}: 10.0.0.10x are api's lines 100..105.
    let actor = ok(&server, "/v1/events?actor=10.0.0.10&limit=1000");
    assert_eq!(
        ids(&actor).len(),
        6,
        "10.0.0.10 and 10.0.0.100..104: {actor}"
    );
    let text = ok(&server, "/v1/events?q=serve+AND+7&source=web");
    assert_eq!(ids(&text).len(), 1, "{text}");
    assert!(text["events"][0]["title"]
        .as_str()
        .unwrap()
        .contains("/serve/7 "));
    // line(n) happened at 10:00:n (n < 60): [10:00:10, 10:00:20) holds ten of web's.
    let window = ok(
        &server,
        "/v1/events?source=web&since=2015-05-17T10:00:10Z&until=2015-05-17T10:00:20%2B00:00",
    );
    assert_eq!(ids(&window).len(), 10, "{window}");

    let timeline = ok(&server, "/v1/timeline?bucket=hour&source=web&source=api");
    assert_eq!(timeline["bucket"], "hour");
    let counts = timeline["counts"].as_array().unwrap();
    let rows: Vec<(String, String, u64)> = counts
        .iter()
        .map(|c| {
            (
                c["start"].as_str().unwrap().to_string(),
                c["source"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    // line(100..105) fall at 10:01:40..10:01:44, the same hour as web's.
    assert!(
        rows.contains(&("2015-05-17T10:00:00Z".into(), "web".into(), 30)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("2015-05-17T10:00:00Z".into(), "api".into(), 5)),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 2);
    let day = ok(
        &server,
        "/v1/timeline?since=2015-05-17&until=2015-05-18&kind=http_request",
    );
    assert_eq!(day["bucket"], "day");
    assert_eq!(day["counts"].as_array().unwrap().len(), 2, "{day}");

    // /v1/sources is what `status --format json` prints, to the byte.
    let status = env.run(&["status", "--format", "json"]).ok();
    let sources = get(&server, "/v1/sources");
    assert_eq!(sources.status, 200);
    assert_eq!(sources.body.trim(), status.stdout().trim());
}

#[test]
fn recall_pages_through_a_cursor_while_events_arrive_in_both_orders() {
    let env = synced_env("");
    // Polling: the new lines are stored whether or not the watch is up yet.
    let server = Server::start(&env);
    let mut seen: Vec<String> = Vec::new();
    let mut times: Vec<String> = Vec::new();
    let mut path = "/v1/events?source=web&limit=7".to_string();
    let mut pages = 0;
    loop {
        let page = ok(&server, &path);
        pages += 1;
        for e in page["events"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_string());
            times.push(e["occurred_at"].as_str().unwrap().to_string());
        }
        if pages == 1 {
            // Newer than every page handed out: none of them may shift or repeat.
            append(&env.path("logs/web.log"), 30..40);
            wait_for("10 new lines stored", || stored_count(&env, "web") == 40);
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/events?source=web&limit=7&cursor={}", encode(c)),
            None => break,
        }
    }
    assert_eq!(pages, 5, "30 events, 7 a page");
    assert_eq!(seen.len(), 30);
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 30, "no event twice");
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    // Oldest first sees all 40, in order, through its own cursors.
    let mut asc: Vec<String> = Vec::new();
    let mut path = "/v1/events?source=web&order=asc&limit=15".to_string();
    let mut desc_cursor = None;
    loop {
        let page = ok(&server, &path);
        for e in page["events"].as_array().unwrap() {
            asc.push(e["occurred_at"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/v1/events?source=web&order=asc&limit=15&cursor={}",
                    encode(c)
                );
                desc_cursor.get_or_insert_with(|| c.to_string());
            }
            None => break,
        }
    }
    assert_eq!(asc.len(), 40);
    let mut sorted = asc.clone();
    sorted.sort();
    assert_eq!(asc, sorted, "oldest first");

    // An ascending cursor with the default (descending) order is refused, naming `cursor`.
    let c = desc_cursor.unwrap();
    let r = get(&server, &format!("/v1/events?cursor={}", encode(&c)));
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("cursor"),
        "{}",
        r.body
    );
}

#[test]
fn recall_returns_one_event_by_its_percent_encoded_id_and_404_otherwise() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    let tree = ok(&server, "/v1/events?source=tree");
    let event = &tree["events"][0];
    let id = event["id"].as_str().unwrap();
    assert!(id.contains('/') && id.contains(':'), "{id}");
    let one = ok(&server, &format!("/v1/events/tree/{}", encode(id)));
    assert_eq!(&one, event);
    let athena = ok(
        &server,
        &format!("/v1/events/tree/{}?format=athena", encode(id)),
    );
    assert_eq!(athena["context"]["id"], id);
    assert_eq!(athena["event_type"], "file_modified");
    // The id's `/` unencoded reaches the same event.
    let raw = id.replace(':', "%3A");
    assert_eq!(ok(&server, &format!("/v1/events/tree/{raw}")), *event);

    for path in [
        "/v1/events/tree/nope",
        &format!("/v1/events/web/{}", encode(id)),
        "/v1/events/nosuch/x%2Fy",
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(
            r.json()["error"].as_str().unwrap().contains("no event"),
            "{}",
            r.body
        );
    }
    let bad = get(&server, "/v1/events/tree/%FF%FE");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.json()["error"].as_str().unwrap().contains("id"));
}

#[test]
fn recall_refuses_each_bad_parameter_with_a_400_naming_it() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    for (path, param) in [
        ("/v1/events?limit=0", "limit"),
        ("/v1/events?limit=1001", "limit"),
        ("/v1/events?limit=ten", "limit"),
        ("/v1/events?limit=5&limit=6", "limit"),
        ("/v1/events?order=newest", "order"),
        ("/v1/events?since=yesterday", "since"),
        ("/v1/events?until=2024-02-30", "until"),
        ("/v1/events?cursor=not-a-cursor", "cursor"),
        ("/v1/events?order=asc&cursor=d1.2", "cursor"),
        ("/v1/events?format=xml", "format"),
        ("/v1/events?sources=web", "sources"),
        ("/v1/events?q=%22unterminated", "q"),
        ("/v1/events?q=AND", "q"),
        ("/v1/timeline?bucket=year", "bucket"),
        ("/v1/timeline?since=soon", "since"),
        ("/v1/timeline?limit=3", "limit"),
        ("/v1/sources?x=1", "x"),
        ("/v1/events/web/x?limit=1", "limit"),
        ("/v1/events/web/x?format=csv", "format"),
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            error.starts_with(&format!("parameter {param}:")),
            "{path}: {error}"
        );
    }
}

#[test]
fn recall_needs_the_token_and_answers_cors_only_for_the_listed_origins() {
    let env = synced_env(
        "[serve]\napi_token = \"t0ken-recall\"\ncors_origins = [\"https://app.example\"]\n",
    );
    let server = Server::start_following(&env);
    let auth = "Authorization: Bearer t0ken-recall\r\n";
    for path in [
        "/v1/events",
        "/v1/events/web/x",
        "/v1/sources",
        "/v1/timeline",
        "/openapi.json",
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.json()["error"].is_string());
        let wrong = request(
            server.port,
            "GET",
            path,
            "Authorization: Bearer t0ken-recalL\r\n",
        );
        assert_eq!(wrong.status, 401, "{path}");
        let with = request(server.port, "GET", path, auth);
        assert!(matches!(with.status, 200 | 404), "{path}: {}", with.status);
    }
    let doc = request(server.port, "GET", "/openapi.json", auth).json();
    assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));

    // A preflight from a listed origin is answered without the token; others get no grant.
    let preflight = |origin: &str| {
        request(
            server.port,
            "OPTIONS",
            "/v1/events",
            &format!(
                "Origin: {origin}\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\n"
            ),
        )
    };
    let allowed = preflight("https://app.example");
    assert_eq!(allowed.status, 200, "{}", allowed.head);
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    assert!(allowed
        .header("access-control-allow-headers")
        .is_some_and(|h| h.to_ascii_lowercase().contains("authorization")));
    let denied = preflight("https://evil.example");
    assert_eq!(denied.header("access-control-allow-origin"), None);
    let get_allowed = request(
        server.port,
        "GET",
        "/v1/sources",
        &format!("{auth}Origin: https://app.example\r\n"),
    );
    assert_eq!(get_allowed.status, 200);
    assert_eq!(
        get_allowed.header("access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let get_denied = request(
        server.port,
        "GET",
        "/v1/sources",
        &format!("{auth}Origin: https://evil.example\r\n"),
    );
    assert_eq!(get_denied.header("access-control-allow-origin"), None);
}

#[test]
fn recall_has_no_cors_unless_origins_are_listed() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    let r = request(
        server.port,
        "GET",
        "/v1/sources",
        "Origin: https://app.example\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn recall_and_the_events_command_give_athenas_episodic_event_shape() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    let page = ok(&server, "/v1/events?format=athena&source=web&limit=3");
    let plain = ok(&server, "/v1/events?source=web&limit=3");
    for (a, e) in page["events"]
        .as_array()
        .unwrap()
        .iter()
        .zip(plain["events"].as_array().unwrap())
    {
        assert_eq!(a["timestamp"], e["occurred_at"]);
        assert_eq!(a["event_type"], "http_request");
        assert_eq!(a["description"], e["title"], "no body: the title alone");
        assert_eq!(a["outcome"], e["outcome"]);
        assert_eq!(a["context"]["id"], e["id"]);
        assert_eq!(a["context"]["source_id"], "web");
        assert_eq!(a["context"]["actor"], e["actor"]);
        assert_eq!(a["context"]["line"], e["context"]["line"]);
        let file = e["context"]["file"].as_str().unwrap();
        assert_eq!(a["session_id"], format!("web/{file}"));
    }
    assert_eq!(page["next_cursor"], plain["next_cursor"]);

    let cli = env
        .run(&[
            "events", "--source", "web", "--limit", "3", "--format", "athena",
        ])
        .ok();
    let lines: Vec<Value> = cli
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.as_slice(),
        page["events"].as_array().unwrap().as_slice()
    );
}

#[test]
fn serve_without_sources_is_a_read_only_api_over_the_store() {
    let env = synced_env("");
    // The same store, served by a config with no sources: no write lock is taken, so a sync
    // runs beside it.
    std::fs::write(env.path("serve.toml"), "[serve]\n").unwrap();
    let server = Server::start_with(&env, &["--config", "serve.toml"]);
    let ready = get(&server, "/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(
        ids(&ok(&server, "/v1/events?source=web&limit=100")).len(),
        30
    );
    append(&env.path("logs/web.log"), 30..32);
    let (run, _) = env.sync_json();
    assert_eq!(
        run.code(),
        0,
        "a sync beside the server: {}",
        run.describe()
    );
    assert_eq!(
        ids(&ok(&server, "/v1/events?source=web&limit=100")).len(),
        32
    );
    let mut server = server;
    let (code, stderr, _) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");

    // `--db` without a config file.
    let server = Server::start_with(&env, &["--config", "missing.toml", "--db", "athena.db"]);
    assert_eq!(get(&server, "/readyz").status, 200);
    assert_eq!(
        ok(&server, "/v1/sources")["sources"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A store that does not exist is an error, not an empty server.
    let run = env.run(&["serve", "--config", "serve.toml", "--db", "nothing.db"]);
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("nothing.db"), "{}", run.describe());
    assert!(!env.path("nothing.db").exists());
}

/// schemathesis (PyPI; `scripts/test-setup.sh` installs it) against `/openapi.json`: every
/// check, every operation, behind a token (so `ignored_auth` runs too). Missing schemathesis
/// fails the test.
#[test]
fn schemathesis_finds_nothing_wrong_with_the_recall_api() {
    let env = synced_env("[serve]\napi_token = \"schema-t0ken\"\n");
    let server = Server::start_following(&env);
    let auth = "Authorization: Bearer schema-t0ken";
    let page = request(
        server.port,
        "GET",
        "/v1/events?source=tree",
        &format!("{auth}\r\n"),
    );
    let id = page.json()["events"][0]["id"].clone();
    // What OpenAPI cannot say: a full-text query (`q`) may not parse, a cursor belongs to
    // one query, `since` may not be after `until`, and no text may hold a NUL. Each is a 400
    // naming the parameter, so for `/v1/events` and `/v1/timeline` a 400 is an acceptable
    // answer to data the schema allows. One event is named, so that fetching it by id
    // answers 200s (with an id drawn at random, only 404s).
    std::fs::write(
        env.path("schemathesis.toml"),
        format!(
            "[[operations]]\ninclude-path = \"/v1/events\"\n\
             checks.positive_data_acceptance.expected-statuses = [\"2xx\", \"400\"]\n\n\
             [[operations]]\ninclude-path = \"/v1/timeline\"\n\
             checks.positive_data_acceptance.expected-statuses = [\"2xx\", \"400\"]\n\n\
             [[operations]]\ninclude-path = \"/v1/events/{{source}}/{{id}}\"\n\
             parameters = {{ \"path.source\" = \"tree\", \"path.id\" = {id} }}\n\n\
             [[operations]]\ninclude-path = \"/v1/events/{{source}}/{{id}}/related\"\n\
             parameters = {{ \"path.source\" = \"tree\", \"path.id\" = {id} }}\n"
        ),
    )
    .unwrap();
    // The document needs the token too: schemathesis sends `--header` when loading it.
    let url = format!("http://127.0.0.1:{}/openapi.json", server.port);
    let out = std::process::Command::new(test_tool("schemathesis"))
        .current_dir(env.dir.path())
        .args([
            "--config-file",
            "schemathesis.toml",
            "--no-color",
            "run",
            &url,
        ])
        .args(["--checks", "all", "--max-examples", "40", "--seed", "7"])
        .args(["--header", auth])
        .args(["--generation-database", "none", "--report-dir", "reports"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap_or_else(|e| {
            panic!("running schemathesis (scripts/test-setup.sh installs it): {e}")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis failed:\n{said}");
    // Every operation was tested, under the configuration above.
    assert!(said.contains("Tested: 7"), "{said}");
    assert!(said.contains("No issues found"), "{said}");
}

/// Opening the recall connections checked the file through a plain `open` and `close`,
/// which dropped every POSIX lock `serve` held on it: the next process to close its connection
/// (this test's polling) took itself for the last one and deleted the WAL the writer was using,
/// and no later commit was seen outside `serve`.
#[test]
fn regression_recall_connections_keep_the_writers_wal_while_other_processes_poll_the_store() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("logs")).unwrap();
    append(&env.path("logs/web.log"), 0..20_000);
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"logs/web.log\"]\n");
    let server = Server::start(&env);
    // `stored_count` opens and closes a connection every 50 ms, as another process would.
    wait_for("every line seen outside serve", || {
        stored_count(&env, "web") == 20_000
    });
    append(&env.path("logs/web.log"), 20_000..20_010);
    wait_for("the new lines seen outside serve", || {
        stored_count(&env, "web") == 20_010
    });
    assert_eq!(ok(&server, "/v1/timeline")["counts"][0]["count"], 20_010);
}

/// `actor=%00` answered every event (SQLite's `LIKE` read the pattern up to the NUL, leaving
/// `%%`), and `q=%ff%fe` was decoded as two replacement characters and answered 200 empty,
/// where the event route refuses a path segment that is not UTF-8.
#[test]
fn regression_a_nul_or_bytes_that_are_not_utf8_in_a_parameter_are_a_400_naming_it() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    for (path, param) in [
        ("/v1/events?actor=%00", "actor"),
        ("/v1/events?q=%ff%fe", "q"),
        ("/v1/events?q=get%00", "q"),
        ("/v1/events?source=web%00", "source"),
        ("/v1/events?kind=%c3", "kind"),
        ("/v1/events?since=%ff", "since"),
        ("/v1/timeline?source=%ff", "source"),
        ("/v1/events/web/x?format=%00", "format"),
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            error.starts_with(&format!("parameter {param}:")),
            "{path}: {error}"
        );
    }
}

/// A cursor from one query was taken for another: the next page of `source=web` was read
/// with `source=api`, silently skipping or repeating events.
#[test]
fn regression_a_cursor_is_refused_for_a_different_query() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    let base = "source=web&kind=http_request&actor=10.0.0&q=serve&since=2000-01-01&until=3000-01-01&limit=5";
    let first = ok(&server, &format!("/v1/events?{base}"));
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    // Stable: the same query hands out the same cursor, and takes it back.
    let again = ok(&server, &format!("/v1/events?{base}"));
    assert_eq!(again["next_cursor"].as_str(), Some(cursor.as_str()));
    let next = ok(&server, &format!("/v1/events?{base}&cursor={cursor}"));
    assert_eq!(ids(&next).len(), 5);
    assert!(ids(&next).iter().all(|id| !ids(&first).contains(id)));
    // The same filters written in another order are the same query.
    let reordered = "limit=5&until=3000-01-01&since=2000-01-01&q=serve&actor=10.0.0&kind=http_request&source=web";
    ok(&server, &format!("/v1/events?{reordered}&cursor={cursor}"));
    for other in [
        base.replace("source=web", "source=api"),
        base.replace("source=web", "source=web&source=api"),
        base.replace("q=serve", "q=GET"),
        base.replace("&q=serve", ""),
        base.replace("kind=http_request", "kind=commit"),
        base.replace("actor=10.0.0", "actor=10.0.1"),
        base.replace("since=2000-01-01", "since=2001-01-01"),
        base.replace("until=3000-01-01", "until=2999-01-01"),
        base.replace("limit=5", "limit=5&order=asc"),
    ] {
        let path = format!("/v1/events?{other}&cursor={cursor}");
        let r = get(&server, &path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(error.starts_with("parameter cursor:"), "{path}: {error}");
    }
    let path = format!(
        "/v1/events?{}&cursor={cursor}",
        base.replace("q=serve", "q=GET")
    );
    let error = get(&server, &path).json()["error"].to_string();
    assert!(error.contains("a different query"), "{error}");
    // A relative time is bound as written: `since=9999d` still means the same query a
    // moment later.
    let first = ok(&server, "/v1/events?since=9999d&limit=5");
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(20));
    ok(
        &server,
        &format!("/v1/events?since=9999d&limit=5&cursor={cursor}"),
    );
}

/// `since` after `until` answered 200 with nothing, as if no event had happened.
#[test]
fn regression_since_after_until_is_a_400_naming_both() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    for path in [
        "/v1/events?since=2015-05-18&until=2015-05-17",
        "/v1/timeline?since=2015-05-18&until=2015-05-17",
        "/v1/events?since=2015-05-17T10:00:01Z&until=2015-05-17T10:00:00Z",
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            error.starts_with("parameter since:") && error.contains("until"),
            "{path}: {error}"
        );
    }
    // Equal is an empty window (`until` is exclusive), not a mistake.
    let empty = ok(&server, "/v1/events?since=2015-05-17&until=2015-05-17");
    assert_eq!(ids(&empty).len(), 0);
    let run = env.run(&["events", "--since", "2015-05-18", "--until", "2015-05-17"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("--since") && run.stderr().contains("--until"),
        "{}",
        run.describe()
    );
}

/// 404 and 405 answered with an empty body, where every other refusal is `{"error": …}`.
#[test]
fn regression_unknown_routes_and_wrong_methods_answer_json_naming_them() {
    let env = synced_env("[serve]\napi_token = \"t0ken-routes\"\n");
    let server = Server::start_following(&env);
    let auth = "Authorization: Bearer t0ken-routes\r\n";
    for (method, path, status) in [
        ("GET", "/nope", 404),
        ("GET", "/v1/nope", 404),
        ("GET", "/v1/events/web", 404),
        ("POST", "/v1/events", 405),
        ("DELETE", "/v1/timeline", 405),
        ("PUT", "/healthz", 405),
        ("POST", "/", 405),
    ] {
        for headers in ["", auth] {
            let r = request(server.port, method, path, headers);
            assert_eq!(r.status, status, "{method} {path}: {}", r.body);
            assert_eq!(
                r.header("content-type").as_deref(),
                Some("application/json"),
                "{method} {path}"
            );
            let error = r.json()["error"].as_str().unwrap().to_string();
            assert!(
                error.contains(method) && error.contains(path),
                "{method} {path}: {error}"
            );
            if status == 405 {
                let allow = r.header("allow").unwrap_or_default();
                assert!(allow.contains("GET"), "{method} {path}: Allow {allow:?}");
            }
        }
    }
}

/// `/` answered without the token while the docs said every route but `/healthz` needs it:
/// the page is static (a browser cannot add a bearer header to a page load), so it stays
/// public, and carries no data; the data stays behind the token.
#[test]
fn the_web_page_is_public_and_carries_no_data_while_the_api_it_reads_needs_the_token() {
    let env = synced_env("[serve]\napi_token = \"t0ken-page\"\n");
    let server = Server::start_following(&env);
    let titles: Vec<String> = env
        .store()
        .prepare("SELECT title FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(titles.len(), 36);
    for path in ["/", "/assets/app.js", "/assets/app.css"] {
        let page = get(&server, path);
        assert_eq!(page.status, 200, "{path}");
        for title in &titles {
            assert!(!page.body.contains(title.as_str()), "{path} holds {title}");
        }
        assert!(!page.body.contains("t0ken-page"), "{path} holds the token");
        assert!(!page.body.contains("/serve/"), "{path} holds event data");
    }
    assert_eq!(get(&server, "/v1/events").status, 401);
    assert_eq!(get(&server, "/v1/timeline").status, 401);
}

#[test]
fn recall_counts_a_timeline_in_calendar_months() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    let months = ok(&server, "/v1/timeline?bucket=month&source=web&source=api");
    assert_eq!(months["bucket"], "month");
    let counts = months["counts"].as_array().unwrap();
    assert_eq!(counts.len(), 2, "{months}");
    for c in counts {
        assert_eq!(c["start"], "2015-05-01T00:00:00Z", "{months}");
    }
}

/// The page's chart showed every event of a day while its list showed the two a search
/// found: the timeline did not take `q`. It now counts the events `/v1/events` finds.
#[test]
fn regression_the_timeline_counts_only_the_events_q_matches() {
    let env = synced_env("");
    let server = Server::start_following(&env);
    let total = |t: &Value| -> u64 {
        (t["counts"].as_array().unwrap().iter())
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(total(&ok(&server, "/v1/timeline")), 36);
    let found = ok(&server, "/v1/events?q=serve+AND+7&limit=1000");
    let counted = ok(&server, "/v1/timeline?q=serve+AND+7");
    assert!(!ids(&found).is_empty(), "{found}");
    assert_eq!(total(&counted), ids(&found).len() as u64, "{counted}");
    assert_eq!(counted["match"], "all", "{counted}");
    // With the other filters of a page, too.
    let narrowed = ok(&server, "/v1/timeline?q=serve+AND+7&source=api");
    let found = ok(&server, "/v1/events?q=serve+AND+7&source=api&limit=1000");
    assert_eq!(total(&narrowed), ids(&found).len() as u64, "{narrowed}");
    // Search text that is not valid syntax is refused as on a page.
    let bad = get(&server, "/v1/timeline?q=lexer+AND");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("parameter q"), "{}", bad.body);
}
