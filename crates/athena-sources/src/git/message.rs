//! A commit's message and people as events show them: git's subject/body split, the message's
//! encoding, and signatures with their original offsets.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, TimeZone};
use gix::bstr::{BStr, ByteSlice};
use serde_json::{json, Value};

pub(crate) fn lossy_str(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A signature's time with its offset. Git accepts commits with impossible offsets (`+9999`)
/// or garbled times; such a time is read as well as it can be (the seconds, at UTC) and
/// reported as not exact, rather than failing the source at that commit forever.
pub(crate) fn signature_time(sig: &gix::actor::SignatureRef<'_>) -> (DateTime<FixedOffset>, bool) {
    let exact = sig.time().ok().and_then(|t| {
        FixedOffset::east_opt(t.offset)?
            .timestamp_opt(t.seconds, 0)
            .single()
    });
    match exact {
        Some(t) => (t, true),
        None => {
            let utc = FixedOffset::east_opt(0).expect("zero is a valid offset");
            let t = utc
                .timestamp_opt(sig.seconds(), 0)
                .single()
                .unwrap_or_else(|| utc.timestamp_opt(0, 0).unwrap());
            (t, false)
        }
    }
}

pub(crate) fn person(sig: &gix::actor::SignatureRef<'_>) -> Value {
    let (time, exact) = signature_time(sig);
    let mut p = json!({
        "name": lossy_str(sig.name.trim()),
        "email": lossy_str(sig.email.trim()),
        "time": time.to_rfc3339(),
    });
    if !exact {
        p["time_raw"] = Value::String(sig.time.to_string());
    }
    p
}

/// Decodes a commit message: UTF-8, or Latin-1 when the commit says so; anything else is
/// decoded lossily and flagged.
pub(crate) fn decode_message(message: &BStr, encoding: Option<&BStr>) -> (String, bool) {
    if let Ok(s) = std::str::from_utf8(message.as_bytes()) {
        return (s.to_string(), false);
    }
    let latin1 = encoding.is_some_and(|e| {
        let e = e.to_str_lossy().to_ascii_lowercase();
        matches!(
            e.as_str(),
            "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1"
        )
    });
    if latin1 {
        return (message.iter().map(|&b| char::from(b)).collect(), false);
    }
    (
        String::from_utf8_lossy(message.as_bytes()).into_owned(),
        true,
    )
}

/// Title: the first paragraph on one line (git's `%s`). Body: the rest.
pub(crate) fn split_message(message: &str) -> (String, String) {
    let message = message.trim_start_matches(['\n', '\r']);
    let mut lines = message.lines();
    let mut title_parts = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        title_parts.push(line.trim());
    }
    let body: Vec<&str> = lines.collect();
    let body = body.join("\n");
    (
        title_parts.join(" "),
        body.trim_matches(['\n', '\r']).trim_end().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_like_git_subject_and_body() {
        let (t, b) = split_message("Fix the thing\nacross lines\n\nBecause.\n\nMore.\n");
        assert_eq!(t, "Fix the thing across lines");
        assert_eq!(b, "Because.\n\nMore.");
        assert_eq!(split_message("only\n"), ("only".into(), String::new()));
    }

    #[test]
    fn latin1_is_decoded_and_other_bytes_flagged() {
        let bytes: &[u8] = b"caf\xe9";
        assert_eq!(
            decode_message(bytes.into(), Some(b"ISO-8859-1".as_bstr())),
            ("café".into(), false)
        );
        let (s, lossy) = decode_message(bytes.into(), None);
        assert!(lossy);
        assert_eq!(s, "caf\u{fffd}");
    }
}
