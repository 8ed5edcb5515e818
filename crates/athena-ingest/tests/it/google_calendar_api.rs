//! The google_calendar source through the CLI against athena-sources' fake of the Google
//! Calendar API v3 and its token endpoint: `events.list` paged by `pageToken`, the
//! `nextSyncToken` on the last page, `syncToken` listings of what changed, `410 Gone` for an
//! expired token, 401, 403 `rateLimitExceeded`, 429 and 5xx.

use std::time::Duration;

use athena_http::testing::{TestResponse, TestServer};
use athena_sources::google_calendar::fake::{
    google_error, minutes, rate_limit_exceeded, FakeCalendar, CLIENT_ID, CLIENT_SECRET,
    REFRESH_TOKEN,
};
use serde_json::Value;

use crate::support::*;

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "[[sources]]\nid = \"cal\"\ntype = \"google_calendar\"\napi_url = \"{url}\"\ntoken_uri = \"{url}/token\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"${{GCAL_TEST_SECRET}}\"\nrefresh_token = \"${{GCAL_TEST_REFRESH}}\"\nretry_delay_ms = 20\n{extra}\n",
        url = server.url()
    )
}

const VARS: &[(&str, &str)] = &[
    ("GCAL_TEST_SECRET", CLIENT_SECRET),
    ("GCAL_TEST_REFRESH", REFRESH_TOKEN),
];

fn sync(env: &TestEnv) -> (Run, Value) {
    env.sync_json_with(&[], VARS)
}

/// (kind, id) of stored events, in storage order.
fn stored(env: &TestEnv) -> Vec<(String, String)> {
    env.kinds_and_ids("cal")
}

/// `n` events, one an hour from two days ago; every third with attendees.
fn populate(fake: &FakeCalendar, n: i64) {
    for i in 0..n {
        let start = minutes(-48 * 60 + i * 60);
        let attendees: &[&str] = if i % 3 == 0 {
            &["bob@example.com", "cy@example.com"]
        } else {
            &[]
        };
        fake.event(
            "primary",
            &format!("ev{i:03}"),
            &format!("event {i}"),
            start,
            start + chrono::Duration::minutes(30),
            attendees,
        );
    }
}

#[test]
fn first_sync_then_changes_cancellations_and_meetings_held_by_sync_token() {
    let fake = FakeCalendar::new();
    populate(&fake, 10); // hours -48 … -39: all over; ev000, ev003, ev006, ev009 meetings
                         // A meeting that ends between two syncs is held by the later one: the source's own tests
                         // show it with an injected clock (google_calendar/tests.rs), so this test needs no sleep.
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));

    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let events = stored(&env);
    assert_eq!(count(&events, "calendar_event_scheduled"), 10, "{json}");
    assert_eq!(
        count(&events, "meeting_held"),
        4,
        "the meetings over: {json}"
    );
    let cursor = env.cursor("cal").unwrap();
    assert!(
        cursor["calendars"]["primary"]["sync_token"].is_string(),
        "{cursor}"
    );
    let text = env.store_text();
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "ya29.fake"] {
        assert!(!text.contains(secret), "{secret} reached the store");
        assert!(!run.stderr().contains(secret) && !run.stdout().contains(secret));
    }

    // Nothing changed.
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");

    // A move, a new attendee, a cancellation, a new event.
    fake.reschedule("ev001", minutes(-60), minutes(-30));
    fake.invite("ev002", "dee@example.com");
    fake.cancel("ev004");
    fake.event("primary", "new", "Demo", minutes(60), minutes(90), &[]);
    let n = stored(&env).len();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 5, "{json}");
    let mut new: Vec<(String, String)> = stored(&env)[n..]
        .iter()
        .map(|(k, id)| (k.clone(), id.split('@').next().unwrap().to_string()))
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            ("calendar_event_cancelled", "primary/ev004:cancelled"),
            ("calendar_event_changed", "primary/ev001:changed"),
            ("calendar_event_changed", "primary/ev002:changed"),
            ("calendar_event_scheduled", "primary/new:scheduled"),
            // Over already, and a meeting now that it has an attendee.
            ("meeting_held", "primary/ev002:held"),
        ]
        .map(|(k, i)| (k.to_string(), i.to_string()))
    );
    let id: String = env
        .store()
        .query_row(
            "SELECT id FROM events WHERE kind = 'calendar_event_changed' AND id LIKE 'primary/ev002%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let meta = env.metadata("cal", &id);
    assert_eq!(meta["changed"], serde_json::json!(["attendees"]), "{meta}");
    assert_eq!(
        meta["attendees"],
        serde_json::json!(["dee@example.com"]),
        "{meta}"
    );

    // Once only.
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
}

#[test]
fn an_expired_sync_token_lists_the_calendar_again_without_duplicates() {
    let fake = FakeCalendar::new();
    populate(&fake, 12);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, _) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let before = stored(&env);

    fake.rename("ev005", "renamed");
    fake.touch("ev006");
    fake.expire_sync_tokens();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(
        (s["events_written"].as_u64(), s["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{json}"
    );
    let after = stored(&env);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.last().unwrap().0, "calendar_event_changed");
    let token = env.cursor("cal").unwrap()["calendars"]["primary"]["sync_token"].clone();
    assert!(token.is_string(), "a new token from the full listing");

    // And half-way through a listing (the second page refused with 410).
    for i in [0, 1, 2, 3, 4, 7, 8] {
        fake.rename(&format!("ev{i:03}"), &format!("renamed {i}"));
    }
    fake.expire_mid_listing();
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(
        (s["events_written"].as_u64(), s["duplicates"].as_u64()),
        (Some(7), Some(0)),
        "{json}"
    );
}

#[test]
fn a_sync_killed_at_any_moment_stores_every_event_once() {
    let fake = FakeCalendar::new();
    populate(&fake, 60);
    fake.set_delay(Duration::from_millis(15));
    let server = fake.start();
    assert_kill_safe(
        &config(&server, "batch_size = 4"),
        "cal",
        VARS,
        |full, rng| full / 6 + rng.below(full * 2 / 3),
    );
}

#[test]
fn rate_limits_are_backed_off_and_a_refused_token_fails_the_source_without_leaking_it() {
    let fake = FakeCalendar::new();
    populate(&fake, 4);
    let server = fake.start();
    fake.fault("/events", rate_limit_exceeded());
    fake.fault(
        "/events",
        google_error(429, "rateLimitExceeded", "Too many requests"),
    );
    fake.fault("/events", TestResponse::status(502));
    fake.fault(
        "/events",
        google_error(401, "authError", "Invalid Credentials"),
    );
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 6, "{json}");
    assert_eq!(fake.token_requests(), 2, "refreshed once after the 401");

    fake.fault(
        "/events",
        google_error(401, "authError", "Invalid Credentials"),
    );
    fake.fault(
        "/events",
        google_error(401, "authError", "Invalid Credentials"),
    );
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let s = &json["sources"][0];
    assert_eq!(s["error_kind"], "unauthorized", "{json}");
    let all = format!("{}{}", run.stdout(), run.stderr());
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "ya29.fake"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }

    // A refresh token the endpoint refuses.
    let (run, json) = env.sync_json_with(
        &[],
        &[
            ("GCAL_TEST_SECRET", CLIENT_SECRET),
            ("GCAL_TEST_REFRESH", "1//revoked"),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        json["sources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("token"),
        "{json}"
    );
    assert!(!run.stderr().contains(CLIENT_SECRET));

    // A calendar that is not there: 404 names it.
    env.write_config(&config(&server, "calendars = [\"nobody@example.com\"]"));
    let (run, json) = sync(&env);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let error = json["sources"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("nobody%40example.com") || error.contains("calendars"),
        "{error}"
    );
}

#[test]
fn three_thousand_events_in_bounded_memory() {
    // A first sync of 30 events sets the baseline: the binary, the runtime, the store.
    let small = FakeCalendar::new();
    small.set_page_size(250);
    small.generate(30);
    let small_server = small.start();
    let env = TestEnv::new();
    env.write_config(&config(&small_server, ""));
    let (run, json, baseline_kib) = env.sync_json_rss_kib(VARS);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(json["sources"][0]["events_written"], 30 + 3, "{json}");
    let baseline_mib = baseline_kib / 1024;

    // Pages of 250, as the source asks: 12 listings.
    let fake = FakeCalendar::new();
    fake.set_page_size(250);
    fake.generate(3000);
    let server = fake.start();
    let env = TestEnv::new();
    env.write_config(&config(&server, ""));
    let (run, json, rss_kib) = env.sync_json_rss_kib(VARS);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let events = stored(&env);
    // Every tenth a meeting; the 288 of them over by now were held.
    assert_eq!(
        (
            count(&events, "calendar_event_scheduled"),
            count(&events, "meeting_held")
        ),
        (3000, 288),
        "{json}"
    );
    assert_eq!(json["sources"][0]["events_written"], 3000 + 288, "{json}");
    // Each child's own peak: other tests' children running alongside leave it be.
    // The source holds each event's state (to tell a change, a cancellation, a meeting held),
    // about 1.5 KiB an event: measured +6 MiB for 1,000 events, +10 for 3,000, +14 for 6,000.
    let rss_mib = rss_kib / 1024;
    eprintln!("peak RSS: {baseline_mib} MiB for 30 events, {rss_mib} MiB for 3,000");
    assert!(
        rss_mib < baseline_mib + 20,
        "3,000 events took {rss_mib} MiB, 30 took {baseline_mib} MiB"
    );
    let (_, json) = sync(&env);
    assert_eq!(json["sources"][0]["events_written"], 0, "{json}");
}
