//! Parsing one access-log line into its fields, without copying.
//!
//! The Common Log Format (`host ident user [time] "request" status bytes`) and the combined
//! format (the same plus `"referer" "user-agent"`) are parsed by hand: these lines are read by
//! the million, and a scan for a handful of delimiters is several times faster than a regular
//! expression. Real logs bend the format, and the parser bends with them: a request line that
//! is not `METHOD target PROTOCOL` keeps its text as the path, `\"` inside quotes is an escaped
//! quote, and a last quoted field cut off by a truncated line runs to the end of the line.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

/// The fields of one request, borrowed from the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// The client address (`%h`).
    pub remote_addr: &'a str,
    /// The authenticated user (`%u`), if any.
    pub user: Option<&'a str>,
    /// When the request was received, with the offset the log was written in.
    pub time: DateTime<FixedOffset>,
    /// `GET`, `POST`, … (`None` when the request line is not `METHOD target PROTOCOL`).
    pub method: Option<&'a str>,
    /// The path, without the query.
    pub path: &'a str,
    /// The query, without the `?`.
    pub query: Option<&'a str>,
    /// `HTTP/1.1`, …
    pub protocol: Option<&'a str>,
    /// The response status.
    pub status: u16,
    /// Response bytes (`None` for `-`).
    pub bytes: Option<u64>,
    /// The `Referer` header (combined format).
    pub referer: Option<&'a str>,
    /// The `User-Agent` header (combined format).
    pub user_agent: Option<&'a str>,
    /// How long the request took, as logged (JSON lines), in the log's own unit.
    pub latency: Option<f64>,
}

/// Why a line is not a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is empty.
    Empty,
    /// A field the format requires is missing (its name).
    Missing(&'static str),
    /// The `[…]` time cannot be read.
    BadTime,
    /// The status is not a three-digit number.
    BadStatus,
    /// The byte count is neither a number nor `-`.
    BadBytes,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty line"),
            ParseError::Missing(field) => write!(f, "no {field}"),
            ParseError::BadTime => f.write_str("unreadable or impossible time"),
            ParseError::BadStatus => f.write_str("status is not a 3-digit number"),
            ParseError::BadBytes => f.write_str("byte count is neither a number nor '-'"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a Common Log Format line; with `combined`, also the referer and user agent.
pub fn parse_clf(line: &str, combined: bool) -> Result<Request<'_>, ParseError> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut rest = line;
    let remote_addr = token(&mut rest).ok_or(ParseError::Missing("client address"))?;
    let _ident = token(&mut rest).ok_or(ParseError::Missing("ident"))?;
    let user = token(&mut rest).ok_or(ParseError::Missing("user"))?;
    rest = rest.trim_start_matches(' ');
    let time_text = rest
        .strip_prefix('[')
        .and_then(|r| memchr::memchr(b']', r.as_bytes()).map(|i| (&r[..i], &r[i + 1..])))
        .map(|(t, after)| {
            rest = after;
            t
        })
        .ok_or(ParseError::Missing("[time]"))?;
    let time = parse_clf_time(time_text).ok_or(ParseError::BadTime)?;
    let request = quoted(&mut rest).ok_or(ParseError::Missing("\"request\""))?;
    let status_text = token(&mut rest).ok_or(ParseError::Missing("status"))?;
    let status = parse_status(status_text).ok_or(ParseError::BadStatus)?;
    let bytes = match token(&mut rest) {
        Some("-") => None,
        Some(b) => Some(b.parse().map_err(|_| ParseError::BadBytes)?),
        None => return Err(ParseError::Missing("bytes")),
    };
    let (referer, user_agent) = if combined {
        let referer = quoted(&mut rest).ok_or(ParseError::Missing("\"referer\""))?;
        let agent = quoted(&mut rest).ok_or(ParseError::Missing("\"user-agent\""))?;
        (dash_none(referer), dash_none(agent))
    } else {
        (None, None)
    };
    let (method, target, protocol) = split_request(request);
    let (path, query) = match memchr::memchr(b'?', target.as_bytes()) {
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    Ok(Request {
        remote_addr,
        user: dash_none(user),
        time,
        method,
        path,
        query,
        protocol,
        status,
        bytes,
        referer,
        user_agent,
        latency: None,
    })
}

/// The next space-separated token.
fn token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    let end = memchr::memchr(b' ', s.as_bytes()).unwrap_or(s.len());
    *rest = &s[end..];
    Some(&s[..end])
}

/// The next `"…"` field. `\"` inside is an escaped quote; a field the line ends inside runs to
/// the end of the line (a truncated last field).
fn quoted<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches(' ').strip_prefix('"')?;
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'"', &bytes[from..]).map(|i| i + from) {
        if escaped(bytes, i) {
            from = i + 1;
            continue;
        }
        *rest = &s[i + 1..];
        return Some(&s[..i]);
    }
    *rest = "";
    Some(s)
}

/// Whether the byte at `i` is preceded by an odd number of backslashes.
fn escaped(bytes: &[u8], i: usize) -> bool {
    bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

fn dash_none(s: &str) -> Option<&str> {
    (s != "-" && !s.is_empty()).then_some(s)
}

fn parse_status(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = b.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&n).then_some(n)
}

/// `GET /a?b HTTP/1.1` → (method, target, protocol). Anything else keeps its text as target.
fn split_request(request: &str) -> (Option<&str>, &str, Option<&str>) {
    let is_method = |m: &str| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase());
    let b = request.as_bytes();
    let Some(first) = memchr::memchr(b' ', b) else {
        return (None, request, None);
    };
    let method = &request[..first];
    if !is_method(method) {
        return (None, request, None);
    }
    let after = &request[first + 1..];
    match memchr::memchr(b' ', after.as_bytes()) {
        Some(i) => (Some(method), &after[..i], Some(&after[i + 1..])),
        None => (Some(method), after, None),
    }
}

/// Parses a time as logs write it: CLF (`10/Oct/2000:13:55:36 -0700`, brackets allowed),
/// RFC 3339, or seconds / milliseconds since the epoch (`1700000000`, `1700000000.25`,
/// `1700000000250`). Epoch times are UTC.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    if let Some(t) = parse_clf_time(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let n: f64 = s.parse().ok()?;
    epoch_time(n)
}

/// Seconds or, past year 2286 as seconds, milliseconds since the epoch.
pub fn epoch_time(n: f64) -> Option<DateTime<FixedOffset>> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let ms = if n >= 1e11 { n } else { n * 1000.0 };
    let utc = FixedOffset::east_opt(0)?;
    utc.timestamp_millis_opt(ms.round() as i64).single()
}

/// Parses `10/Oct/2000:13:55:36 -0700`, the time of the Common Log Format.
pub fn parse_clf_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let b = s.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let day = num(0..2)?;
    let month = match &b[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = num(7..11)?;
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(12..14)?, num(15..17)?, num(18..20)?);
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (num(22..24)?, num(24..26)?);
    if om >= 60 {
        return None;
    }
    let offset = FixedOffset::east_opt(sign * (oh as i32 * 3600 + om as i32 * 60))?;
    let local =
        NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, minute, second)?;
    offset.from_local_datetime(&local).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/kibana-search.png?x=1&y=2 HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/" "Mozilla/5.0 (Macintosh)""#;

    #[test]
    fn a_combined_line_has_every_field() {
        let r = parse_clf(LINE, true).unwrap();
        assert_eq!(r.remote_addr, "83.149.9.216");
        assert_eq!(r.user, None);
        assert_eq!(r.time.to_rfc3339(), "2015-05-17T10:05:03+00:00");
        assert_eq!(r.method, Some("GET"));
        assert_eq!(r.path, "/presentations/kibana-search.png");
        assert_eq!(r.query, Some("x=1&y=2"));
        assert_eq!(r.protocol, Some("HTTP/1.1"));
        assert_eq!((r.status, r.bytes), (200, Some(203023)));
        assert_eq!(r.referer, Some("http://semicomplete.com/presentations/"));
        assert_eq!(r.user_agent, Some("Mozilla/5.0 (Macintosh)"));
    }

    #[test]
    fn common_format_users_offsets_and_dashes() {
        let line =
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "POST /api/v1/items HTTP/1.0" 201 -"#;
        let r = parse_clf(line, false).unwrap();
        assert_eq!(r.user, Some("frank"));
        assert_eq!(r.time.to_rfc3339(), "2000-10-10T13:55:36-07:00");
        assert_eq!((r.method, r.status, r.bytes), (Some("POST"), 201, None));
        assert_eq!(r.referer, None);
    }

    #[test]
    fn bent_lines_still_parse() {
        // CRLF, an escaped quote, a request that is not METHOD target PROTOCOL, and a user
        // agent cut off by a truncated line.
        let line = "1.2.3.4 - - [01/Jan/2024:00:00:00 +0100] \"GET /a\\\"b HTTP/1.1\" 404 12 \"-\" \"curl/8.0\"\r\n";
        let r = parse_clf(line, true).unwrap();
        assert_eq!(r.path, "/a\\\"b");
        assert_eq!(r.user_agent, Some("curl/8.0"));
        let r = parse_clf(
            r#"1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-""#,
            true,
        )
        .unwrap();
        assert_eq!((r.method, r.path), (None, r"\x16\x03\x01"));
        let r = parse_clf(r#"1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Googlebot/2.1; +http://www.google.com/bot.html"#, true).unwrap();
        assert_eq!(
            r.user_agent,
            Some("Googlebot/2.1; +http://www.google.com/bot.html")
        );
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(parse_clf("", true), Err(ParseError::Empty));
        assert_eq!(
            parse_clf("garbage", true),
            Err(ParseError::Missing("ident"))
        );
        let bad_time = r#"1.2.3.4 - - [31/Feb/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#;
        assert_eq!(parse_clf(bad_time, false), Err(ParseError::BadTime));
        let bad_status = r#"1.2.3.4 - - [01/Feb/2024:00:00:00 +0000] "GET / HTTP/1.1" 2000 5"#;
        assert_eq!(parse_clf(bad_status, false), Err(ParseError::BadStatus));
        let bad_bytes = r#"1.2.3.4 - - [01/Feb/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 five"#;
        assert_eq!(parse_clf(bad_bytes, false), Err(ParseError::BadBytes));
        assert_eq!(ParseError::Missing("status").to_string(), "no status");
    }

    #[test]
    fn times_in_every_usual_form() {
        let at = |s: &str| parse_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            at("[10/Oct/2000:13:55:36 -0700]").unwrap(),
            "2000-10-10T13:55:36-07:00"
        );
        assert_eq!(
            at("2024-05-01T10:00:00.5+02:00").unwrap(),
            "2024-05-01T10:00:00.500+02:00"
        );
        assert_eq!(at("1700000000").unwrap(), "2023-11-14T22:13:20+00:00");
        assert_eq!(
            at("1700000000250").unwrap(),
            "2023-11-14T22:13:20.250+00:00"
        );
        assert_eq!(
            at("1700000000.25").unwrap(),
            "2023-11-14T22:13:20.250+00:00"
        );
        assert_eq!(at("yesterday"), None);
        assert_eq!(at("-5"), None);
    }

    #[test]
    fn clf_times_are_checked_field_by_field() {
        assert!(parse_clf_time("10/Oct/2000:13:55:36 -0700").is_some());
        assert!(parse_clf_time("10/Oct/2000:13:55:36 +0530").is_some());
        assert!(parse_clf_time("10/Okt/2000:13:55:36 -0700").is_none());
        assert!(parse_clf_time("10/Oct/2000:25:55:36 -0700").is_none());
        assert!(parse_clf_time("10/Oct/2000:13:55:36 -0790").is_none());
        assert!(parse_clf_time("10/Oct/2000 13:55:36 -0700").is_none());
    }

    /// The real log the repository keeps (`fixtures/apache_combined.log`, 2,000 lines of May
    /// 2015; origin and licence in `fixtures/README.md`): every line parses.
    #[test]
    fn every_line_of_the_sample_apache_log_parses() {
        let text = include_str!("fixtures/apache_combined.log");
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let r = parse_clf(line, true).unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
            assert!(
                r.time.to_rfc3339().starts_with("2015-05-"),
                "line {}",
                i + 1
            );
            n += 1;
        }
        assert_eq!(n, 2_000);
    }
}
