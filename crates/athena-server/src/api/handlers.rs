//! The recall endpoints: each parses its request (see [`super::params`]), reads the store on
//! a blocking thread (the runtime has two workers, and a SQLite query blocks), and answers
//! JSON; every refusal is `{"error": "…"}` with a 4xx, a store that cannot be read a 5xx.

use athena_core::recall::{QueryBudget, Recall, Spent};
use athena_core::{Registry, StoreError};
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::openapi::{
    BucketParam, ErrorBody, EventOrAthena, EventsPage, FormatParam, OrderParam, SourcesBody,
    TimeArg, TimelineBody,
};
use super::params::{self, Format, ParamError};
use super::RecallState;
use crate::recall::{Cost, RecallService, Refused};

/// Why a request got no data.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A parameter that cannot be used.
    Param(ParamError),
    /// No such event.
    NotFound(String),
    /// The store refused or failed.
    Store(StoreError),
    /// Every store connection is taken and the queue is full.
    Busy {
        /// When to ask again.
        retry_after: std::time::Duration,
    },
    /// The query was stopped: past its time limit, or the server is stopping.
    Spent(Spent),
    /// The blocking task died (a panic in a query).
    Internal,
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError::Param(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Only the full-text query can be malformed: `q` is its parameter.
            StoreError::Query(message) => ApiError::Param(ParamError {
                param: "q".into(),
                message: format!("not a full-text query SQLite accepts: {message}"),
            }),
            e @ StoreError::TooCostly(_) => ApiError::Param(ParamError {
                param: "q".into(),
                message: e.to_string(),
            }),
            other => ApiError::Store(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Param(e) => (StatusCode::BAD_REQUEST, e.to_string()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            // Busy or locked: worth trying again; the message names the store, nothing else.
            ApiError::Store(e @ (StoreError::Busy { .. } | StoreError::Backend(_))) => {
                tracing::warn!("recall: reading the store: {e}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the store cannot be read now: {e}"),
                )
            }
            ApiError::Store(e) => {
                tracing::warn!("recall: reading the store: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the store cannot be read: {e}"),
                )
            }
            ApiError::Busy { retry_after } => {
                let mut response = json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({ "error": "recall is busy: every store connection is taken and the queue is full; try again shortly" }),
                );
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(retry_after.as_secs().max(1)),
                );
                return response;
            }
            ApiError::Spent(spent @ Spent::TimedOut(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{spent}, and was stopped: narrow it (a shorter window, rarer words, fewer terms, a smaller limit)"),
            ),
            ApiError::Spent(spent) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{spent}: the server is stopping"),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the query failed unexpectedly (see the server's log)".to_string(),
            ),
        };
        json_response(status, &json!({ "error": message }))
    }
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    json_text(status, value.to_string())
}

fn json_text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Runs `f` over the store through the recall service (a bounded pool, a queue, a budget).
async fn read<T: Send + 'static>(
    service: &RecallService,
    cost: Cost,
    f: impl FnOnce(&dyn Recall, &QueryBudget) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    service.run(cost, f).await.map_err(|refused| match refused {
        Refused::Busy { retry_after } => ApiError::Busy { retry_after },
        Refused::Spent(spent) => ApiError::Spent(spent),
        Refused::Store(e) => ApiError::from(e),
        Refused::Panicked => ApiError::Internal,
    })
}

fn event_json(e: &athena_core::Event, format: Format, registry: &Registry) -> Value {
    match format {
        Format::Jsonl => serde_json::to_value(e).unwrap_or(Value::Null),
        Format::Athena => crate::recall::athena_event(e, registry),
    }
}

/// A page of events, newest first unless `order=asc`.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "recall",
    operation_id = "events",
    params(
        ("since" = Option<TimeArg>, Query, description = "Occurred at or after: RFC 3339, a date (midnight UTC), or that long ago (`7d`, `12h`, `30m`, `45s`, `2w`)."),
        ("until" = Option<TimeArg>, Query, description = "Occurred before: as `since`; `since` after `until` is a 400."),
        ("source" = Option<Vec<String>>, Query, style = Form, explode, description = "Only these source ids (repeat the parameter for more)."),
        ("kind" = Option<Vec<String>>, Query, style = Form, explode, description = "Only these kinds, e.g. `commit` (repeatable)."),
        ("actor" = Option<String>, Query, description = "The actor contains this text (case-insensitive)."),
        ("q" = Option<String>, Query, description = "Full-text search over title and body, in SQLite FTS5 syntax; a query FTS5 cannot parse is a 400 naming `q`."),
        ("order" = Option<OrderParam>, Query, description = "`desc` (newest first, the default) or `asc`."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many events (default 50)."),
        ("cursor" = Option<String>, Query, pattern = "^[ad][0-9a-f]{1,16}\\.[0-9a-f]{1,16}\\.[0-9a-f]{8}$", description = "The `next_cursor` of the previous page, opaque; it is bound to the query it came from: with other filters (`since`, `until`, `source`, `kind`, `actor`, `q`) or another `order` it is a 400 naming `cursor`."),
        ("format" = Option<FormatParam>, Query, description = "`jsonl` (events as `events --format jsonl` prints them, the default) or `athena` (Athena's `EpisodicEvent`)."),
    ),
    responses(
        (status = 200, description = "A page of events, and the cursor of the next page (`null` on the last).", body = EventsPage),
        (status = 400, description = "A parameter is unknown, repeated or malformed (not UTF-8 once decoded, or holding a NUL), or `since` is after `until`; `error` names it.", body = ErrorBody),
        (status = 401, description = "`[serve] api_token` is set and the request does not carry it.", body = ErrorBody),
        (status = 500, description = "The store cannot be read.", body = ErrorBody),
        (status = 503, description = "The store is busy; try again.", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<RecallState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = params::events(query.as_deref(), chrono::Utc::now())?;
    let (format, key) = (params.format, params.key);
    // Rendered on the blocking thread too: a page of 1000 events is milliseconds of work
    // that would stall one of the runtime's two workers (and /healthz with it).
    let filter = &params.page.filter;
    let reads_many = filter.search.is_some() || filter.actor.is_some();
    let cost = Cost::page(params.page.limit, reads_many);
    let registry = state.registry.clone();
    let body = read(&state.service, cost, move |r, budget| {
        let page = r.page(&params.page, budget)?;
        let events: Vec<Value> = page
            .events
            .iter()
            .map(|e| event_json(e, format, &registry))
            .collect();
        let next = page.next.map(|c| c.to_text(key));
        Ok(json!({ "events": events, "next_cursor": next }).to_string())
    })
    .await?;
    Ok(json_text(StatusCode::OK, body))
}

/// One event by its source and id.
#[utoipa::path(
    get,
    path = "/v1/events/{source}/{id}",
    tag = "recall",
    operation_id = "event",
    params(
        ("source" = String, Path, description = "The event's source id."),
        ("id" = String, Path, description = "The event's id, percent-encoded (ids hold `/` and `:`)."),
        ("format" = Option<FormatParam>, Query, description = "`jsonl` (as `events --format jsonl` prints it, the default) or `athena`."),
    ),
    responses(
        (status = 200, description = "The event, in the shape `format` asked for.", body = EventOrAthena),
        (status = 400, description = "A path segment is not UTF-8 once decoded, or a parameter is unknown or malformed; `error` names it.", body = ErrorBody),
        (status = 401, description = "`[serve] api_token` is set and the request does not carry it.", body = ErrorBody),
        (status = 404, description = "No such event.", body = ErrorBody),
        (status = 500, description = "The store cannot be read.", body = ErrorBody),
        (status = 503, description = "The store is busy; try again.", body = ErrorBody),
    )
)]
pub(crate) async fn event(
    State(state): State<RecallState>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let format = params::event(query.as_deref())?;
    // axum has percent-decoded them; one that is not UTF-8 once decoded is refused.
    let params = params.map_err(|e| {
        let text = e.body_text();
        let param = text.split('`').nth(1).unwrap_or("id").to_string();
        ParamError {
            param,
            message: "not UTF-8 once percent-decoded".into(),
        }
    })?;
    let mut source = String::new();
    let mut id = String::new();
    for (name, value) in &params {
        match name {
            "source" => source = value.to_string(),
            _ => id = value.to_string(),
        }
    }
    let (s, i) = (source.clone(), id.clone());
    match read(&state.service, Cost::ONE, move |r, b| r.event(&s, &i, b)).await? {
        Some(e) => Ok(json_response(
            StatusCode::OK,
            &event_json(&e, format, &state.registry),
        )),
        None => Err(ApiError::NotFound(format!(
            "no event {id:?} of source {source:?} in the store"
        ))),
    }
}

/// Every source the store knows: exactly what `status --format json` prints.
#[utoipa::path(
    get,
    path = "/v1/sources",
    tag = "recall",
    operation_id = "sources",
    responses(
        (status = 200, description = "Per source: cursor, events, last sync and last error.", body = SourcesBody),
        (status = 400, description = "A parameter was given: this endpoint takes none.", body = ErrorBody),
        (status = 401, description = "`[serve] api_token` is set and the request does not carry it.", body = ErrorBody),
        (status = 500, description = "The store cannot be read.", body = ErrorBody),
        (status = 503, description = "The store is busy; try again.", body = ErrorBody),
    )
)]
pub(crate) async fn sources(
    State(state): State<RecallState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    // It takes none, and says so rather than ignoring one.
    params::none(query.as_deref())?;
    let status = read(&state.service, Cost::ONE, |r, b| r.sources(b)).await?;
    Ok(json_response(
        StatusCode::OK,
        &crate::recall::status_json(&status),
    ))
}

/// Counts of events per time bucket and source, oldest bucket first.
#[utoipa::path(
    get,
    path = "/v1/timeline",
    tag = "recall",
    operation_id = "timeline",
    params(
        ("since" = Option<TimeArg>, Query, description = "Occurred at or after: RFC 3339, a date, or that long ago (`7d`)."),
        ("until" = Option<TimeArg>, Query, description = "Occurred before: as `since`."),
        ("bucket" = Option<BucketParam>, Query, description = "`hour`, `day` (the default), `week` (starting Monday) or `month` (calendar months); UTC."),
        ("source" = Option<Vec<String>>, Query, style = Form, explode, description = "Only these source ids (repeatable)."),
        ("kind" = Option<Vec<String>>, Query, style = Form, explode, description = "Only these kinds (repeatable)."),
    ),
    responses(
        (status = 200, description = "Buckets that hold events, oldest first, one row per source.", body = TimelineBody),
        (status = 400, description = "A parameter is unknown, repeated or malformed (not UTF-8 once decoded, or holding a NUL), or `since` is after `until`; `error` names it.", body = ErrorBody),
        (status = 401, description = "`[serve] api_token` is set and the request does not carry it.", body = ErrorBody),
        (status = 500, description = "The store cannot be read.", body = ErrorBody),
        (status = 503, description = "The store is busy; try again.", body = ErrorBody),
    )
)]
pub(crate) async fn timeline(
    State(state): State<RecallState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = params::timeline(query.as_deref(), chrono::Utc::now())?;
    let bucket = params.bucket;
    // Hours over years are many rows: rendered off the runtime's workers, as a page is.
    let body = read(&state.service, Cost::TIMELINE, move |r, budget| {
        let counts: Vec<Value> = (r.timeline(&params.filter, bucket, budget)?.iter())
            .map(|c| {
                json!({
                    "start": c.start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    "source": c.source_id,
                    "count": c.count,
                })
            })
            .collect();
        Ok(json!({ "bucket": bucket.as_str(), "counts": counts }).to_string())
    })
    .await?;
    Ok(json_text(StatusCode::OK, body))
}
