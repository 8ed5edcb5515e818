//! The `google_calendar` source driven without the CLI: built from its config through the
//! registry, synced by the engine into a memory store, against the fake Calendar API.

use std::sync::{Arc, Mutex};

use athena_core::kit::Async;
use athena_core::memory::SharedMemoryStore;
use athena_core::{ErrorKind, EventSource, Registry, SourceStatusKind, SyncOptions};
use athena_http::testing::TestResponse;
use chrono::{DateTime, Utc};

use super::fake::{
    google_error, minutes, rate_limit_exceeded, FakeCalendar, CLIENT_ID, CLIENT_SECRET,
    REFRESH_TOKEN,
};
use crate::synced::{stored, sync, sync_in};

fn config(url: &str) -> toml::Table {
    let mut table = toml::Table::new();
    for (key, value) in [
        ("api_url", url.to_string()),
        ("token_uri", format!("{url}/token")),
        ("client_id", CLIENT_ID.into()),
        ("client_secret", CLIENT_SECRET.into()),
        ("refresh_token", REFRESH_TOKEN.into()),
    ] {
        table.insert(key.into(), value.into());
    }
    table.insert("retry_delay_ms".into(), 10.into());
    table
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(k, id)| (k.to_string(), format!("primary/{id}")))
        .collect();
    v.sort();
    v
}

/// Seven events in the window (three pages), one far outside it.
fn populate(fake: &FakeCalendar) {
    let team = ["bob@example.com", "cy@example.com"];
    fake.event(
        "primary",
        "past1",
        "Retro",
        minutes(-3000),
        minutes(-2970),
        &team,
    );
    fake.event(
        "primary",
        "past2",
        "Focus time",
        minutes(-2000),
        minutes(-1900),
        &[],
    );
    fake.event(
        "primary",
        "soon1",
        "Planning",
        minutes(60),
        minutes(120),
        &team,
    );
    fake.event(
        "primary",
        "soon2",
        "1:1",
        minutes(180),
        minutes(210),
        &["bob@example.com"],
    );
    fake.event("primary", "soon3", "Lunch", minutes(300), minutes(360), &[]);
    fake.weekly("primary", "standup", "Standup", minutes(1440), 2, &team);
    fake.event(
        "primary",
        "far",
        "Offsite",
        minutes(60 * 24 * 90),
        minutes(60 * 24 * 91),
        &team,
    );
}

#[tokio::test]
async fn a_first_sync_reads_the_window_then_changes_come_by_sync_token_and_say_what_changed() {
    let fake = FakeCalendar::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();

    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let mut want = vec![("meeting_held", "past1:held")];
    for id in ["past1", "past2", "soon1", "soon2", "soon3"] {
        want.push((
            "calendar_event_scheduled",
            Box::leak(format!("{id}:scheduled").into_boxed_str()),
        ));
    }
    let standups: Vec<String> = store.with(|s| {
        s.events
            .iter()
            .filter(|e| e.context.get("recurring_event_id").is_some())
            .map(|e| e.id.clone())
            .collect()
    });
    assert_eq!(
        standups.len(),
        2,
        "each occurrence of the series: {standups:?}"
    );
    let mut got = stored(&store, 0);
    got.retain(|(_, id)| !id.contains("standup"));
    assert_eq!(got, pairs(&want), "the far event is outside the lookahead");
    store.with(|s| {
        let e = s
            .events
            .iter()
            .find(|e| e.id == "primary/soon1:scheduled")
            .unwrap();
        assert_eq!(e.actor.as_deref(), Some("ann@example.com"));
        assert_eq!(e.context["calendar_id"], "primary");
        assert_eq!(e.context["event_id"], "soon1");
        assert_eq!(e.context["organizer"], "ann@example.com");
        assert!(e.url.as_deref().unwrap().contains("eid=soon1"));
        assert_eq!(
            e.metadata["attendees"],
            serde_json::json!(["bob@example.com", "cy@example.com"])
        );
    });
    let cursor = store.with(|s| s.cursors["cal"].as_json().clone());
    assert_eq!(cursor["version"], 1, "{cursor}");
    let token = cursor["calendars"]["primary"]["sync_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cursor["calendars"]["primary"].get("page_token").is_none(),
        "{cursor}"
    );
    let lists: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/events"))
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(lists.len(), 3, "three pages: {lists:?}");
    assert!(lists[0].contains("timeMin=") && lists[0].contains("singleEvents=true"));

    // Nothing changed: one request by sync token, nothing stored.
    server.clear_requests();
    let n = store.with(|s| s.events.len());
    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(
        (report.status, report.events_written),
        (SourceStatusKind::Ok, 0),
        "{:?}",
        report.error
    );
    let lists: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/events"))
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(
        lists[0].contains(&format!("syncToken={}", token.replace(':', "%3A")))
            && !lists[0].contains("timeMin"),
        "{lists:?}"
    );

    fake.reschedule("soon1", minutes(90), minutes(150));
    fake.rename("soon2", "1:1 with Bob");
    fake.invite("soon2", "dee@example.com");
    fake.relocate("soon3", "Cafe");
    fake.touch("past2");
    fake.cancel("past1");
    fake.event("primary", "new1", "Demo", minutes(400), minutes(430), &[]);
    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let got: Vec<(String, String)> = stored(&store, n)
        .into_iter()
        .map(|(k, id)| (k, id.split('@').next().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        pairs(&[
            ("calendar_event_cancelled", "past1:cancelled"),
            ("calendar_event_changed", "soon1:changed"),
            ("calendar_event_changed", "soon2:changed"),
            ("calendar_event_changed", "soon3:changed"),
            ("calendar_event_scheduled", "new1:scheduled"),
        ]),
        "the touched event tells nothing"
    );
    store.with(|s| {
        let changed = |id: &str| {
            s.events
                .iter()
                .find(|e| e.id.starts_with(&format!("primary/{id}:changed@")))
                .unwrap()
        };
        assert_eq!(
            changed("soon1").metadata["changed"],
            serde_json::json!(["time"])
        );
        let e = changed("soon2");
        assert_eq!(
            e.metadata["changed"],
            serde_json::json!(["title", "attendees"])
        );
        assert_eq!(e.title, "Changed (title, attendees): 1:1 with Bob");
        assert_eq!(e.metadata["previous"]["title"], "1:1");
        assert_eq!(changed("soon3").metadata["location"], "Cafe");
        let c = s
            .events
            .iter()
            .find(|e| e.kind == "calendar_event_cancelled")
            .unwrap();
        assert_eq!(c.title, "Cancelled: Retro", "named as it was known");
    });
}

#[tokio::test]
async fn an_event_cancelled_restored_and_cancelled_again_is_stored_each_time() {
    let fake = FakeCalendar::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);

    let mut told = Vec::new();
    for step in ["cancel", "restore", "cancel"] {
        let n = store.with(|s| s.events.len());
        if step == "cancel" {
            fake.cancel("soon1");
        } else {
            fake.restore("soon1");
            fake.rename("soon1", "Planning, again");
        }
        let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
        assert_eq!(
            (report.status, report.events_written, report.duplicates),
            (SourceStatusKind::Ok, 1, 0),
            "{step}: {:?}",
            report.error
        );
        told.extend(stored(&store, n));
    }
    let kinds: Vec<&str> = told.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "calendar_event_cancelled",
            "calendar_event_restored",
            "calendar_event_cancelled"
        ]
    );
    assert!(told[1].1.starts_with("primary/soon1:restored@"), "{told:?}");
    assert_ne!(told[0].1, told[2].1, "a new id for the second cancellation");
    store.with(|s| {
        let restored = s
            .events
            .iter()
            .find(|e| e.kind == "calendar_event_restored")
            .unwrap();
        assert_eq!(restored.title, "Restored: Planning, again");
        assert_eq!(restored.metadata["changed"], serde_json::json!(["title"]));
    });
}

#[tokio::test]
async fn an_expired_sync_token_mid_listing_lists_the_calendar_again_and_stores_no_duplicate() {
    let fake = FakeCalendar::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let n = store.with(|s| s.events.len());

    // Five changes: two pages by sync token, the second refused with 410.
    for id in ["soon1", "soon2", "soon3"] {
        fake.rename(id, &format!("{id} renamed"));
    }
    fake.touch("past2");
    fake.event("primary", "new1", "Demo", minutes(400), minutes(430), &[]);
    fake.expire_mid_listing();
    server.clear_requests();
    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        (report.events_written, report.duplicates),
        (4, 0),
        "three renames, one new"
    );
    let got = stored(&store, n);
    assert_eq!(got.len(), 4);
    let statuses: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/events"))
        .map(|r| if r.target.contains("syncToken") { 1 } else { 0 })
        .collect();
    assert_eq!(
        &statuses[..2],
        &[1, 1],
        "two pages by sync token, then the full listing: {statuses:?}"
    );
    assert!(statuses[2..].iter().all(|s| *s == 0), "{statuses:?}");

    // And the token of the full listing serves the next sync.
    fake.rename("soon1", "again");
    let report = sync(&store, "cal", "google_calendar", config(&server.url())).await;
    assert_eq!(
        (report.status, report.events_written),
        (SourceStatusKind::Ok, 1),
        "{:?}",
        report.error
    );
}

/// The registry with the google_calendar source's clock reading `now` (the test moves it).
fn clocked(now: &Arc<Mutex<DateTime<Utc>>>) -> Registry {
    let mut entry = super::source_type();
    let now = now.clone();
    entry.build = Arc::new(move |c| {
        let now = now.clone();
        let clock: super::source::Clock = Arc::new(move || *now.lock().unwrap());
        let source = super::GoogleCalendarSource::from_config(c)?.with_clock(clock);
        Ok(Box::new(Async::new(source)) as Box<dyn EventSource>)
    });
    let mut registry = crate::registry();
    registry.unregister("google_calendar");
    registry.register(entry).unwrap();
    registry
}

#[tokio::test]
async fn a_meeting_is_held_once_by_a_later_sync_after_it_ends() {
    let fake = FakeCalendar::new();
    let now = Arc::new(Mutex::new(Utc::now()));
    let end = *now.lock().unwrap() + chrono::Duration::minutes(15);
    fake.event(
        "primary",
        "m1",
        "Sync-up",
        minutes(-30),
        end,
        &["bob@example.com"],
    );
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let sync = || {
        let table = config(&server.url());
        sync_in(
            clocked(&now),
            &store,
            "cal",
            "google_calendar",
            table,
            SyncOptions::default(),
        )
    };
    let report = sync().await;
    assert_eq!(
        (report.status, report.events_written),
        (SourceStatusKind::Ok, 1),
        "{:?}",
        report.error
    );
    // A minute before the end: not held yet.
    *now.lock().unwrap() = end - chrono::Duration::minutes(1);
    assert_eq!(sync().await.events_written, 0, "not over yet");
    *now.lock().unwrap() = end + chrono::Duration::seconds(1);
    let report = sync().await;
    assert_eq!(report.events_written, 1);
    assert_eq!(stored(&store, 1), pairs(&[("meeting_held", "m1:held")]));
    let report = sync().await;
    assert_eq!(report.events_written, 0, "once");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_and_a_refused_token_is_refreshed_once() {
    let fake = FakeCalendar::new();
    populate(&fake);
    fake.calendar("team@group.calendar.google.com");
    fake.event(
        "team@group.calendar.google.com",
        "t1",
        "All hands",
        minutes(10),
        minutes(40),
        &[],
    );
    let server = fake.start();
    fake.fault("/events", rate_limit_exceeded());
    fake.fault(
        "/events",
        google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded"),
    );
    fake.fault(
        "/events",
        google_error(429, "rateLimitExceeded", "Too many requests"),
    );
    fake.fault("/events", TestResponse::status(503));
    let store = SharedMemoryStore::new();
    let mut table = config(&server.url());
    table.insert(
        "calendars".into(),
        toml::Value::Array(vec![
            "primary".into(),
            "team@group.calendar.google.com".into(),
        ]),
    );
    let report = sync(&store, "cal", "google_calendar", table.clone()).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.stats.retries, 4);
    assert!(store.with(|s| s
        .events
        .iter()
        .any(|e| e.id == "team@group.calendar.google.com/t1:scheduled")));
    assert_eq!(fake.token_requests(), 1, "the access token is cached");
    let cursor = store.with(|s| s.cursors["cal"].as_json().clone());
    assert!(
        cursor["calendars"]["team@group.calendar.google.com"]["sync_token"].is_string(),
        "{cursor}"
    );

    // The access token is refused once: refreshed, and the sync goes on.
    fake.fault(
        "/events",
        google_error(401, "authError", "Invalid Credentials"),
    );
    fake.rename("soon1", "renamed");
    let report = sync(&store, "cal", "google_calendar", table.clone()).await;
    assert_eq!(
        (report.status, report.events_written),
        (SourceStatusKind::Ok, 1),
        "{:?}",
        report.error
    );
    assert_eq!(fake.token_requests(), 3, "one per sync, one after the 401");

    // Refused again after the refresh: unauthorized, the cursor kept.
    fake.fault(
        "/events",
        google_error(401, "authError", "Invalid Credentials"),
    );
    fake.fault(
        "/events",
        google_error(401, "authError", "Invalid Credentials"),
    );
    let report = sync(&store, "cal", "google_calendar", table.clone()).await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::Unauthorized),
        "{:?}",
        report.error
    );
    let error = report.error.unwrap();
    assert!(error.contains("Google refused the access token"), "{error}");
    assert!(
        error.contains("check client_id, client_secret and refresh_token"),
        "{error}"
    );
    assert!(
        !error.contains(REFRESH_TOKEN)
            && !error.contains(CLIENT_SECRET)
            && !error.contains("ya29."),
        "{error}"
    );

    // A rate limit that does not end: rate_limited, after the retries.
    fake.clear_faults();
    for _ in 0..10 {
        fake.fault("/events", rate_limit_exceeded());
    }
    table.insert("max_retries".into(), 2.into());
    let report = sync(&store, "cal", "google_calendar", table).await;
    assert_eq!(
        report.error_kind,
        Some(ErrorKind::RateLimited),
        "{:?}",
        report.error
    );
}

#[tokio::test]
async fn a_refused_service_account_is_told_to_check_its_key_not_a_refresh_token() {
    let auth = athena_http::testing::FakeGoogleAuth::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sa.json");
    std::fs::write(&file, auth.service_account_key()).unwrap();
    // The fake Calendar refuses every token it did not issue: the key's tokens get 401s.
    let fake = FakeCalendar::new();
    let server = fake.start();
    for subject in [None, Some("ada@example.com")] {
        let mut table = config(&server.url());
        for key in ["client_id", "client_secret", "refresh_token"] {
            table.remove(key);
        }
        table.insert("token_uri".into(), auth.token_uri().into());
        table.insert("credentials_file".into(), file.display().to_string().into());
        if let Some(s) = subject {
            table.insert("subject".into(), s.into());
        }
        let store = SharedMemoryStore::new();
        let report = sync(&store, "cal", "google_calendar", table).await;
        assert_eq!(
            report.error_kind,
            Some(ErrorKind::Unauthorized),
            "{:?}",
            report.error
        );
        let error = report.error.unwrap();
        assert!(error.contains("check credentials_file"), "{error}");
        assert_eq!(error.contains("subject"), subject.is_some(), "{error}");
        assert!(
            !error.contains("client_secret") && !error.contains("refresh_token"),
            "{error}"
        );
    }
}

#[test]
fn bad_keys_are_config_errors_naming_the_key() {
    let err = |key: &str, value: toml::Value| {
        let mut table = config("http://127.0.0.1:1");
        table.insert(key.into(), value);
        let c = athena_core::SourceConfig::new("cal", "google_calendar", table);
        super::GoogleCalendarSource::from_config(&c)
            .err()
            .map(|e| e.to_string())
    };
    assert!(err("lookback", "soon".into()).unwrap().contains("lookback"));
    assert!(err("calendars", toml::Value::Array(vec![]))
        .unwrap()
        .contains("calendars"));
    let mut table = config("http://127.0.0.1:1");
    table.remove("refresh_token");
    let c = athena_core::SourceConfig::new("cal", "google_calendar", table);
    let e = super::GoogleCalendarSource::from_config(&c)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("refresh_token"), "{e}");
}
