//! What each tool says in words beside its structured answer: one line for an agent that
//! reads only the text (many clients show it nothing else). The answers themselves are the
//! recall service's, the same as the HTTP API's.

use chrono::{DateTime, SecondsFormat, Utc};

use super::brief::Listed;
use crate::recall::answers::{
    EventView, EventsPage, MatchKind, People, RelatedView, Sources, Timeline,
};

/// `search_events`: how many, from when to when, and the cursor of the next page; first, the
/// note of a page that is not what was asked (no event had every word).
pub(crate) fn events(page: &EventsPage<Listed>) -> String {
    let summary = page_summary(page);
    match &page.note {
        Some(note) => format!("{note}. {summary}"),
        None => summary,
    }
}

fn page_summary(page: &EventsPage<Listed>) -> String {
    let times = page.events.iter().map(Listed::occurred_at);
    let mut summary = match (times.clone().min(), times.max()) {
        (Some(oldest), Some(newest)) => {
            let first = match page.events.first().map(Listed::occurred_at) {
                Some(t) if t == oldest && oldest != newest => "oldest first",
                _ => "newest first",
            };
            let first = match page.matched {
                Some(MatchKind::Any) => "best match first",
                _ => first,
            };
            format!(
                "{} from {} to {} ({first})",
                count(page.events.len() as u64, "event"),
                rfc3339(&oldest),
                rfc3339(&newest),
            )
        }
        _ => "no events match".to_string(),
    };
    if let Some(next) = &page.next_cursor {
        summary.push_str(&format!("; more with cursor {next}"));
    }
    summary
}

/// `get_event`: the event in a line.
/// `2 people: Ada (email:ada@corp.com, github:ada-l); bob@corp.com`, or that none matches.
pub(crate) fn people(p: &People) -> String {
    if p.people.is_empty() {
        return "no person matches".to_string();
    }
    let shown: Vec<String> = (p.people.iter().take(20))
        .map(|person| match &person.name {
            Some(name) => format!("{name} [{}] ({})", person.id, person.handles.join(", ")),
            None => format!("{} ({})", person.id, person.handles.join(", ")),
        })
        .collect();
    let more = p.people.len().saturating_sub(shown.len());
    let mut text = format!(
        "{}: {}",
        count(p.people.len() as u64, "person"),
        shown.join("; ")
    );
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

/// `3 events related to web GET /x (via key:PROJ-7, commit:3f9a0c1)`.
pub(crate) fn related(r: &RelatedView) -> String {
    let mut things: Vec<&str> = (r.related.iter())
        .flat_map(|e| e.via.iter().map(|l| l.thing.as_str()))
        .collect();
    things.sort_unstable();
    things.dedup();
    let of = event(&r.event);
    match things.is_empty() {
        true => format!("no event related to {of}"),
        false => format!(
            "{} related to {of} (via {})",
            count(r.related.len() as u64, "event"),
            things.join(", ")
        ),
    }
}

pub(crate) fn event(e: &EventView) -> String {
    match e {
        EventView::Event(e) => format!(
            "{} {} at {}: {}",
            e.source_id,
            e.kind,
            rfc3339(&e.occurred_at),
            e.title
        ),
        EventView::Athena(a) => format!(
            "{} {} at {}: {}",
            a.context
                .get("source_id")
                .and_then(|s| s.as_str())
                .unwrap_or_default(),
            a.event_type,
            rfc3339(&a.timestamp),
            a.description.lines().next().unwrap_or_default()
        ),
    }
}

/// `list_sources`: how many, holding how many events, and their ids.
pub(crate) fn sources(s: &Sources) -> String {
    if s.sources.is_empty() {
        return "no source has synced into this store yet".to_string();
    }
    let total: u64 = s.sources.iter().map(|s| s.events).sum();
    let ids: Vec<&str> = s.sources.iter().map(|s| s.id.as_str()).collect();
    format!(
        "{} holding {}: {}",
        count(s.sources.len() as u64, "source"),
        count(total, "event"),
        ids.join(", ")
    )
}

/// `timeline`: how many events in how many buckets, from when to when.
pub(crate) fn timeline(t: &Timeline) -> String {
    let counted = counted(t);
    match &t.note {
        // As a page's: the note leads, so an agent does not take the counts for the search's.
        Some(note) => format!("{note}\n{counted}"),
        None => counted,
    }
}

fn counted(t: &Timeline) -> String {
    let starts = t.counts.iter().map(|c| c.start);
    let buckets = {
        let mut all: Vec<DateTime<Utc>> = starts.clone().collect();
        all.dedup();
        all.len()
    };
    match (starts.clone().min(), starts.max()) {
        (Some(first), Some(last)) => format!(
            "{} in {buckets} {} buckets, the first starting {}, the last {}",
            count(t.total(), "event"),
            t.bucket,
            rfc3339(&first),
            rfc3339(&last)
        ),
        _ => "no events in this range".to_string(),
    }
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
