//! The query strings of the recall API, parsed by hand so that every refusal is a 400 naming
//! its parameter: an unknown parameter (a typo such as `sources=` would otherwise widen the
//! answer silently), a repeated one that takes one value, and a value that does not parse.

use athena_core::recall::{Bucket, Order, PageCursor, PageCursorError, PageQuery, QueryKey};
use athena_core::time::{check_window, parse_time_arg};
use athena_core::EventQuery;
use chrono::{DateTime, Utc};

/// The largest `limit`.
pub(crate) const MAX_LIMIT: usize = 1000;
/// `limit` when not given.
pub(crate) const DEFAULT_LIMIT: usize = 50;

/// A parameter that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamError {
    /// The parameter's name as given.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

impl ParamError {
    fn new(param: &str, message: impl Into<String>) -> Self {
        ParamError {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parameter {}: {}", self.param, self.message)
    }
}

/// How `/v1/events` writes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// As `events --format jsonl` prints it.
    #[default]
    Jsonl,
    /// As Athena's `EpisodicEvent` (see [`super::athena`]).
    Athena,
}

/// What `/v1/events` asks for.
#[derive(Debug)]
pub(crate) struct EventsParams {
    pub page: PageQuery,
    /// What the page's `next_cursor` is bound to.
    pub key: QueryKey,
    pub format: Format,
}

/// What `/v1/timeline` asks for.
#[derive(Debug)]
pub(crate) struct TimelineParams {
    pub filter: EventQuery,
    pub bucket: Bucket,
}

/// The decoded pairs of a query string, checked against the names an endpoint takes.
struct Pairs(Vec<(String, String)>);

/// `+` as a space, then percent-decoded: the bytes a form-encoded piece stands for.
fn decode(piece: &str) -> Vec<u8> {
    let spaced = piece.replace('+', " ");
    percent_encoding::percent_decode(spaced.as_bytes()).collect()
}

impl Pairs {
    /// Refuses, naming the parameter: an unknown name, and a value that is not UTF-8 once
    /// decoded (read leniently, `%ff` would become a replacement character and match
    /// nothing) or holds a NUL (SQLite would cut the text there: `actor=%00` matched every
    /// event).
    fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, ParamError> {
        let mut pairs = Vec::new();
        for piece in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = String::from_utf8_lossy(&decode(name)).into_owned();
            // `_` is a browser's cache-buster (`?_=1700000000000`): it asks for nothing, so
            // it is let through rather than refused as a typo.
            if name == "_" {
                continue;
            }
            if !known.contains(&name.as_str()) {
                let takes = if known.is_empty() {
                    "no parameters".to_string()
                } else {
                    known.join(", ")
                };
                return Err(ParamError::new(
                    &name,
                    format!("unknown parameter (this endpoint takes {takes})"),
                ));
            }
            let value = String::from_utf8(decode(value)).map_err(|_| {
                ParamError::new(
                    &name,
                    format!("{value:?} is not UTF-8 once percent-decoded"),
                )
            })?;
            if value.contains('\0') {
                return Err(ParamError::new(
                    &name,
                    "holds a NUL character (%00), which no stored text can match",
                ));
            }
            pairs.push((name, value));
        }
        Ok(Pairs(pairs))
    }

    fn all(&self, name: &str) -> Vec<String> {
        (self.0.iter())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(ParamError::new(name, "given more than once"));
        }
        Ok(first)
    }

    fn parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ParamError> {
        self.one(name)?
            .map(|v| parse(v).map_err(|m| ParamError::new(name, m)))
            .transpose()
    }

    fn time(&self, name: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ParamError> {
        self.parsed(name, |v| parse_time_arg(v, now))
    }
}

/// The filter both endpoints share: `since`, `until`, `source`, `kind`.
fn filter(pairs: &Pairs, now: DateTime<Utc>) -> Result<EventQuery, ParamError> {
    let since = pairs.time("since", now)?;
    let until = pairs.time("until", now)?;
    check_window(since, until, "until").map_err(|m| ParamError::new("since", m))?;
    Ok(EventQuery {
        sources: pairs.all("source"),
        kinds: pairs.all("kind"),
        since,
        until,
        ..EventQuery::default()
    })
}

/// The parameters of `GET /v1/events`.
pub(crate) fn events(raw: Option<&str>, now: DateTime<Utc>) -> Result<EventsParams, ParamError> {
    const KNOWN: &[&str] = &[
        "since", "until", "source", "kind", "actor", "q", "order", "limit", "cursor", "format",
    ];
    let pairs = Pairs::parse(raw, KNOWN)?;
    let mut filter = filter(&pairs, now)?;
    filter.actor = pairs.one("actor")?.map(str::to_string);
    filter.search = pairs.one("q")?.map(str::to_string);
    let order: Order = pairs.parsed("order", str::parse)?.unwrap_or_default();
    let limit = pairs
        .parsed("limit", |v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("{v:?} is not a number from 1 to {MAX_LIMIT}"))
        })?
        .unwrap_or(DEFAULT_LIMIT);
    let key = QueryKey::new(&filter, pairs.one("since")?, pairs.one("until")?);
    let after = pairs.parsed("cursor", |v| {
        PageCursor::parse(v, order, key).map_err(|e| match e {
            PageCursorError::Order(theirs) => format!(
                "this cursor continues a page in {} order, and order is {} (pass order={} with it)",
                theirs.as_str(),
                order.as_str(),
                theirs.as_str()
            ),
            other => other.to_string(),
        })
    })?;
    let format = format(&pairs)?;
    Ok(EventsParams {
        key,
        page: PageQuery {
            filter,
            order,
            after,
            limit,
        },
        format,
    })
}

fn format(pairs: &Pairs) -> Result<Format, ParamError> {
    Ok(pairs
        .parsed("format", |v| match v {
            "jsonl" => Ok(Format::Jsonl),
            "athena" => Ok(Format::Athena),
            _ => Err(format!("{v:?} is not a format: use jsonl or athena")),
        })?
        .unwrap_or_default())
}

/// The parameters of `GET /v1/events/{source}/{id}`: the format only.
pub(crate) fn event(raw: Option<&str>) -> Result<Format, ParamError> {
    format(&Pairs::parse(raw, &["format"])?)
}

/// An endpoint that takes no parameters refuses any.
pub(crate) fn none(raw: Option<&str>) -> Result<(), ParamError> {
    Pairs::parse(raw, &[]).map(|_| ())
}

/// The parameters of `GET /v1/timeline`.
pub(crate) fn timeline(
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TimelineParams, ParamError> {
    const KNOWN: &[&str] = &["since", "until", "source", "kind", "bucket"];
    let pairs = Pairs::parse(raw, KNOWN)?;
    Ok(TimelineParams {
        filter: filter(&pairs, now)?,
        bucket: pairs.parsed("bucket", str::parse)?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-05-10T12:00:00Z".parse().unwrap()
    }

    fn err(r: Result<EventsParams, ParamError>) -> ParamError {
        r.expect_err("refused")
    }

    #[test]
    fn repeatable_filters_defaults_and_values() {
        let p = events(
            Some("source=a&source=b%2Fc&kind=commit&actor=ada&q=fix+bug&since=7d&until=2024-05-09&order=asc&limit=3&format=athena"),
            now(),
        )
        .unwrap();
        assert_eq!(p.page.filter.sources, ["a", "b/c"]);
        assert_eq!(p.page.filter.kinds, ["commit"]);
        assert_eq!(p.page.filter.actor.as_deref(), Some("ada"));
        assert_eq!(p.page.filter.search.as_deref(), Some("fix bug"));
        assert_eq!(
            p.page.filter.since.unwrap().to_rfc3339(),
            "2024-05-03T12:00:00+00:00"
        );
        assert_eq!(p.page.order, Order::Asc);
        assert_eq!(p.page.limit, 3);
        assert_eq!(p.format, Format::Athena);
        let d = events(None, now()).unwrap();
        assert_eq!(
            (d.page.order, d.page.limit, d.format),
            (Order::Desc, 50, Format::Jsonl)
        );
        assert!(d.page.after.is_none());
    }

    #[test]
    fn a_cache_buster_is_let_through_and_a_typo_is_not() {
        let now = chrono::Utc::now();
        assert!(events(Some("limit=3&_=1700000000000"), now).is_ok());
        assert!(timeline(Some("_=1"), now).is_ok());
        assert!(events(Some("limit=3&__=1"), now).is_err());
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (query, param) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=x", "limit"),
            ("limit=1&limit=2", "limit"),
            ("order=up", "order"),
            ("since=yesterday", "since"),
            ("until=2024-02-30", "until"),
            ("cursor=zzz", "cursor"),
            ("cursor=a1.2", "cursor"),
            ("format=xml", "format"),
            ("sources=a", "sources"),
        ] {
            assert_eq!(err(events(Some(query), now())).param, param, "{query}");
        }
        let cursor = PageCursor {
            order: Order::Asc,
            occurred_at_ms: 1,
            seq: 2,
        }
        .to_text(QueryKey::new(&EventQuery::default(), None, None));
        assert!(events(Some(&format!("order=asc&cursor={cursor}")), now()).is_ok());
        assert_eq!(
            err(events(Some(&format!("cursor={cursor}")), now())).param,
            "cursor"
        );
        let t = timeline(Some("bucket=year"), now()).unwrap_err();
        assert_eq!(t.param, "bucket");
        assert_eq!(timeline(Some("q=x"), now()).unwrap_err().param, "q");
        assert_eq!(event(Some("format=athena")), Ok(Format::Athena));
        assert_eq!(event(Some("limit=1")).unwrap_err().param, "limit");
        assert_eq!(none(Some("a=1")).unwrap_err().param, "a");
        assert!(none(None).is_ok());
        assert_eq!(
            timeline(Some("bucket=week&source=a"), now())
                .unwrap()
                .bucket,
            Bucket::Week
        );
        assert_eq!(
            timeline(Some("bucket=month"), now()).map(|t| t.bucket).ok(),
            Some(Bucket::Month)
        );
    }

    /// `actor=%00` matched every event, and `q=%ff%fe` was read as two replacement
    /// characters (200, nothing found) where the event route answers 400.
    #[test]
    fn regression_a_nul_or_a_value_that_is_not_utf8_is_refused_naming_its_parameter() {
        for (query, param) in [
            ("actor=%00", "actor"),
            ("actor=a%00b", "actor"),
            ("q=%ff%fe", "q"),
            ("q=fix+%c3", "q"),
            ("source=%80", "source"),
            ("kind=%00", "kind"),
            ("since=%ff", "since"),
            ("cursor=%ff", "cursor"),
        ] {
            let e = err(events(Some(query), now()));
            assert_eq!(e.param, param, "{query}");
        }
        assert_eq!(
            timeline(Some("source=%00"), now()).unwrap_err().param,
            "source"
        );
        assert_eq!(event(Some("format=%ff")).unwrap_err().param, "format");
        // Percent-encoded UTF-8, and `+` as a space, are read as before.
        let p = events(Some("actor=J%C3%B6rg&q=fix+bug%21"), now()).unwrap();
        assert_eq!(p.page.filter.actor.as_deref(), Some("Jörg"));
        assert_eq!(p.page.filter.search.as_deref(), Some("fix bug!"));
    }

    /// `since` after `until` answered 200 with nothing.
    #[test]
    fn regression_since_after_until_is_refused_naming_both() {
        for q in ["since=2024-05-02&until=2024-05-01", "since=1d&until=2d"] {
            let e = err(events(Some(q), now()));
            assert_eq!(e.param, "since", "{q}");
            assert!(e.message.contains("after until"), "{q}: {e}");
            assert_eq!(timeline(Some(q), now()).unwrap_err().param, "since");
        }
        assert!(events(Some("since=2024-05-01&until=2024-05-01"), now()).is_ok());
    }
}
