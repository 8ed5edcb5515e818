//! A Gmail message (as `users.messages.get` returns it, `format=metadata` or `full`) as an
//! event, the events of history records, and base64url (Gmail's encoding of bodies).

use athena_core::Event;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

/// The headers asked for with `format=metadata` (and read from `format=full`).
pub(crate) const HEADERS: [&str; 5] = ["From", "To", "Cc", "Subject", "Message-ID"];

/// What the source knows of the mailbox when it turns a message into an event.
pub(crate) struct Mailbox<'a> {
    /// The configured labels: a message needs one of them.
    pub labels: &'a [String],
    /// The mailbox's own address (from `users.getProfile`), to tell sent from received.
    pub email: &'a str,
    /// `Some(max bytes)`: the body is the text/plain part; `None`: the snippet.
    pub body: Option<usize>,
    /// The history shows the message arriving in a configured label: it is an event even if
    /// none of them remains (archived before the sync).
    pub arrived: bool,
}

/// Whether `labels` (a message's `labelIds`) holds one of the configured labels.
pub(crate) fn wanted(configured: &[String], labels: &[&str]) -> bool {
    labels.iter().any(|l| configured.iter().any(|c| c == l))
}

/// A message's `labelIds`.
pub(crate) fn label_ids(message: &Value) -> Vec<&str> {
    message
        .get("labelIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn header<'a>(message: &'a Value, name: &str) -> Option<&'a str> {
    message
        .pointer("/payload/headers")?
        .as_array()?
        .iter()
        .find(|h| {
            h.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })?
        .get("value")?
        .as_str()
}

/// The address inside `Name <addr>`, or the whole text.
fn address(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from.trim(),
    }
}

/// `email_sent` or `email_received` for a message, `Err(reason)` when it cannot be one (no
/// id, no `internalDate`); `Ok(None)` when it carries none of the configured labels (a draft,
/// a message archived meanwhile) unless the history showed it arriving in one
/// ([`Mailbox::arrived`]).
pub(crate) fn message_event(
    message: &Value,
    mailbox: &Mailbox<'_>,
) -> Result<Option<Event>, String> {
    let id = message
        .get("id")
        .and_then(Value::as_str)
        .ok_or("a message without an id")?;
    let labels = label_ids(message);
    if !mailbox.arrived && !wanted(mailbox.labels, &labels) {
        return Ok(None);
    }
    let at = message
        .get("internalDate")
        .and_then(|d| {
            d.as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or(d.as_i64())
        })
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .ok_or_else(|| format!("message {id} has no internalDate"))?;
    let from = header(message, "From");
    let sent = labels.contains(&"SENT")
        || (!mailbox.email.is_empty()
            && from.is_some_and(|f| address(f).eq_ignore_ascii_case(mailbox.email)));
    let kind = if sent { "email_sent" } else { "email_received" };
    let subject = header(message, "Subject").unwrap_or("").trim();
    let title = if subject.is_empty() {
        "(no subject)".to_string()
    } else {
        subject.chars().take(300).collect()
    };
    let mut e = Event::new(format!("message:{id}"), kind, at, title);
    e.actor = from.map(str::to_string);
    e.body = match mailbox.body {
        Some(max) => text_body(message.get("payload"))
            .map(|t| truncate(t, max))
            .unwrap_or_else(|| snippet(message)),
        None => snippet(message),
    };
    e.url = Some(format!("https://mail.google.com/mail/#all/{id}"));
    let thread = message
        .get("threadId")
        .and_then(Value::as_str)
        .unwrap_or(id);
    let mut context = Map::new();
    context.insert("thread_id".into(), json!(thread));
    context.insert("labels".into(), json!(labels));
    for (key, name) in [
        ("from", "From"),
        ("to", "To"),
        ("cc", "Cc"),
        ("subject", "Subject"),
        ("message_id", "Message-ID"),
    ] {
        if let Some(v) = header(message, name) {
            context.insert(key.into(), json!(v));
        }
    }
    e.context = context;
    let mut metadata = Map::new();
    metadata.insert("message_id".into(), json!(id));
    for key in ["historyId", "sizeEstimate"] {
        if let Some(v) = message.get(key) {
            metadata.insert(key.into(), v.clone());
        }
    }
    e.metadata = metadata;
    Ok(Some(e))
}

/// `email_deleted` for a message of a `messagesDeleted` record, at `now` (the history has no
/// times).
pub(crate) fn deleted_event(message: &Value, now: DateTime<Utc>) -> Option<Event> {
    let id = message.get("id").and_then(Value::as_str)?;
    let mut e = Event::new(
        format!("message:{id}:deleted"),
        "email_deleted",
        now,
        "message deleted",
    );
    let thread = message
        .get("threadId")
        .and_then(Value::as_str)
        .unwrap_or(id);
    e.context.insert("thread_id".into(), json!(thread));
    e.context.insert("labels".into(), json!(label_ids(message)));
    e.metadata.insert("message_id".into(), json!(id));
    Some(e)
}

/// `email_labels_changed` for one change of history record `record_id` (`added`: labels added,
/// else removed), at `now`.
pub(crate) fn labels_event(
    record_id: &str,
    change: &Value,
    added: bool,
    now: DateTime<Utc>,
) -> Option<Event> {
    let message = change.get("message")?;
    let id = message.get("id").and_then(Value::as_str)?;
    let changed: Vec<&str> = change
        .get("labelIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (what, suffix) = if added {
        ("labels added", "added")
    } else {
        ("labels removed", "removed")
    };
    let mut e = Event::new(
        format!("history:{record_id}:{id}:{suffix}"),
        "email_labels_changed",
        now,
        format!("{what}: {}", changed.join(", ")),
    );
    let thread = message
        .get("threadId")
        .and_then(Value::as_str)
        .unwrap_or(id);
    e.context.insert("thread_id".into(), json!(thread));
    e.context.insert("labels".into(), json!(label_ids(message)));
    e.metadata.insert("message_id".into(), json!(id));
    e.metadata.insert(
        if added { "added" } else { "removed" }.into(),
        json!(changed),
    );
    Some(e)
}

fn snippet(message: &Value) -> String {
    message
        .get("snippet")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The first text/plain part that is not an attachment, decoded.
fn text_body(part: Option<&Value>) -> Option<String> {
    let part = part?;
    let mime = part.get("mimeType").and_then(Value::as_str).unwrap_or("");
    let attachment = part
        .get("filename")
        .and_then(Value::as_str)
        .is_some_and(|f| !f.is_empty());
    if mime.eq_ignore_ascii_case("text/plain") && !attachment {
        let data = part.pointer("/body/data").and_then(Value::as_str)?;
        return Some(String::from_utf8_lossy(&base64url_decode(data)?).into_owned());
    }
    part.get("parts")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|p| text_body(Some(p)))
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url (RFC 4648 §5), padding optional; `None` for a character outside it.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        // Standard base64 too: some clients write `+` and `/`.
        let v = match c {
            b'+' => 62,
            b'/' => 63,
            _ => ABC.iter().position(|&a| a == c)? as u32,
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Base64url without padding (the fake's bodies).
#[cfg(any(test, feature = "test-server"))]
pub(crate) fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(labels: &[&str], from: &str) -> Value {
        json!({"id": "18c1", "threadId": "18c0", "labelIds": labels, "snippet": "Hi there",
            "internalDate": "1709251200000", "historyId": "77",
            "payload": {"mimeType": "multipart/alternative", "headers": [
                {"name": "From", "value": from}, {"name": "To", "value": "me@example.com"},
                {"name": "subject", "value": "Lunch?"}, {"name": "Message-ID", "value": "<a@b>"}],
                "parts": [
                    {"mimeType": "text/html", "body": {"data": base64url_encode(b"<p>no</p>")}},
                    {"mimeType": "text/plain", "filename": "", "body": {"data": base64url_encode("Héllo, lunch at noon?".as_bytes())}}]}})
    }

    fn mailbox(body: Option<usize>) -> Mailbox<'static> {
        static LABELS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        Mailbox {
            labels: LABELS.get_or_init(|| vec!["INBOX".into(), "SENT".into()]),
            email: "me@example.com",
            body,
            arrived: false,
        }
    }

    #[test]
    fn base64url_round_trips_with_or_without_padding() {
        for text in ["", "f", "fo", "foo", "foob", "\u{ff}\u{fe}?>"] {
            let enc = base64url_encode(text.as_bytes());
            assert!(!enc.contains(['+', '/', '=']), "{enc}");
            assert_eq!(base64url_decode(&enc).unwrap(), text.as_bytes());
        }
        assert_eq!(base64url_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64url_decode("Pz4-").unwrap(), b"?>>");
        assert!(base64url_decode("a*b").is_none());
    }

    #[test]
    fn a_message_from_someone_in_the_inbox_is_received_with_its_headers_and_snippet() {
        let e = message_event(
            &message(&["INBOX", "UNREAD"], "Ann <ann@example.com>"),
            &mailbox(None),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (e.kind.as_str(), e.id.as_str()),
            ("email_received", "message:18c1")
        );
        assert_eq!(e.actor.as_deref(), Some("Ann <ann@example.com>"));
        assert_eq!((e.title.as_str(), e.body.as_str()), ("Lunch?", "Hi there"));
        assert_eq!(e.occurred_at.timestamp_millis(), 1_709_251_200_000);
        assert_eq!(e.context["thread_id"], "18c0");
        assert_eq!(e.context["labels"], json!(["INBOX", "UNREAD"]));
        assert_eq!(e.context["message_id"], "<a@b>");
        assert_eq!(e.context["to"], "me@example.com");
    }

    #[test]
    fn sent_by_label_or_by_the_own_address_and_other_labels_are_skipped() {
        let m = message(&["SENT"], "Me <me@example.com>");
        assert_eq!(
            message_event(&m, &mailbox(None)).unwrap().unwrap().kind,
            "email_sent"
        );
        let m = message(&["INBOX"], "ME@example.com");
        assert_eq!(
            message_event(&m, &mailbox(None)).unwrap().unwrap().kind,
            "email_sent"
        );
        let draft = message(&["DRAFT"], "me@example.com");
        assert!(message_event(&draft, &mailbox(None)).unwrap().is_none());
        // Seen arriving in the inbox, archived since: still received.
        let archived = message(&[], "Ann <ann@example.com>");
        assert!(message_event(&archived, &mailbox(None)).unwrap().is_none());
        let arrived = Mailbox {
            arrived: true,
            ..mailbox(None)
        };
        assert_eq!(
            message_event(&archived, &arrived).unwrap().unwrap().kind,
            "email_received"
        );
        let mut bad = message(&["INBOX"], "a@b");
        bad.as_object_mut().unwrap().remove("internalDate");
        assert!(message_event(&bad, &mailbox(None))
            .unwrap_err()
            .contains("internalDate"));
    }

    #[test]
    fn the_text_part_is_the_body_cut_at_a_character_boundary() {
        let m = message(&["INBOX"], "a@b");
        let e = message_event(&m, &mailbox(Some(1000))).unwrap().unwrap();
        assert_eq!(e.body, "Héllo, lunch at noon?");
        // "H" + the two bytes of "é": two bytes cut before the "é".
        let e = message_event(&m, &mailbox(Some(2))).unwrap().unwrap();
        assert_eq!(e.body, "H");
    }
}
