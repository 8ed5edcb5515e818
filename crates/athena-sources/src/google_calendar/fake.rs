//! A fake of the Google Calendar API v3 for tests (feature `test-server`), with its own OAuth
//! token endpoint (`POST /token`, the refresh-token grant). It serves Google's documented
//! shapes: `GET /calendars/{calendarId}/events` paged by `pageToken` (small pages), the
//! `nextSyncToken` on the last page only, `syncToken` giving what changed since (cancelled
//! items as `{"id","status":"cancelled"}`), `timeMin`/`timeMax` refused beside a `syncToken`,
//! `410 Gone` (`fullSyncRequired`) for an expired token, 401 for an access token it did not
//! issue or revoked, 404 for an unknown calendar. Faults (403 `rateLimitExceeded`, 429, 5xx)
//! and delays come from the kit, [`athena_http::testing::FakeApi`].

use std::ops::Deref;

use athena_http::testing::{FakeApi, Routes, TestRequest, TestResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The OAuth client id the fake's token endpoint accepts.
pub const CLIENT_ID: &str = "fake-client.apps.googleusercontent.com";
/// The OAuth client secret it accepts.
pub const CLIENT_SECRET: &str = "GOCSPX-fake-client-secret-0123";
/// The refresh token it accepts.
pub const REFRESH_TOKEN: &str = "1//0fake-refresh-token-0123456789";

/// An event of the fake calendar (one occurrence, for a recurring event).
#[derive(Clone, Debug)]
pub struct FakeEvent {
    calendar: String,
    id: String,
    summary: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    location: Option<String>,
    attendees: Vec<String>,
    organizer: String,
    recurring: Option<String>,
    cancelled: bool,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    /// The change counter when it last changed.
    seq: u64,
}

/// The fake's calendars, tokens and counters.
pub struct Calendars {
    calendars: Vec<String>,
    events: Vec<FakeEvent>,
    /// Counts every change; a sync token is the count its listing began at.
    seq: u64,
    /// Sync tokens below this are expired (410).
    expired_below: u64,
    /// The next incremental request with a page token expires every token issued so far.
    expire_mid_listing: bool,
    page_size: usize,
    last_updated: DateTime<Utc>,
    /// Access tokens issued (`ya29.fake-N`).
    issued: u64,
    token_requests: usize,
}

/// A fake Calendar API serving [`Calendars`]; clones share it. The kit's controls (`fault` by
/// path end, `set_delay`, `start`, …) are reached through `Deref`.
#[derive(Clone)]
pub struct FakeCalendar {
    api: FakeApi<Calendars>,
}

impl Deref for FakeCalendar {
    type Target = FakeApi<Calendars>;

    fn deref(&self) -> &FakeApi<Calendars> {
        &self.api
    }
}

impl Default for FakeCalendar {
    fn default() -> Self {
        FakeCalendar::new()
    }
}

/// `minutes` from now (negative: ago), to the second.
pub fn minutes(minutes: i64) -> DateTime<Utc> {
    let now = Utc::now();
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    now + chrono::Duration::minutes(minutes)
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Google's error body, `{"error":{"errors":[{"reason":…}],"code":…,"message":…}}`.
pub fn google_error(status: u16, reason: &str, message: &str) -> TestResponse {
    TestResponse::json(
        status,
        &json!({"error": {"errors": [{"domain": "global", "reason": reason, "message": message}],
            "code": status, "message": message}}),
    )
}

/// Google's 403 for a spent rate limit.
pub fn rate_limit_exceeded() -> TestResponse {
    google_error(403, "rateLimitExceeded", "Rate Limit Exceeded")
}

impl FakeCalendar {
    /// An account with calendar `primary` and no events; pages of three items.
    pub fn new() -> Self {
        FakeCalendar {
            api: FakeApi::new(Calendars {
                calendars: vec!["primary".into()],
                events: Vec::new(),
                seq: 1,
                expired_below: 0,
                expire_mid_listing: false,
                page_size: 3,
                last_updated: Utc::now() - chrono::Duration::days(1),
                issued: 0,
                token_requests: 0,
            }),
        }
    }

    /// Adds a calendar.
    pub fn calendar(&self, id: &str) {
        self.with(|c| c.calendars.push(id.to_string()));
    }

    /// Items per page, at most.
    pub fn set_page_size(&self, n: usize) {
        self.with(|c| c.page_size = n.max(1));
    }

    /// Adds event `id` to `calendar`, from `start` to `end`, organized by ann@example.com.
    pub fn event(
        &self,
        calendar: &str,
        id: &str,
        summary: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        attendees: &[&str],
    ) {
        self.with(|c| {
            let (seq, updated) = c.tick();
            c.events.push(FakeEvent {
                calendar: calendar.to_string(),
                id: id.to_string(),
                summary: summary.to_string(),
                start,
                end,
                location: None,
                attendees: attendees.iter().map(|a| a.to_string()).collect(),
                organizer: "ann@example.com".into(),
                recurring: None,
                cancelled: false,
                created: updated,
                updated,
                seq,
            })
        });
    }

    /// Adds `count` occurrences of a weekly series `id` (instances `id_YYYYMMDDTHHMMSSZ`).
    pub fn weekly(
        &self,
        calendar: &str,
        id: &str,
        summary: &str,
        first: DateTime<Utc>,
        count: usize,
        attendees: &[&str],
    ) {
        for i in 0..count {
            let start = first + chrono::Duration::weeks(i as i64);
            let instance = format!("{id}_{}", start.format("%Y%m%dT%H%M%SZ"));
            self.event(
                calendar,
                &instance,
                summary,
                start,
                start + chrono::Duration::minutes(30),
                attendees,
            );
            self.with(|c| c.find(&instance).recurring = Some(id.to_string()));
        }
    }

    /// A large calendar, cheaply: `n` events `gen00000`… in `primary`, half an hour each, one
    /// every 10 minutes from 20 days ago on (3,000 reach a day ahead); every tenth a meeting
    /// with two attendees.
    pub fn generate(&self, n: usize) {
        let first = minutes(-20 * 24 * 60);
        self.with(|c| {
            for i in 0..n {
                let (seq, updated) = c.tick();
                let start = first + chrono::Duration::minutes(10 * i as i64);
                let attendees = if i % 10 == 0 {
                    vec!["bob@example.com".into(), "cy@example.com".into()]
                } else {
                    Vec::new()
                };
                c.events.push(FakeEvent {
                    calendar: "primary".into(),
                    id: format!("gen{i:05}"),
                    summary: format!("event {i}: the weekly planning of team {}", i % 7),
                    start,
                    end: start + chrono::Duration::minutes(30),
                    location: (i % 3 == 0).then(|| format!("Room {}", i % 12)),
                    attendees,
                    organizer: "ann@example.com".into(),
                    recurring: None,
                    cancelled: false,
                    created: updated,
                    updated,
                    seq,
                });
            }
        });
    }

    fn change(&self, id: &str, f: impl FnOnce(&mut FakeEvent)) {
        self.with(|c| {
            let (seq, updated) = c.tick();
            let e = c.find(id);
            f(e);
            e.seq = seq;
            e.updated = updated;
        });
    }

    /// Moves event `id`.
    pub fn reschedule(&self, id: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
        self.change(id, |e| (e.start, e.end) = (start, end));
    }

    /// Renames event `id`.
    pub fn rename(&self, id: &str, summary: &str) {
        self.change(id, |e| e.summary = summary.to_string());
    }

    /// Sets event `id`'s location.
    pub fn relocate(&self, id: &str, location: &str) {
        self.change(id, |e| e.location = Some(location.to_string()));
    }

    /// Invites `email` to event `id`.
    pub fn invite(&self, id: &str, email: &str) {
        self.change(id, |e| e.attendees.push(email.to_string()));
    }

    /// An edit that changes none of the fields the source compares (the description).
    pub fn touch(&self, id: &str) {
        self.change(id, |_| {});
    }

    /// Cancels (deletes) event `id`.
    pub fn cancel(&self, id: &str) {
        self.change(id, |e| e.cancelled = true);
    }

    /// Restores cancelled event `id` (Google's "undo" of a deletion).
    pub fn restore(&self, id: &str) {
        self.change(id, |e| e.cancelled = false);
    }

    /// Every sync token issued so far expires (the next incremental listing gets 410).
    pub fn expire_sync_tokens(&self) {
        self.with(|c| c.expired_below = c.seq + 1);
    }

    /// The next incremental listing's second page gets 410: its tokens expire mid-way.
    pub fn expire_mid_listing(&self) {
        self.with(|c| c.expire_mid_listing = true);
    }

    /// How many times the token endpoint was asked.
    pub fn token_requests(&self) -> usize {
        self.with(|c| c.token_requests)
    }
}

impl Calendars {
    /// The next change's counter and `updated` time (strictly increasing).
    fn tick(&mut self) -> (u64, DateTime<Utc>) {
        self.seq += 1;
        let now = Utc::now();
        self.last_updated = if now > self.last_updated {
            now
        } else {
            self.last_updated + chrono::Duration::milliseconds(1)
        };
        (self.seq, self.last_updated)
    }

    /// # Panics
    /// When there is no such event: the test is wrong.
    fn find(&mut self, id: &str) -> &mut FakeEvent {
        self.events
            .iter_mut()
            .find(|e| e.id == id)
            .expect("no such event")
    }

    fn token(&mut self, r: &TestRequest) -> TestResponse {
        self.token_requests += 1;
        let form: Vec<(String, String)> =
            athena_http::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(&r.body)))
                .map(|u| {
                    u.query_pairs()
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("grant_type") != Some("refresh_token")
            || get("client_id") != Some(CLIENT_ID)
            || get("client_secret") != Some(CLIENT_SECRET)
            || get("refresh_token") != Some(REFRESH_TOKEN)
        {
            return TestResponse::json(
                400,
                &json!({"error": "invalid_grant", "error_description": "Bad Request"}),
            );
        }
        self.issued += 1;
        TestResponse::json(
            200,
            &json!({"access_token": format!("ya29.fake-{}", self.issued), "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/calendar.readonly", "token_type": "Bearer"}),
        )
    }

    fn list(&mut self, calendar: &str, r: &TestRequest) -> TestResponse {
        let sync = r.query("syncToken");
        let page_token = r.query("pageToken");
        if sync.is_some()
            && ["timeMin", "timeMax", "orderBy", "q", "updatedMin"]
                .iter()
                .any(|k| r.query(k).is_some())
        {
            return google_error(
                400,
                "invalid",
                "Invalid parameters: syncToken with timeMin, timeMax, orderBy, q or updatedMin",
            );
        }
        let since = match sync
            .as_deref()
            .map(|s| s.strip_prefix("sync:").and_then(|n| n.parse::<u64>().ok()))
        {
            None => None,
            Some(None) => return google_error(400, "invalid", "Invalid sync token value."),
            Some(Some(n)) => Some(n),
        };
        if since.is_some() && page_token.is_some() && self.expire_mid_listing {
            self.expire_mid_listing = false;
            self.expired_below = self.seq + 1;
        }
        if since.is_some_and(|n| n < self.expired_below) {
            return google_error(
                410,
                "fullSyncRequired",
                "Sync token is no longer valid, a full sync is required.",
            );
        }
        // A page token: the change count the listing began at and the offset.
        let (snapshot, offset) = match page_token.as_deref() {
            Some(p) => match p
                .split_once(':')
                .and_then(|(s, o)| Some((s.parse().ok()?, o.parse().ok()?)))
            {
                Some(pair) => pair,
                None => return google_error(400, "invalid", "Invalid page token value."),
            },
            None => (self.seq, 0usize),
        };
        let time = |k: &str| {
            r.query(k)
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let (min, max) = (time("timeMin"), time("timeMax"));
        let show_deleted = r.query("showDeleted").as_deref() == Some("true");
        let mut matching: Vec<&FakeEvent> = self
            .events
            .iter()
            .filter(|e| e.calendar == calendar)
            .filter(|e| match since {
                Some(n) => e.seq > n,
                None => {
                    (show_deleted || !e.cancelled)
                        && min.is_none_or(|m| e.end > m)
                        && max.is_none_or(|m| e.start < m)
                }
            })
            .collect();
        matching.sort_by(|a, b| a.id.cmp(&b.id));
        let size = r
            .query("maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(250usize)
            .min(self.page_size);
        let to = (offset + size).min(matching.len());
        let items: Vec<Value> = matching[offset.min(to)..to]
            .iter()
            .map(|e| e.json())
            .collect();
        let mut body = json!({"kind": "calendar#events", "summary": calendar, "timeZone": "UTC",
            "accessRole": "owner", "updated": at(self.last_updated), "items": items});
        if to < matching.len() {
            body["nextPageToken"] = json!(format!("{snapshot}:{to}"));
        } else {
            body["nextSyncToken"] = json!(format!("sync:{snapshot}"));
        }
        TestResponse::json(200, &body)
    }
}

impl FakeEvent {
    fn json(&self) -> Value {
        if self.cancelled {
            return json!({"kind": "calendar#event", "etag": format!("\"{}\"", self.seq),
                "id": self.id, "status": "cancelled"});
        }
        let mut v = json!({
            "kind": "calendar#event",
            "etag": format!("\"{}\"", self.seq),
            "id": self.id,
            "status": "confirmed",
            "htmlLink": format!("https://www.google.com/calendar/event?eid={}", self.id),
            "created": at(self.created),
            "updated": at(self.updated),
            "summary": self.summary,
            "description": format!("notes, version {}", self.seq),
            "creator": {"email": self.organizer},
            "organizer": {"email": self.organizer, "self": true},
            "start": {"dateTime": at(self.start), "timeZone": "UTC"},
            "end": {"dateTime": at(self.end), "timeZone": "UTC"},
            "iCalUID": format!("{}@google.com", self.id),
            "sequence": 0,
            "attendees": self.attendees.iter().map(|a| json!({"email": a, "responseStatus": "accepted"})).collect::<Vec<_>>(),
        });
        if let Some(l) = &self.location {
            v["location"] = json!(l);
        }
        if let Some(r) = &self.recurring {
            v["recurringEventId"] = json!(r);
            v["originalStartTime"] = json!({"dateTime": at(self.start)});
        }
        v
    }
}

/// `%XX` decoded (a calendar id in a path).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Routes for Calendars {
    fn refuse(&self, r: &TestRequest) -> Option<TestResponse> {
        if r.path() == "/token" {
            return None;
        }
        let n = r
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer ya29.fake-"))
            .and_then(|n| n.parse::<u64>().ok());
        let ok = n.is_some_and(|n| n >= 1 && n <= self.issued);
        (!ok).then(|| {
            google_error(
                401,
                "authError",
                "Request had invalid authentication credentials.",
            )
            .header(
                "WWW-Authenticate",
                "Bearer realm=\"https://accounts.google.com/\"",
            )
        })
    }

    fn answer(&mut self, r: &TestRequest) -> TestResponse {
        if r.path() == "/token" {
            return self.token(r);
        }
        let parts: Vec<String> = r
            .path()
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["calendars", id] if self.calendars.iter().any(|c| c == id) => TestResponse::json(
                200,
                &json!({"kind": "calendar#calendar", "id": id, "summary": id, "timeZone": "UTC"}),
            ),
            ["calendars", id, "events"] if self.calendars.iter().any(|c| c == id) => {
                let id = id.to_string();
                self.list(&id, r)
            }
            _ => google_error(404, "notFound", "Not Found"),
        }
    }
}
