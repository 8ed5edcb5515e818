//! `type = "google_calendar"`: a Google account's calendars, through the Calendar API v3:
//! events scheduled, changed (time, title, attendees, location), cancelled, restored after a
//! cancellation, and meetings held.
//!
//! - `source`: the source and one sync: per calendar, `events.list` paged by `pageToken`,
//!   incremental by `syncToken` after the first (windowed) sync, a checkpoint after every
//!   page, a full listing again on `410 Gone`.
//! - `model`: an item compared with what the source knew of it (its state row) as events;
//!   `cursor`: the versioned cursor, one entry per calendar; `config`: the keys. HTTP itself
//!   (retries, rate limits, the OAuth token and its refresh on a 401) is the shared client of
//!   `athena-http`; the OAuth keys are `crate::google`'s.
//! - `fake` (feature `test-server`): a fake Calendar API and token endpoint to test against;
//!   `tests`: the source built from its config and synced by the engine against it.

mod config;
mod cursor;
#[cfg(any(test, feature = "test-server"))]
pub mod fake;
mod model;
mod source;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use athena_core::kit::Async;
use athena_core::{EventSource, SourceType};

pub use config::GoogleCalendarConfig;
pub use source::GoogleCalendarSource;

/// The registry entry of the `google_calendar` source.
pub fn source_type() -> SourceType {
    SourceType::new(
        "google_calendar",
        "Google Calendar: events scheduled, changed, cancelled, restored; meetings held",
        <config::GoogleCalendarConfig as athena_core::config::Declared>::keys(),
        Arc::new(|c| {
            Ok(Box::new(Async::new(GoogleCalendarSource::from_config(c)?)) as Box<dyn EventSource>)
        }),
    )
    .with_schedule("5m")
    .with_episode(&["{calendar_id}/{event_id}"])
    .with_people(people)
    .with_starter(STARTER)
}

/// Its table in the starter config `init` writes.
const STARTER: &str = r#"# Google Calendar: events scheduled, changed, cancelled; meetings held.
# [[sources]]
# id = "calendar"
# type = "google_calendar"
# client_id = "….apps.googleusercontent.com"
# client_secret = "${GOOGLE_CLIENT_SECRET}"
# refresh_token = "${GOOGLE_REFRESH_TOKEN}"
# calendars = ["primary"]
"#;

/// The people an event names: its organizer (the actor) and its attendees, by address.
fn people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, PersonRole};
    let organizer = e.context.get("organizer").and_then(serde_json::Value::as_str);
    let attendees = e.context.get("attendees").and_then(serde_json::Value::as_array);
    (organizer.into_iter())
        .map(|o| Claim::new(Handle::email(o), PersonRole::Actor))
        .chain(
            (attendees.into_iter().flatten())
                .filter_map(serde_json::Value::as_str)
                .map(|a| Claim::new(Handle::email(a), PersonRole::Named)),
        )
        .collect()
}
