//! [`GoogleCalendarSource`]: the `google_calendar` source as the kit runs it. Per calendar,
//! `events.list` paged by `pageToken`: the first sync within `lookback`/`lookahead`, later
//! ones from the stored `nextSyncToken` (what changed, deletions included). Each item is
//! compared with what the source knew of it (its state row) and told as scheduled, changed,
//! cancelled or restored; meetings that have ended are told as held once. Every page is a checkpoint:
//! its events, its state rows and the cursor (with the page token to go on from) are stored
//! in one transaction, so a kill at any moment loses nothing and stores nothing twice, and a
//! page read again finds its items already known. A `410 Gone` (the sync token expired)
//! starts the calendar over with a full listing; the state rows make that listing tell only
//! what really changed.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use athena_core::kit::{Context, Sink};
use athena_core::{ConfigError, Cursor, SourceConfig, SourceError, SourceInfo, StateChange};
use athena_http::{
    ApiClient, BodyVerdict, HeaderMap, HttpError, HttpErrorKind, PageRead, Pages, Paging, Url,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::config::GoogleCalendarConfig;
use super::cursor::{CalendarCursor, CalendarMark};
use super::model::{self, Item, Known};
use crate::api::{self, ApiSource, Failure, Hint, Hints, Parts};

/// What the source takes as now: when meetings have ended, where the first window lies.
/// [`Utc::now`] unless a test sets the time.
pub(crate) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The OAuth scope the source asks for.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/calendar.readonly";

/// Items per page asked for (Google's most is 2,500; it may serve fewer).
const PAGE_SIZE: u32 = 250;

/// Reads Google Calendar events: scheduled, changed, cancelled, restored, and meetings held (run by the
/// kit's [`Async`](athena_core::kit::Async)).
pub struct GoogleCalendarSource {
    info: SourceInfo,
    config: GoogleCalendarConfig,
    lookback: chrono::Duration,
    lookahead: chrono::Duration,
    client: ApiClient,
    now: Clock,
}

/// What one sync keeps as it goes.
pub(crate) struct CalendarRun {
    cursor: CalendarCursor,
    /// What the source knew of each item (its state rows), by state key.
    known: HashMap<Vec<u8>, Known>,
    /// The sync's now, one for the whole sync.
    now: DateTime<Utc>,
}

/// Google's reasons for a rate limit, said in a 403 or 429 body
/// (`{"error":{"errors":[{"reason":"rateLimitExceeded"}]}}`).
const RATE_LIMIT_REASONS: &[&str] = &["rateLimitExceeded", "userRateLimitExceeded"];

/// Judges Google's error bodies: a rate limit is backed off from exponentially, as Google
/// asks; anything else is left to its status.
pub(crate) fn google_verdict(body: &Value, _headers: &HeaderMap) -> BodyVerdict {
    let reasons = body
        .pointer("/error/errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("reason").and_then(Value::as_str));
    for reason in reasons {
        if RATE_LIMIT_REASONS.contains(&reason) {
            return BodyVerdict::Retry(format!("rate limited ({reason})"));
        }
    }
    BodyVerdict::Accept
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl GoogleCalendarSource {
    /// Builds the source from its config entry.
    pub fn from_config(config: &SourceConfig) -> Result<Self, ConfigError> {
        let c: GoogleCalendarConfig = config.parse()?;
        let examples = "30d, 12h or 90m";
        let lookback = api::duration(config, "lookback", &c.lookback, examples)?;
        let lookahead = api::duration(config, "lookahead", &c.lookahead, examples)?;
        if c.calendars.is_empty() {
            return Err(config.error(Some("calendars"), "lists no calendar"));
        }
        if let Some(bad) = c.calendars.iter().find(|id| id.trim().is_empty()) {
            return Err(config.error(Some("calendars"), format!("{bad:?} is not a calendar id")));
        }
        let tokens = c.auth.token_source(config, &[SCOPE])?;
        let client = api::client(config, &c.api_url, None, &c.http, |http| {
            http.token_source = Some(tokens);
            // Google sends no budget headers: its limits come as 403/429 with a reason.
            http.rate_limit = None;
            http.judge_client_errors = true;
        })?;
        Ok(GoogleCalendarSource {
            info: SourceInfo {
                id: config.id.clone(),
                source_type: "google_calendar".into(),
                name: format!("google_calendar {}", c.calendars.join(", ")),
            },
            client,
            now: Arc::new(Utc::now),
            lookback,
            lookahead,
            config: c,
        })
    }

    /// The source with its clock set (tests: the time is theirs, not the wall's).
    #[cfg(test)]
    pub(crate) fn with_clock(mut self, now: Clock) -> Self {
        self.now = now;
        self
    }

    /// `calendars/{calendarId}/events` with the listing's query.
    fn list_url(
        &self,
        calendar: &str,
        mark: &CalendarMark,
        page_token: Option<&str>,
    ) -> Result<Url, HttpError> {
        let mut url = self.client.url("calendars/")?;
        if let Ok(mut segments) = url.path_segments_mut() {
            // Percent-encoded here: calendar ids hold `@` and `#`.
            segments.pop_if_empty().push(calendar).push("events");
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("maxResults", &PAGE_SIZE.to_string());
            // Each occurrence of a recurring event on its own (see docs/sources/google_calendar.md): its time,
            // its cancellation, its being held.
            q.append_pair("singleEvents", "true");
            q.append_pair("showDeleted", "true");
            match &mark.sync_token {
                // Never with timeMin/timeMax/orderBy/q: Google refuses them with a sync token.
                Some(token) => {
                    q.append_pair("syncToken", token);
                }
                None => {
                    if let Some(t) = &mark.time_min {
                        q.append_pair("timeMin", t);
                    }
                    if let Some(t) = &mark.time_max {
                        q.append_pair("timeMax", t);
                    }
                }
            }
            if let Some(p) = page_token {
                q.append_pair("pageToken", p);
            }
        }
        Ok(url)
    }

    async fn get(&self, url: &Url) -> Result<Value, HttpError> {
        self.client.get_value(url, &google_verdict).await
    }

    /// `calendar`'s mark, its first window set on a first listing.
    fn mark(&self, calendar: &str, run: &mut CalendarRun) -> CalendarMark {
        let mark = run.cursor.mark(calendar);
        if mark.sync_token.is_none() && mark.time_min.is_none() {
            mark.time_min = Some(rfc3339(run.now - self.lookback));
            mark.time_max = Some(rfc3339(run.now + self.lookahead));
        }
        mark.clone()
    }

    /// One calendar's listing, from where its mark stands to its last page.
    async fn sync_calendar(
        &self,
        calendar: &str,
        run: &mut CalendarRun,
        sink: &mut Sink,
        done: &mut u64,
    ) -> Result<(), Failure> {
        let mut started_over = false;
        'listing: loop {
            let mark = self.mark(calendar, run);
            let mut url = self.list_url(calendar, &mark, mark.page_token.as_deref())?;
            let mut pages = Pages::new(Paging::GOOGLE, url.clone());
            loop {
                let page = match self.get(&url).await {
                    Ok(page) => page,
                    // The sync token (or a page token) expired: a full listing, once.
                    Err(e) if e.status == Some(410) && !started_over => {
                        tracing::info!(source = %self.info.id, calendar, "sync token expired (410 Gone): listing the calendar in full");
                        *run.cursor.mark(calendar) = CalendarMark::default();
                        started_over = true;
                        continue 'listing;
                    }
                    Err(e) => return Err(e.into()),
                };
                let Some(items) = page.get("items").and_then(Value::as_array) else {
                    let message = "the answer has no `items` list";
                    return Err(
                        HttpError::answer(HttpErrorKind::Decode, "GET", &url, message).into(),
                    );
                };
                for json in items {
                    self.observe(calendar, json, run, sink);
                    *done += 1;
                }
                sink.progress(*done, None);
                let read = PageRead {
                    url: &url,
                    link: None,
                    body: &page,
                    items: items.len(),
                };
                let next = pages.next(read)?;
                let token = |key: &str| page.get(key).and_then(Value::as_str).map(str::to_string);
                let mark = run.cursor.mark(calendar);
                match next {
                    Some(_) => mark.page_token = token("nextPageToken"),
                    None => {
                        *mark = CalendarMark {
                            sync_token: token("nextSyncToken"),
                            ..CalendarMark::default()
                        }
                    }
                }
                sink.checkpoint(|| run.cursor.encode()).await?;
                match next {
                    Some(next) => url = next,
                    None => return Ok(()),
                }
            }
        }
    }

    /// One listed item told as events, against what the source knew of it.
    fn observe(&self, calendar: &str, json: &Value, run: &mut CalendarRun, sink: &mut Sink) {
        let Some(item) = Item::new(json) else {
            return;
        };
        let key = model::state_key(calendar, &item.id);
        let (events, row) = model::observe(calendar, &item, run.known.get(&key), run.now);
        for e in events {
            sink.event(e);
        }
        if let Some(row) = row {
            sink.state(StateChange {
                key: key.clone(),
                value: Some(row.encode()),
            });
            run.known.insert(key, row);
        }
    }

    /// `meeting_held` for the calendar's meetings that have ended, in key order.
    fn held(&self, calendar: &str, run: &mut CalendarRun, sink: &mut Sink) {
        let known = &mut run.known;
        let mut due: Vec<(Vec<u8>, String)> = known
            .iter()
            .filter(|(_, k)| !k.held && !k.cancelled && k.is_meeting())
            .filter_map(|(key, _)| {
                let (c, e) = model::split_key(key)?;
                (c == calendar).then(|| (key.clone(), e))
            })
            .collect();
        due.sort();
        for (key, event_id) in due {
            let Some((event, row)) = known
                .get(&key)
                .and_then(|k| model::held(calendar, &event_id, k, run.now))
            else {
                continue;
            };
            sink.event(event);
            sink.state(StateChange {
                key: key.clone(),
                value: Some(row.encode()),
            });
            known.insert(key, row);
        }
    }
}

#[async_trait]
impl ApiSource for GoogleCalendarSource {
    type Run = CalendarRun;

    fn parts(&self) -> Parts<'_> {
        Parts {
            info: &self.info,
            client: &self.client,
            batch_size: self.config.batch_size,
        }
    }

    /// Calendar's words for what a user can fix.
    fn hints(&self) -> Hints {
        let id = &self.info.id;
        Hints {
            unauthorized: Hint::lead(format!(
                "Google refused the access token for source {id}, also a fresh one (check {} and that the Calendar API is enabled): ",
                self.config.auth.keys_to_check()
            )),
            forbidden: Hint::lead(format!(
                "Google refused access for source {id} (is the calendar shared with the account, the scope calendar.readonly granted?): "
            )),
            not_found: Hint::lead(format!(
                "not found for source {id} (is every id in `calendars` a calendar the account sees?): "
            )),
            other: Hint::lead(format!("source {id}: ")),
        }
    }

    /// A rate limit Google kept saying in its error bodies (retried to the end) is a rate
    /// limit too.
    fn explain(&self, e: &HttpError) -> SourceError {
        let id = &self.info.id;
        if e.message.starts_with("rate limited (") {
            let limited = HttpError {
                kind: HttpErrorKind::RateLimited,
                ..e.clone()
            };
            return limited.source_error(
                id,
                format!("Google Calendar kept refusing source {id} for its rate limit: {e}"),
            );
        }
        self.hints().explain(id, e)
    }

    /// `GET calendars/{id}` of each calendar: the token is granted and the calendars seen.
    async fn check(&self) -> Result<(), Failure> {
        for calendar in &self.config.calendars {
            let mut url = self.client.url("calendars/")?;
            if let Ok(mut s) = url.path_segments_mut() {
                s.pop_if_empty().push(calendar);
            }
            self.get(&url).await?;
        }
        Ok(())
    }

    fn start(&self, ctx: &mut Context) -> Result<CalendarRun, SourceError> {
        let cursor =
            CalendarCursor::decode(ctx.take_cursor(), &self.info.id, &self.config.calendars)?;
        let known = ctx
            .take_state()
            .into_iter()
            .filter_map(|(k, v)| Known::decode(&v).map(|known| (k, known)))
            .collect();
        Ok(CalendarRun {
            cursor,
            known,
            now: (self.now)(),
        })
    }

    /// Each calendar in turn; the pages stored whole before a failure go with their marks.
    async fn sync(&self, run: &mut CalendarRun, sink: &mut Sink) -> Result<(), Failure> {
        let mut done = 0;
        for calendar in &self.config.calendars {
            self.sync_calendar(calendar, run, sink, &mut done).await?;
            self.held(calendar, run, sink);
            sink.checkpoint(|| run.cursor.encode()).await?;
        }
        Ok(())
    }

    fn cursor(run: &CalendarRun) -> Cursor {
        run.cursor.encode()
    }
}

api::driven!(GoogleCalendarSource);
