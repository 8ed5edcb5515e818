//! The questions recall answers, as the one set of parameter types that HTTP (a query string)
//! and MCP (a tool's JSON arguments) both parse into. Their doc comments are the descriptions
//! in `/openapi.json` and in each tool's input schema.
//!
//! Two steps, each refusing the same way whatever the front end:
//! - deserializing checks what a schema can say (a known name, the type, an enum value, a
//!   `limit` from 1 to [`MAX_LIMIT`]): HTTP answers 400, MCP -32602 Invalid params;
//! - [`EventsParams::resolve`] and [`TimelineParams::resolve`] check what needs the query (a
//!   time that parses, `since` not after `until`, a cursor of this query, no NUL): a
//!   [`ParamError`], which HTTP answers 400 and MCP as the tool's error, in the same words.

use std::borrow::Cow;

use athena_core::recall::{Bucket, Order, PageCursor, PageCursorError, PageQuery, QueryKey};
use athena_core::time::{check_window, parse_time_arg};
use athena_core::{EventQuery, Outcome};
use chrono::{DateTime, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The largest `limit`; a larger one is refused.
pub const MAX_LIMIT: u32 = 1000;
/// `limit` when not given.
pub const DEFAULT_LIMIT: u32 = 50;

/// A parameter that cannot be used, and why: `parameter <param>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter's name, as the caller gave it.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

impl ParamError {
    pub(crate) fn new(param: &str, message: impl Into<String>) -> Self {
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

impl std::error::Error for ParamError {}

/// A time as `since` and `until` take it: RFC 3339, a date, or how long ago. Read when the
/// query is resolved (a relative time counts back from then).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct TimeArg(pub String);

impl JsonSchema for TimeArg {
    fn schema_name() -> Cow<'static, str> {
        "TimeArg".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01, midnight UTC), or that long before now: a number and s, m, min, h, d or w (7d, 12h).",
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
                {"type": "string", "pattern": "^[0-9]{1,6}(s|m|min|h|d|w)$"}
            ]
        })
    }
}

/// How many events a page holds: 1 to [`MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// The number.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl Default for Limit {
    fn default() -> Self {
        Limit(DEFAULT_LIMIT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        if (1..=MAX_LIMIT).contains(&n) {
            Ok(Limit(n))
        } else {
            Err(serde::de::Error::custom(format!(
                "{n} is not a number from 1 to {MAX_LIMIT}"
            )))
        }
    }
}

impl JsonSchema for Limit {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})
    }
}

/// `order`: newest or oldest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderParam {
    /// Newest first.
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

/// `format`: the shape of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// As `events --format jsonl` prints it.
    #[default]
    Jsonl,
    /// As Athena's `EpisodicEvent`.
    Athena,
}

/// `outcome`: how an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeParam {
    /// It worked.
    Success,
    /// It did not.
    Failure,
    /// The client asked for something wrong (HTTP 4xx).
    ClientError,
    /// The server failed (HTTP 5xx).
    ServerError,
}

impl From<OutcomeParam> for Outcome {
    fn from(o: OutcomeParam) -> Outcome {
        match o {
            OutcomeParam::Success => Outcome::Success,
            OutcomeParam::Failure => Outcome::Failure,
            OutcomeParam::ClientError => Outcome::ClientError,
            OutcomeParam::ServerError => Outcome::ServerError,
        }
    }
}

/// `bucket`: the width of a timeline's buckets (UTC; weeks start on Monday; months are
/// calendar months).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BucketParam {
    /// Hours.
    Hour,
    /// Days.
    #[default]
    Day,
    /// Weeks, from Monday.
    Week,
    /// Calendar months.
    Month,
}

impl From<BucketParam> for Bucket {
    fn from(b: BucketParam) -> Bucket {
        match b {
            BucketParam::Hour => Bucket::Hour,
            BucketParam::Day => Bucket::Day,
            BucketParam::Week => Bucket::Week,
            BucketParam::Month => Bucket::Month,
        }
    }
}

/// A page of events: `GET /v1/events` and the MCP tool `search_events`. Every filter is
/// optional; those given all apply.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EventsParams {
    /// Occurred at or after this time: RFC 3339, a date (midnight UTC), or that long ago (`7d`, `12h`, `30m`, `45s`, `2w`).
    pub since: Option<TimeArg>,
    /// Occurred before this time: as `since`; `since` after `until` is refused.
    pub until: Option<TimeArg>,
    /// Only these source ids: one, or a list (over HTTP, repeat the parameter for more).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<String>")]
    pub source: Vec<String>,
    /// Only these kinds, e.g. `commit`, `file_modified`, `http_request`, `issue_opened`, `message`: one, or a list (over HTTP, repeatable).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<String>")]
    pub kind: Vec<String>,
    /// Only events that ended this way: `success`, `failure`, `client_error` (HTTP 4xx) or `server_error` (HTTP 5xx): one, or a list (over HTTP, repeatable). Events without an outcome never match.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<OutcomeParam>")]
    pub outcome: Vec<OutcomeParam>,
    /// The actor contains this text (case-insensitive).
    pub actor: Option<String>,
    /// Only events naming this person, as actor or otherwise, across sources: any of their handles (`ada@corp.com`, `github:ada-l`, `slack:U024BE7LH`) or their person id (`GET /v1/people`).
    pub person: Option<String>,
    /// Full-text search over title and body. Plain words must all match (any characters: `status:500` is a word); syntax: "a phrase", OR, AND, NOT, prefix*, title:word, body:word, NEAR(a b, 5), parentheses. When no event has every plain word, the page holds the events with any of them, best match first, and says so (`match`: `any`, `note`). Text that is not valid syntax (an unclosed quote) is refused naming `q`, with advice.
    pub q: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: OrderParam,
    /// At most this many events: 1 to 1000, default 50.
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page, opaque; bound to the query it came from: with other filters (`since`, `until`, `source`, `kind`, `outcome`, `actor`, `person`, `q`) or another `order` it is refused naming `cursor`.
    #[schemars(regex(pattern = r"^[ad][0-9a-f]{1,16}\.[0-9a-f]{1,16}\.[0-9a-f]{8}$"))]
    pub cursor: Option<String>,
    /// `jsonl` (events as `events --format jsonl` prints them, the default) or `athena` (Athena's `EpisodicEvent`).
    pub format: Format,
    /// Whether each event (`format` jsonl) carries its `metadata`, the source-specific details (hashes, sizes, ids). Over HTTP the default is `true`; over MCP `false`, to keep a page small: `get_event` shows one event in full.
    pub include_metadata: Option<bool>,
}

/// A page query, resolved: what the store is asked, and how to answer.
#[derive(Debug, Clone)]
pub struct EventsQuery {
    /// The page.
    pub page: PageQuery,
    /// What the page's `next_cursor` is bound to.
    pub key: QueryKey,
    /// The shape of each event.
    pub format: Format,
    /// Whether each event carries its `metadata`.
    pub metadata: bool,
}

impl EventsParams {
    /// The query these parameters ask, with relative times counted back from `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<EventsQuery, ParamError> {
        let mut filter = filter(&self.since, &self.until, &self.source, &self.kind, now)?;
        filter.outcomes = outcomes(&self.outcome);
        filter.actor = text("actor", &self.actor)?;
        filter.person = text("person", &self.person)?;
        filter.search = text("q", &self.q)?;
        let order = match self.order {
            OrderParam::Desc => Order::Desc,
            OrderParam::Asc => Order::Asc,
        };
        let key = QueryKey::new(&filter, time_text(&self.since), time_text(&self.until));
        let after = (text("cursor", &self.cursor)?)
            .map(|c| PageCursor::parse(&c, order, key).map_err(|e| cursor_error(e, order)))
            .transpose()?;
        Ok(EventsQuery {
            page: PageQuery {
                filter,
                order,
                after,
                limit: self.limit.unwrap_or_default().get(),
            },
            key,
            format: self.format,
            metadata: self.include_metadata.unwrap_or(true),
        })
    }
}

/// One event: `GET /v1/events/{source}/{id}` and the MCP tool `get_event`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// The event's source id (its `source_id`).
    pub source: String,
    /// The event's id (its `id`).
    pub id: String,
    /// `jsonl` (as `events --format jsonl` prints it, the default) or `athena`.
    #[serde(default)]
    pub format: Format,
}

/// The people: `GET /v1/people` and the MCP tool `find_person`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PeopleParams {
    /// Only the people with a handle, an id or a name containing this text (case-insensitive): `ada`, `ada@corp.com`, `github:ada-l`. Omit for everyone.
    pub q: Option<String>,
}

impl PeopleParams {
    /// The text to match, checked (no NUL).
    pub fn query(&self) -> Result<Option<String>, ParamError> {
        text("q", &self.q)
    }
}

/// An event's related events: `GET /v1/events/{source}/{id}/related` and the MCP tool
/// `related_events`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatedParams {
    /// The event's source id (its `source_id`).
    pub source: String,
    /// The event's id (its `id`).
    pub id: String,
    /// At most this many related events, the newest first (default 50).
    #[serde(default)]
    pub limit: Option<Limit>,
    /// `jsonl` (as `events --format jsonl` prints it, the default) or `athena`.
    #[serde(default)]
    pub format: Format,
}

/// Counts per bucket: `GET /v1/timeline` and the MCP tool `timeline`. It takes the filters of
/// [`EventsParams`] (not its paging, order or format), so a chart counts what a list shows.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TimelineParams {
    /// Occurred at or after this time: RFC 3339, a date, or that long ago (`7d`). Omit for all stored history.
    pub since: Option<TimeArg>,
    /// Occurred before this time: as `since`.
    pub until: Option<TimeArg>,
    /// Only these source ids: one, or a list (over HTTP, repeatable).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<String>")]
    pub source: Vec<String>,
    /// Only these kinds: one, or a list (over HTTP, repeatable).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<String>")]
    pub kind: Vec<String>,
    /// Only events that ended this way: `success`, `failure`, `client_error` or `server_error`: one, or a list (over HTTP, repeatable).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<OutcomeParam>")]
    pub outcome: Vec<OutcomeParam>,
    /// The actor contains this text (case-insensitive).
    pub actor: Option<String>,
    /// Only events naming this person, as actor or otherwise, across sources: any of their handles (`ada@corp.com`, `github:ada-l`, `slack:U024BE7LH`) or their person id (`GET /v1/people`).
    pub person: Option<String>,
    /// Full-text search over title and body, as `/v1/events` reads it: only matching events are counted. When no event has every plain word, the events with any of them are counted, and the answer says so (`match`: `any`, `note`).
    pub q: Option<String>,
    /// `hour`, `day` (the default), `week` (starting Monday) or `month` (calendar months); UTC.
    pub bucket: BucketParam,
}

impl TimelineParams {
    /// The filter and bucket these parameters ask, with relative times counted back from
    /// `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<(EventQuery, Bucket), ParamError> {
        let mut filter = filter(&self.since, &self.until, &self.source, &self.kind, now)?;
        filter.outcomes = outcomes(&self.outcome);
        filter.actor = text("actor", &self.actor)?;
        filter.person = text("person", &self.person)?;
        filter.search = text("q", &self.q)?;
        Ok((filter, self.bucket.into()))
    }
}

/// The schema of a list parameter that also takes one value alone: `"kind": "commit"` is
/// `"kind": ["commit"]` (agents often send the one value they have).
pub struct OneOrMany<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let item = generator.subschema_for::<T>();
        json_schema!({"anyOf": [item, {"type": "array", "items": item}]})
    }
}

/// A list, or one value alone as a list of one.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Values<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Values<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a list of them")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|one| vec![one])
        }

        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<T>, S::Error> {
            let mut all = Vec::new();
            while let Some(one) = seq.next_element()? {
                all.push(one);
            }
            Ok(all)
        }
    }

    d.deserialize_any(Values(std::marker::PhantomData))
}

/// No parameters: `GET /v1/sources` and the MCP tool `list_sources`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The part of the filter both questions build alike: `since`, `until`, `source`, `kind`.
fn filter(
    since: &Option<TimeArg>,
    until: &Option<TimeArg>,
    sources: &[String],
    kinds: &[String],
    now: DateTime<Utc>,
) -> Result<EventQuery, ParamError> {
    let since = time("since", since, now)?;
    let until = time("until", until, now)?;
    check_window(since, until, "until").map_err(|m| ParamError::new("since", m))?;
    Ok(EventQuery {
        sources: texts("source", sources)?,
        kinds: texts("kind", kinds)?,
        since,
        until,
        ..EventQuery::default()
    })
}

fn outcomes(params: &[OutcomeParam]) -> Vec<Outcome> {
    params.iter().map(|&o| o.into()).collect()
}

fn time_text(arg: &Option<TimeArg>) -> Option<&str> {
    arg.as_ref().map(|t| t.0.as_str())
}

fn time(
    name: &str,
    arg: &Option<TimeArg>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ParamError> {
    let Some(text) = text(name, &arg.as_ref().map(|t| t.0.clone()))? else {
        return Ok(None);
    };
    parse_time_arg(&text, now)
        .map(Some)
        .map_err(|m| ParamError::new(name, m))
}

/// A text no stored text can match with a NUL in it, and SQLite would cut it there
/// (`actor=%00` matched every event): refused.
fn text(name: &str, value: &Option<String>) -> Result<Option<String>, ParamError> {
    match value {
        Some(v) if v.contains('\0') => Err(ParamError::new(
            name,
            "holds a NUL character (%00), which no stored text can match",
        )),
        other => Ok(other.clone()),
    }
}

fn texts(name: &str, values: &[String]) -> Result<Vec<String>, ParamError> {
    (values.iter())
        .map(|v| text(name, &Some(v.clone())).map(Option::unwrap_or_default))
        .collect()
}

fn cursor_error(e: PageCursorError, order: Order) -> ParamError {
    let message = match e {
        PageCursorError::Order(theirs) => format!(
            "this cursor continues a page in {} order, and order is {} (pass order={} with it)",
            theirs.as_str(),
            order.as_str(),
            theirs.as_str()
        ),
        other => other.to_string(),
    };
    ParamError::new("cursor", message)
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
