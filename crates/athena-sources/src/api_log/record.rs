//! A parsed line becomes an `http_request` event; JSON lines are mapped onto the same fields.

use std::collections::BTreeMap;

use athena_core::json::push_u64;
use athena_core::{Event, EventJson, JsonObject, Outcome};
use chrono::Utc;
use serde_json::{Map, Value};

use super::parse::{epoch_time, parse_time, Request};

/// For each field, the JSON names tried in order (the configured one alone when given).
pub(crate) struct JsonFields {
    names: BTreeMap<&'static str, Vec<String>>,
}

/// Names nginx's and other common JSON log formats use.
const DEFAULTS: &[(&str, &[&str])] = &[
    (
        "time",
        &[
            "time",
            "timestamp",
            "@timestamp",
            "time_local",
            "time_iso8601",
            "ts",
        ],
    ),
    ("method", &["method", "request_method", "http_method"]),
    ("path", &["path", "uri", "request_uri", "url"]),
    ("query", &["query", "query_string", "args"]),
    ("protocol", &["protocol", "server_protocol"]),
    ("status", &["status", "status_code", "response_status"]),
    ("bytes", &["bytes", "body_bytes_sent", "bytes_sent", "size"]),
    (
        "latency",
        &[
            "latency",
            "request_time",
            "duration",
            "latency_ms",
            "response_time",
        ],
    ),
    (
        "remote_addr",
        &["remote_addr", "client_ip", "ip", "remote_ip", "client"],
    ),
    ("user_agent", &["user_agent", "http_user_agent", "agent"]),
    ("user", &["user", "remote_user", "user_id"]),
    ("referer", &["referer", "http_referer", "referrer"]),
];

/// The field names a `fields` table may set.
pub(crate) fn field_keys() -> impl Iterator<Item = &'static str> {
    DEFAULTS.iter().map(|(k, _)| *k)
}

impl JsonFields {
    pub(crate) fn new(configured: &BTreeMap<String, String>) -> Self {
        let names = DEFAULTS
            .iter()
            .map(|(key, defaults)| {
                let names = match configured.get(*key) {
                    Some(name) => vec![name.clone()],
                    None => defaults.iter().map(|s| s.to_string()).collect(),
                };
                (*key, names)
            })
            .collect();
        JsonFields { names }
    }

    fn get<'v>(&self, obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        self.names
            .get(key)?
            .iter()
            .find_map(|n| obj.get(n))
            .filter(|v| !v.is_null())
    }
}

/// Maps a JSON log object onto a request. The time and the status are required.
pub(crate) fn parse_json<'v>(value: &'v Value, fields: &JsonFields) -> Result<Request<'v>, String> {
    let obj = value.as_object().ok_or("not a JSON object")?;
    let text = |key: &str| {
        fields
            .get(obj, key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "-")
    };
    let number = |key: &str| -> Option<f64> {
        match fields.get(obj, key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    let time = match fields.get(obj, "time").ok_or("no time field")? {
        Value::String(s) => parse_time(s),
        Value::Number(n) => n.as_f64().and_then(epoch_time),
        _ => None,
    }
    .ok_or("unreadable or impossible time")?;
    let status = number("status")
        .filter(|s| (100.0..600.0).contains(s))
        .ok_or("no status, or not an HTTP status")? as u16;
    // nginx's $request_uri keeps the query on the path.
    let raw_path = text("path").unwrap_or("");
    let (path, query_in_path) = match raw_path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw_path, None),
    };
    Ok(Request {
        remote_addr: text("remote_addr").unwrap_or(""),
        user: text("user"),
        time,
        method: text("method"),
        path,
        query: text("query").or(query_in_path),
        protocol: text("protocol"),
        status,
        bytes: number("bytes").filter(|b| *b >= 0.0).map(|b| b as u64),
        referer: text("referer"),
        user_agent: text("user_agent"),
        latency: number("latency"),
    })
}

/// Where a line is: shown in the event's context and in dead letters.
pub(crate) struct LineAt<'a> {
    pub file: &'a str,
    pub line: u64,
    pub offset: u64,
}

/// One request → one `http_request` event with id `id`, its `context` and `metadata` written
/// straight to JSON (see [`Batch::json`](athena_core::Batch::json)): a log is
/// read by the million lines, and building maps cost more than parsing the line.
pub(crate) fn request_event(
    r: &Request<'_>,
    id: String,
    at: &LineAt<'_>,
    lossy: bool,
) -> (Event, EventJson) {
    let method = r.method.unwrap_or("-");
    // `METHOD path → status`, written without the formatting machinery (a log is read by the
    // million lines).
    let mut title = String::with_capacity(method.len() + r.path.len() + 10);
    title.push_str(method);
    title.push(' ');
    title.push_str(r.path);
    title.push_str(" → ");
    push_u64(&mut title, r.status.into());
    let mut event = Event::new(id, "http_request", r.time.with_timezone(&Utc), title);
    let remote_addr = (!r.remote_addr.is_empty()).then_some(r.remote_addr);
    event.actor = r.user.or(remote_addr).map(str::to_string);
    event.outcome = Some(match r.status {
        400..=499 => Outcome::ClientError,
        500..=599 => Outcome::ServerError,
        _ => Outcome::Success,
    });
    // Only the query joins the title in the full-text index: user agents and referers are
    // long, repetitive, and were half the cost of storing a request; they stay in metadata.
    if let Some(q) = r.query.map(str::trim_end).filter(|q| !q.is_empty()) {
        event.body = format!("query: {q}");
    }
    let mut context = JsonObject::with_capacity(at.file.len() + 80);
    context
        .str("file", at.file)
        .u64("line", at.line)
        .u64("offset", at.offset)
        .str(
            "time_offset",
            &offset_text(r.time.offset().local_minus_utc()),
        );
    let mut meta = JsonObject::with_capacity(
        160 + r.path.len()
            + r.query.map_or(0, str::len)
            + r.referer.map_or(0, str::len)
            + r.user_agent.map_or(0, str::len),
    );
    meta.opt_str("method", r.method)
        .str("path", r.path)
        .opt_str("query", r.query)
        .opt_str("protocol", r.protocol)
        .u64("status", r.status.into())
        .opt_u64("bytes", r.bytes)
        .opt_f64("latency", r.latency)
        .opt_str("remote_addr", remote_addr)
        .opt_str("user", r.user)
        .opt_str("referer", r.referer)
        .opt_str("user_agent", r.user_agent);
    if lossy {
        meta.bool("line_lossy", true);
    }
    let json = EventJson {
        context: context.finish(),
        metadata: meta.finish(),
    };
    (event, json)
}

/// A UTC offset in seconds as `+HH:MM` (`+HH:MM:SS` when it has seconds), as chrono shows it.
fn offset_text(seconds: i32) -> String {
    let two = |out: &mut String, n: u32| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    let s = seconds.unsigned_abs();
    let mut out = String::with_capacity(9);
    out.push(if seconds < 0 { '-' } else { '+' });
    // (An offset is under a day: the hours have two digits.)
    two(&mut out, s / 3600);
    out.push(':');
    two(&mut out, s / 60 % 60);
    if !s.is_multiple_of(60) {
        out.push(':');
        two(&mut out, s % 60);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_log::parse::parse_clf;

    /// The event with its JSON read back into its maps, as a store would show it.
    fn shown(r: &Request<'_>, id: &str, at: &LineAt<'_>) -> Event {
        let (mut e, json) = request_event(r, id.into(), at, false);
        e.context = serde_json::from_str(&json.context).unwrap();
        e.metadata = serde_json::from_str(&json.metadata).unwrap();
        e
    }

    #[test]
    fn offsets_read_as_chrono_shows_them() {
        for secs in [0, 7200, -7200, 19800, -34200, 45296, -1] {
            let chrono = chrono::FixedOffset::east_opt(secs).unwrap().to_string();
            assert_eq!(offset_text(secs), chrono, "{secs}");
        }
    }

    #[test]
    fn a_request_becomes_an_http_request_event() {
        let line = r#"10.0.0.1 - alice [01/Jan/2024:12:00:00 +0200] "GET /search?q=rust HTTP/1.1" 503 10 "-" "curl/8""#;
        let r = parse_clf(line, true).unwrap();
        let e = shown(
            &r,
            "fp:0",
            &LineAt {
                file: "a.log",
                line: 1,
                offset: 0,
            },
        );
        assert_eq!(e.kind, "http_request");
        assert_eq!(e.title, "GET /search → 503");
        assert_eq!(e.actor.as_deref(), Some("alice"));
        assert_eq!(e.outcome, Some(Outcome::ServerError));
        assert_eq!(e.occurred_at.to_rfc3339(), "2024-01-01T10:00:00+00:00");
        assert_eq!(e.context["time_offset"], "+02:00");
        assert_eq!(e.metadata["query"], "q=rust");
        assert_eq!(e.body, "query: q=rust");
        assert_eq!(e.metadata["user_agent"], "curl/8");
        assert!(e.metadata.get("referer").is_none());
        assert_eq!(e.metadata["status"], 503);
        assert_eq!(e.metadata["bytes"], 10);
        assert_eq!(e.context["file"], "a.log");
        assert_eq!(e.context["line"], 1);
    }

    #[test]
    fn json_lines_map_common_names_and_configured_ones() {
        let v: Value = serde_json::from_str(
            r#"{"time_iso8601":"2024-01-01T00:00:00+00:00","request_method":"POST","request_uri":"/api?x=1","status":"201","request_time":0.012,"remote_addr":"1.2.3.4","http_user_agent":"ua"}"#,
        )
        .unwrap();
        let fields = JsonFields::new(&BTreeMap::new());
        let r = parse_json(&v, &fields).unwrap();
        assert_eq!(
            (r.method, r.path, r.query, r.status),
            (Some("POST"), "/api", Some("x=1"), 201)
        );
        assert_eq!(r.latency, Some(0.012));
        assert_eq!(r.user_agent, Some("ua"));
        let custom = BTreeMap::from([
            ("time".to_string(), "when".to_string()),
            ("status".to_string(), "code".to_string()),
        ]);
        let v: Value =
            serde_json::from_str(r#"{"when":1700000000,"code":404,"path":"/x"}"#).unwrap();
        let r = parse_json(&v, &JsonFields::new(&custom)).unwrap();
        assert_eq!((r.status, r.time.timestamp()), (404, 1_700_000_000));
        let e = shown(
            &r,
            "id",
            &LineAt {
                file: "f",
                line: 2,
                offset: 9,
            },
        );
        assert_eq!(e.actor, None);
        assert_eq!(e.outcome, Some(Outcome::ClientError));
        assert_eq!(e.metadata["path"], "/x");
        assert!(e.metadata.get("method").is_none());
    }

    #[test]
    fn json_lines_without_time_or_status_are_rejected() {
        let fields = JsonFields::new(&BTreeMap::new());
        let v: Value = serde_json::from_str(r#"{"status":200}"#).unwrap();
        assert_eq!(parse_json(&v, &fields).unwrap_err(), "no time field");
        let v: Value =
            serde_json::from_str(r#"{"time":"2024-01-01T00:00:00Z","status":"ok"}"#).unwrap();
        assert!(parse_json(&v, &fields).unwrap_err().contains("status"));
        let v: Value = serde_json::from_str("[1]").unwrap();
        assert_eq!(parse_json(&v, &fields).unwrap_err(), "not a JSON object");
    }
}

/// Group names a `regex` pattern may use.
pub(crate) const REGEX_GROUPS: &[&str] = &[
    "time",
    "status",
    "remote_addr",
    "user",
    "method",
    "path",
    "query",
    "protocol",
    "bytes",
    "referer",
    "user_agent",
    "latency",
    "request",
];

/// Maps a regex match onto a request. `time` and `status` are required groups.
pub(crate) fn parse_regex<'l>(re: &regex::Regex, line: &'l str) -> Result<Request<'l>, String> {
    let caps = re.captures(line).ok_or("does not match the pattern")?;
    let text = |name: &str| {
        caps.name(name)
            .map(|m| m.as_str())
            .filter(|s| !s.is_empty() && *s != "-")
    };
    let time = text("time")
        .and_then(parse_time)
        .ok_or("unreadable or impossible time")?;
    let status: u16 = text("status")
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or("no status, or not an HTTP status")?;
    let (mut method, mut target, mut protocol) =
        (text("method"), text("path").unwrap_or(""), text("protocol"));
    if let Some(request) = text("request") {
        let mut parts = request.splitn(3, ' ');
        if let (Some(m), Some(t)) = (parts.next(), parts.next()) {
            method = method.or(Some(m));
            target = t;
            protocol = protocol.or(parts.next());
        } else {
            target = request;
        }
    }
    let (path, query_in_path) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    Ok(Request {
        remote_addr: text("remote_addr").unwrap_or(""),
        user: text("user"),
        time,
        method,
        path,
        query: text("query").or(query_in_path),
        protocol,
        status,
        bytes: text("bytes").and_then(|b| b.parse().ok()),
        referer: text("referer"),
        user_agent: text("user_agent"),
        latency: text("latency").and_then(|l| l.parse().ok()),
    })
}

#[cfg(test)]
mod regex_tests {
    use super::*;

    #[test]
    fn a_pattern_maps_named_groups() {
        let re = regex::Regex::new(
            r"^(?P<time>\S+) (?P<remote_addr>\S+) (?P<request>[^|]+)\|(?P<status>\d+)\|(?P<latency>[\d.]+)ms$",
        )
        .unwrap();
        let r = parse_regex(
            &re,
            "2024-05-01T10:00:00Z 9.9.9.9 GET /health?deep=1 HTTP/2|503|12.5ms",
        )
        .unwrap();
        assert_eq!(
            (r.method, r.path, r.query, r.protocol),
            (Some("GET"), "/health", Some("deep=1"), Some("HTTP/2"))
        );
        assert_eq!(
            (r.status, r.latency, r.remote_addr),
            (503, Some(12.5), "9.9.9.9")
        );
        assert_eq!(
            parse_regex(&re, "nope").unwrap_err(),
            "does not match the pattern"
        );
    }
}
