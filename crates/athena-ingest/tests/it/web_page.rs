//! The web timeline in a real browser: headless Chromium (Debian `chromium`) loads `/` from a
//! `serve` over a test store, runs the page's script against the recall API, and the DOM it
//! leaves shows the events; a search in the URL (what the search box writes) narrows them. A
//! screenshot is kept in the test's target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::serve_support::*;
use crate::support::*;

/// The page's DOM after its script has run (Chromium's virtual time lets its requests finish).
fn rendered(url: &str, screenshot: Option<&Path>) -> String {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=10000",
        "--window-size=1280,900",
    ]);
    match screenshot {
        Some(path) => cmd.arg(format!("--screenshot={}", path.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().unwrap_or_else(|e| {
        panic!("running chromium (Debian package `chromium`; scripts/test-setup.sh installs it as root): {e}")
    });
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("chromium")
}

/// The titles of the events the page lists.
fn listed_titles(dom: &str) -> Vec<String> {
    dom.split("class=\"event-title\">")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or_default().to_string())
        .collect()
}

fn log_line(n: usize, path: &str) -> String {
    log_line_status(n, path, 200)
}

fn log_line_status(n: usize, path: &str, status: u16) -> String {
    format!(
        "10.0.0.1 - - [17/May/2015:10:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" {status} {n} \"-\" \"ua\"\n",
        n / 60,
        n % 60
    )
}

/// The value of the first `name="…"` attribute in the DOM.
fn attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let rest = dom.split(&format!(" {name}=\"")).nth(1)?;
    rest.split('"').next()
}

/// The `<li>` of the listed event whose title holds `title`.
fn row<'a>(dom: &'a str, title: &str) -> &'a str {
    (dom.split("<li ").skip(1))
        .map(|li| li.split("</li>").next().unwrap_or_default())
        .find(|li| li.contains(title))
        .unwrap_or_else(|| panic!("no row for {title}:\n{dom}"))
}

/// A served store of one api_log source `web` holding `log`.
fn serve_log(env: &TestEnv, log: &str, events: usize) -> Server {
    std::fs::write(env.path("access.log"), log).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n");
    let server = Server::start(env);
    wait_for("the log stored", || stored_count(env, "web") == events);
    server
}

#[test]
fn the_timeline_page_shows_the_events_and_a_search_narrows_them() {
    let env = TestEnv::new();
    let log: String = (0..6)
        .map(|n| {
            let path = if n % 2 == 0 { "/alpha" } else { "/beta" };
            log_line(n, &format!("{path}/{n}"))
        })
        .collect();
    std::fs::write(env.path("access.log"), log).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n");
    let server = Server::start(&env);
    wait_for("the log stored", || stored_count(&env, "web") == 6);
    let base = format!("http://127.0.0.1:{}/", server.port);

    let dom = rendered(&base, None);
    assert!(
        dom.contains("data-loaded=\"true\""),
        "the page did not finish loading:\n{dom}"
    );
    let titles = listed_titles(&dom);
    assert_eq!(titles.len(), 6, "{titles:?}");
    assert!(titles.iter().any(|t| t.contains("/alpha/0")), "{titles:?}");
    // Newest first.
    assert!(titles[0].contains("/beta/5"), "{titles:?}");
    // The chart has a bar for the day; everything fits one page, so there is no "More".
    assert!(dom.contains("<rect"), "no bars in the chart");
    // Six events in six seconds: hours, not one bar for the day.
    assert!(dom.contains("data-bucket=\"hour\""), "{dom}");
    assert!(
        dom.contains("id=\"more\" hidden"),
        "a More button with nothing more"
    );

    let dom = rendered(&format!("{base}?q=alpha"), None);
    let titles = listed_titles(&dom);
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles.iter().all(|t| t.contains("/alpha/")), "{titles:?}");

    let shot: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-timeline.png");
    let _ = std::fs::remove_file(&shot);
    rendered(&base, Some(&shot));
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 2_000,
        "not a screenshot"
    );
    eprintln!("screenshot: {}", shot.display());
}

/// Eleven years of history were drawn one bar a day: about 4,000 bars a pixel wide or less.
/// The chart now picks its bucket from the range it shows, here calendar months.
#[test]
fn regression_the_chart_of_years_of_history_is_drawn_in_months_not_days() {
    let env = TestEnv::new();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Two requests in every third month from January 2014 to October 2025.
    let log: String = (2014..=2025)
        .flat_map(|year| (0..12).step_by(3).map(move |m| (year, m)))
        .flat_map(|(year, m)| {
            (0..2).map(move |n| {
                format!(
                    "10.0.0.1 - - [{:02}/{}/{year}:10:00:00 +0000] \"GET /y{year}/m{m}/{n} HTTP/1.1\" 200 1 \"-\" \"ua\"\n",
                    3 + n * 20,
                    MONTHS[m]
                )
            })
        })
        .collect();
    std::fs::write(env.path("access.log"), log).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n");
    let server = Server::start(&env);
    wait_for("the log stored", || stored_count(&env, "web") == 96);
    let dom = rendered(&format!("http://127.0.0.1:{}/", server.port), None);
    assert!(dom.contains("data-loaded=\"true\""), "{dom}");
    assert!(dom.contains("data-bucket=\"month\""), "{dom}");
    // One bar for each of the 48 months that hold events.
    assert_eq!(dom.matches("<rect").count(), 48, "{dom}");
    // Narrowed to January 2020 by the URL, the same page counts days.
    let dom = rendered(
        &format!(
            "http://127.0.0.1:{}/?since=2020-01-01&until=2020-01-31",
            server.port
        ),
        None,
    );
    assert!(dom.contains("data-bucket=\"day\""), "{dom}");
    assert_eq!(dom.matches("<rect").count(), 2, "{dom}");
}

/// With `?q=lexer` the list showed 2 events and the chart 22: the chart did not take the
/// search. It now counts what the list shows, whatever the filters.
#[test]
fn the_chart_follows_the_search() {
    let env = TestEnv::new();
    let log: String = (0..6)
        .map(|n| log_line(n, &format!("/{}/{n}", if n < 2 { "alpha" } else { "beta" })))
        .collect();
    let server = serve_log(&env, &log, 6);
    let base = format!("http://127.0.0.1:{}/", server.port);

    let dom = rendered(&base, None);
    assert_eq!(attribute(&dom, "data-total"), Some("6"), "{dom}");
    let fill = attribute(&dom, "fill").map(str::to_string);
    assert!(fill.is_some(), "no bars: {dom}");

    let dom = rendered(&format!("{base}?q=alpha"), None);
    assert!(dom.contains("data-loaded=\"true\""), "{dom}");
    assert_eq!(listed_titles(&dom).len(), 2, "{dom}");
    assert_eq!(attribute(&dom, "data-total"), Some("2"), "{dom}");
    // The source keeps its colour when the search narrows what is shown.
    assert_eq!(attribute(&dom, "fill").map(str::to_string), fill);
    // The chart has axes: counts on y and times on x, as text.
    assert!(dom.contains("class=\"tick\""), "{dom}");
    // Hours: the axis ends where the newest bucket does, and counts up to the tallest bar.
    assert!(dom.contains(">05-17 11:00</text>"), "{dom}");
    assert!(dom.contains(">2</text>"), "{dom}");

    // Another filter (outcome) narrows the chart too: no event here failed.
    let dom = rendered(&format!("{base}?outcome=server_error"), None);
    assert_eq!(attribute(&dom, "data-total"), Some("0"), "{dom}");
}

/// A 500 row looked like a 200 row: each row now shows how its event ended.
#[test]
fn rows_show_their_outcome() {
    let env = TestEnv::new();
    let log = [(0, "/fine", 200), (1, "/missing", 404), (2, "/boom", 500)]
        .map(|(n, path, status)| log_line_status(n, path, status))
        .concat();
    let server = serve_log(&env, &log, 3);
    let dom = rendered(&format!("http://127.0.0.1:{}/", server.port), None);
    let boom = row(&dom, "/boom");
    assert!(boom.contains("data-outcome=\"server_error\""), "{boom}");
    assert!(boom.contains("class=\"outcome server_error\""), "{boom}");
    assert!(boom.contains(">500 server error<"), "{boom}");
    let missing = row(&dom, "/missing");
    assert!(missing.contains(">404 client error<"), "{missing}");
    let fine = row(&dom, "/fine");
    assert!(fine.contains("class=\"outcome success\""), "{fine}");
    assert!(!fine.contains("server_error"), "{fine}");
}

/// Nothing on the page said that a source had stopped syncing: a strip now shows each
/// source's last run, how it ended and its error.
#[test]
fn the_health_strip_shows_each_source() {
    let env = TestEnv::new();
    std::fs::write(env.path("access.log"), log_line(0, "/a")).unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n");
    env.run(&["sync"]).ok();
    // A source that failed on its last run, as a sync records it.
    let store = rusqlite::Connection::open(env.db()).unwrap();
    store
        .execute(
            "INSERT INTO source_runs (source_id, source_type, finished_at, status, error, error_kind) \
             VALUES ('gh', 'github', 1700000000000, 'failed', 'the token was rejected (HTTP 401)', 'unauthorized')",
            [],
        )
        .unwrap();
    drop(store);
    let server = Server::start_following(&env);
    let dom = rendered(&format!("http://127.0.0.1:{}/", server.port), None);
    let strip = dom
        .split("id=\"health\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_else(|| panic!("no health strip:\n{dom}"));
    assert!(
        strip.contains("data-source=\"web\" data-status=\"ok\""),
        "{strip}"
    );
    assert!(
        strip.contains("data-source=\"gh\" data-status=\"failed\""),
        "{strip}"
    );
    assert!(
        strip.contains("the token was rejected (HTTP 401)"),
        "{strip}"
    );
    assert!(strip.contains("unauthorized"), "{strip}");
    // When it last ran, in words.
    assert!(
        strip.contains(" ago<") || strip.contains(">just now<"),
        "{strip}"
    );
}

/// The page said "1 events".
#[test]
fn one_event_is_singular() {
    let env = TestEnv::new();
    let server = serve_log(&env, &log_line(0, "/only"), 1);
    let dom = rendered(&format!("http://127.0.0.1:{}/", server.port), None);
    assert!(dom.contains("data-loaded=\"true\""), "{dom}");
    assert!(dom.contains(">1 event, newest first<"), "{dom}");
    assert!(dom.contains("web (1 event)"), "{dom}");
    assert!(!dom.contains("1 events"), "{dom}");
}

/// A mistyped kind showed "No events match." and nothing else; the kinds were nowhere.
#[test]
fn an_unknown_kind_is_named_on_the_page_and_the_kinds_are_offered() {
    let env = TestEnv::new();
    let server = serve_log(&env, &log_line(0, "/only"), 1);
    let dom = rendered(
        &format!("http://127.0.0.1:{}/?kind=comit", server.port),
        None,
    );
    assert!(dom.contains("data-loaded=\"true\""), "{dom}");
    assert!(
        dom.contains(
            "No events match. No event of kind \"comit\" (the kinds stored: http_request)."
        ),
        "{dom}"
    );
    assert!(
        dom.contains("<option value=\"http_request\"></option>"),
        "{dom}"
    );
}

#[test]
fn the_page_filters_by_person_and_shows_an_events_related_ones() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let first = commit_files(&repo, "Start PROJ-7", &[("a", b"1\n")]);
    commit_files(&repo, "Finish PROJ-7", &[("a", b"2\n")]);
    commit_files(&repo, "Unrelated", &[("b", b"1\n")]);
    env.write_config(&git_config("repo", &repo, ""));
    let server = Server::start(&env);
    wait_for("the commits stored", || stored_count(&env, "repo") == 3);
    // By person: the author's three commits, and the people offered as the filter is typed.
    let dom = rendered(
        &format!("http://127.0.0.1:{}/?person=ada%40example.com", server.port),
        None,
    );
    assert!(dom.contains("data-loaded=\"true\""), "{dom}");
    assert_eq!(listed_titles(&dom).len(), 3, "{dom}");
    assert!(
        dom.contains("<option value=\"email:ada@example.com\">"),
        "{dom}"
    );
    let dom = rendered(
        &format!(
            "http://127.0.0.1:{}/?person=nobody%40example.com",
            server.port
        ),
        None,
    );
    assert!(dom.contains("No events match."), "{dom}");
    // Related: the other commit naming PROJ-7, with the thing they share.
    let dom = rendered(
        &format!("http://127.0.0.1:{}/?related=repo%2F{first}", server.port),
        None,
    );
    assert!(dom.contains("data-loaded=\"true\""), "{dom}");
    assert!(
        dom.contains("Related to <strong>Start PROJ-7</strong>"),
        "{dom}"
    );
    assert_eq!(listed_titles(&dom), ["Finish PROJ-7"], "{dom}");
    assert!(dom.contains("key:PROJ-7"), "{dom}");
    assert!(dom.contains("1 related event, newest first"), "{dom}");
}
