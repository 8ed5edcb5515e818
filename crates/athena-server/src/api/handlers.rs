//! The recall endpoints: each reads its parameters through the typed extractors (see
//! [`super::query`]), asks the [`RecallService`](crate::recall::RecallService) the question
//! MCP asks too, and writes its answer's JSON; every refusal is an [`ErrorBody`] with a 4xx, a
//! store that cannot be read a 5xx.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Deserialize;

use super::query::{self, Query};
use super::RecallState;
use crate::recall::answers::ErrorBody;
use crate::recall::params::{
    EventParams, EventsParams, Format, Limit, NoParams, ParamError, PeopleParams, RelatedParams,
    TimelineParams,
};
use crate::recall::RecallError;

/// `{"error": …}` with `status`.
pub(crate) fn error_response(status: StatusCode, error: String) -> Response {
    json_response(status, serde_json::to_vec(&ErrorBody { error }))
}

/// A rendered JSON body with `status` (a body that could not be rendered is a 500).
fn json_response(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            tracing::error!("recall: writing an answer as JSON: {e}");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the answer could not be written (see the server's log)".into(),
            )
        }
    }
}

impl IntoResponse for ParamError {
    fn into_response(self) -> Response {
        error_response(StatusCode::BAD_REQUEST, self.to_string())
    }
}

/// A refusal as HTTP: the status says who is to act, the text is the one MCP shows too.
pub(crate) struct ApiError(RecallError);

impl From<RecallError> for ApiError {
    fn from(e: RecallError) -> Self {
        ApiError(e)
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError(RecallError::Param(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            RecallError::Param(_) => StatusCode::BAD_REQUEST,
            RecallError::NotFound { .. } => StatusCode::NOT_FOUND,
            RecallError::Busy { .. } | RecallError::Spent(_) | RecallError::StoreBusy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &self.0 {
            RecallError::Busy { retry_after } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        let mut response = error_response(status, self.0.to_string());
        if let Some(seconds) = retry_after {
            (response.headers_mut()).insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

type Answer = Result<Response, ApiError>;

fn ok(body: serde_json::Result<Vec<u8>>) -> Response {
    json_response(StatusCode::OK, body)
}

/// `GET /v1/events`: a page of events.
pub(crate) async fn events(
    State(state): State<RecallState>,
    Query(params): Query<EventsParams>,
) -> Answer {
    let now = chrono::Utc::now();
    let body = state
        .service
        .events(&params, now, |page| serde_json::to_vec(&page));
    Ok(ok(body.await?))
}

/// The path of `GET /v1/events/{source}/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct EventPath {
    /// The event's source id.
    source: String,
    /// The event's id, percent-encoded (ids hold `/` and `:`; an unencoded `/` works too).
    id: String,
}

/// The query of `GET /v1/events/{source}/{id}`: the format only.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FormatQuery {
    /// `jsonl` (as `events --format jsonl` prints it, the default) or `athena`.
    pub(crate) format: Format,
}

/// The query of `GET /v1/events/{source}/{id}/related`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RelatedQuery {
    /// At most this many related events, the newest first (default 50).
    pub(crate) limit: Option<Limit>,
    /// `jsonl` (as `events --format jsonl` prints it, the default) or `athena`.
    pub(crate) format: Format,
}

/// The path ending of an event's related events.
const RELATED: &str = "/related";

/// `GET /v1/events/{source}/{id}`: one event; `GET /v1/events/{source}/{id}/related`: the
/// events related to it. (Ids hold `/`, so one route takes both: a path ending in
/// `/related` is the related events of the event before it when that event is stored, else
/// the event whose id ends so.)
pub(crate) async fn event(
    State(state): State<RecallState>,
    path: Result<Path<EventPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let Path(path) = path.map_err(path_error)?;
    if let Some(id) = path.id.strip_suffix(RELATED) {
        let query: RelatedQuery = query::parse(raw.as_deref())?;
        let params = RelatedParams {
            source: path.source.clone(),
            id: id.to_string(),
            limit: query.limit,
            format: query.format,
        };
        match state
            .service
            .related(&params, |r| serde_json::to_vec(&r))
            .await
        {
            Err(RecallError::NotFound { .. }) if query.limit.is_none() => {}
            answer => return Ok(ok(answer?)),
        }
    }
    let query: FormatQuery = query::parse(raw.as_deref())?;
    let params = EventParams {
        source: path.source,
        id: path.id,
        format: query.format,
    };
    let body = state.service.event(&params, |e| serde_json::to_vec(&e));
    Ok(ok(body.await?))
}

/// axum has percent-decoded the path; a segment that is not UTF-8 once decoded is refused,
/// naming it.
fn path_error(rejection: PathRejection) -> ParamError {
    use axum::extract::path::ErrorKind;
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.into_kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => {
                ParamError::new(&key, "not UTF-8 once percent-decoded")
            }
            other => ParamError::new("id", other.to_string()),
        },
        other => ParamError::new("id", other.body_text()),
    }
}

/// `GET /v1/sources`: every source the store knows, exactly as `status --format json`
/// prints them.
pub(crate) async fn sources(
    State(state): State<RecallState>,
    // It takes none, and says so rather than ignoring one.
    Query(NoParams {}): Query<NoParams>,
) -> Answer {
    let body = state.service.sources(|s| serde_json::to_vec(&s));
    Ok(ok(body.await?))
}

/// `GET /v1/people`: the people the stored events name.
pub(crate) async fn people(
    State(state): State<RecallState>,
    Query(params): Query<PeopleParams>,
) -> Answer {
    let body = state.service.people(&params, |p| serde_json::to_vec(&p));
    Ok(ok(body.await?))
}

/// `GET /v1/kinds`: the kinds of the stored events, per source.
pub(crate) async fn kinds(
    State(state): State<RecallState>,
    Query(NoParams {}): Query<NoParams>,
) -> Answer {
    let body = state.service.kinds(|k| serde_json::to_vec(&k));
    Ok(ok(body.await?))
}

/// `GET /v1/timeline`: counts of events per time bucket and source.
pub(crate) async fn timeline(
    State(state): State<RecallState>,
    Query(params): Query<TimelineParams>,
) -> Answer {
    let now = chrono::Utc::now();
    let body = state
        .service
        .timeline(&params, now, |t| serde_json::to_vec(&t));
    Ok(ok(body.await?))
}
