//! The MCP server: the four tools with their descriptions, each a store read on the blocking
//! pool, answered as structured content plus text.

use std::sync::Arc;

use athena_core::recall::{QueryBudget, Recall};
use rmcp::handler::server::common::{schema_for_input, schema_for_output as output_schema};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, CustomRequest, CustomResult, ErrorCode,
    JsonObject,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::params::{
    GetEventOut, GetEventParams, ListSourcesOut, SearchEventsOut, SearchEventsParams, TimelineOut,
    TimelineParams,
};
use super::tools::{self, Answer, Refusal};
use crate::recall::{Cost, RecallService, Refused};

/// One per MCP session; the recall service (its store connections, queue and budgets) is
/// shared by all, and with the HTTP API.
#[derive(Clone)]
pub(crate) struct RecallServer {
    recall: RecallService,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl RecallServer {
    pub(crate) fn new(recall: RecallService) -> Self {
        RecallServer {
            recall,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Search the episodic event store (git commits, file changes, HTTP requests, GitHub issues and pull requests, Slack messages …), newest first. All filters are optional and combine. Returns {\"events\": [...], \"next_cursor\": string|null}: each event has id, source_id, source_type, kind, occurred_at (RFC 3339, UTC), ingested_at, actor, title, body, url, outcome, context and metadata. Times accept RFC 3339, a date (2024-05-01) or relative to now (30m, 12h, 7d, 2w). limit defaults to 20, at most 200; pass next_cursor back as cursor, with the same filters, for the next page.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<SearchEventsParams>(),
        output_schema = output_schema::<SearchEventsOut>(),
    )]
    async fn search_events(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let now = chrono::Utc::now();
        let cost = |p: &SearchEventsParams| {
            let searched = p.query.as_deref().is_some_and(|q| !q.trim().is_empty());
            let by_actor = p.actor.as_deref().is_some_and(|a| !a.is_empty());
            let limit = p.limit.map_or(super::params::DEFAULT_LIMIT, |l| {
                l.min(super::params::MAX_LIMIT)
            });
            Cost::page(limit as usize, searched || by_actor)
        };
        self.read_with(args, cost, move |r, b, p: SearchEventsParams| {
            tools::search_events(r, b, p, now)
        })
        .await
    }

    #[tool(
        description = "One event by its source id and event id (both as search_events returns them), with its full body, context and metadata. Returns {\"event\": {...}}; an unknown event is an error.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<GetEventParams>(),
        output_schema = output_schema::<GetEventOut>(),
    )]
    async fn get_event(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let cost = |_: &GetEventParams| Cost::ONE;
        self.read_with(args, cost, |r, b, p| tools::get_event(r, b, p))
            .await
    }

    #[tool(
        description = "The sources that have synced into the store. Returns {\"sources\": [...]}, each with id, type, cursor, events (count stored), dead_letters, last_sync (RFC 3339 or null), last_status, last_error and error_kind. Use the ids to filter search_events and timeline.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = output_schema::<ListSourcesOut>(),
    )]
    async fn list_sources(&self) -> Result<CallToolResult, ErrorData> {
        self.read(Cost::ONE, tools::list_sources).await
    }

    #[tool(
        description = "How many events happened per time bucket (hour, day, week or calendar month; UTC), to see when activity happened before searching. Returns {\"bucket\": \"day\", \"total\": N, \"buckets\": [{\"start\": RFC 3339, \"count\": N, \"sources\": {source_id: N}}]}, oldest first, empty buckets left out. Times accept RFC 3339, a date or relative to now (30m, 12h, 7d, 2w).",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<TimelineParams>(),
        output_schema = output_schema::<TimelineOut>(),
    )]
    async fn timeline(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let now = chrono::Utc::now();
        let cost = |_: &TimelineParams| Cost::TIMELINE;
        self.read_with(args, cost, move |r, b, p| tools::timeline(r, b, p, now))
            .await
    }
}

/// A tool's input schema, from its arguments type. The arguments reach the tool as a JSON
/// object and are parsed there (see [`RecallServer::read_with`]).
fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("a tool's arguments type must be an object: {e}"))
}

impl RecallServer {
    /// [`Self::read`] with the call's arguments parsed into `P` first. Arguments that do not
    /// fit the tool's input schema (a wrong type, an unknown name, a missing one) are JSON-RPC's
    /// -32602 Invalid params, naming what does not fit: the call is malformed, whatever the
    /// store holds. A value that fits the schema but not the query (a time that is no time, a
    /// cursor of another query) is the tool's error result, for the agent to read and correct.
    async fn read_with<P: DeserializeOwned + Send + 'static>(
        &self,
        args: JsonObject,
        cost: impl FnOnce(&P) -> Cost,
        f: impl FnOnce(&dyn Recall, &QueryBudget, P) -> Result<Answer, Refusal> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        match serde_path_to_error::deserialize::<_, P>(serde_json::Value::Object(args)) {
            Ok(p) => self.read(cost(&p), move |r, b| f(r, b, p)).await,
            Err(e) => {
                // Named by the argument at fault, when it is one (not a missing or unknown one).
                let at = e.path().to_string();
                let why = e.into_inner();
                let message = match at.as_str() {
                    "." => format!("arguments: {why}"),
                    _ => format!("arguments: {at}: {why}"),
                };
                Err(ErrorData::invalid_params(message, None))
            }
        }
    }

    /// Runs a store read through the recall service; a refusal is the tool's error result,
    /// for the agent to read and correct, never a protocol error.
    async fn read(
        &self,
        cost: Cost,
        f: impl FnOnce(&dyn Recall, &QueryBudget) -> Result<Answer, Refusal> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        let result = match self.recall.run(cost, move |r, b| Ok(f(r, b))).await {
            Ok(result) => result,
            Err(Refused::Busy { retry_after }) => Err(format!(
                "recall is busy (every store connection is taken and the queue is full): try again in {} s",
                retry_after.as_secs().max(1)
            )),
            Err(Refused::Spent(spent)) => Err(tools::interrupted(spent)),
            Err(Refused::Store(e)) => Err(format!("reading the store failed: {e}")),
            Err(Refused::Panicked) => Err("the store read failed (see the server's log)".into()),
        };
        Ok(match result {
            Ok(Answer { value, summary }) => {
                // Many clients show an agent only the text, so the JSON is there too.
                let mut result = CallToolResult::structured(value);
                result.content.insert(0, ContentBlock::text(summary));
                result
            }
            Err(reason) => CallToolResult::error(vec![ContentBlock::text(reason)]),
        })
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "athena-ingest",
    instructions = "Episodic memory: events from git, files, API logs, GitHub and Slack, with when, who and where. Start with list_sources or timeline to see what is stored and when, then search_events (filters, full-text query, cursor paging) and get_event for one event in full."
)]
impl ServerHandler for RecallServer {
    /// rmcp reads a request of a method it knows, whose params do not fit that method (a
    /// `tools/call` without `name`, or whose `arguments` is not an object), as a request of
    /// some unknown method: that is -32602 Invalid params, not -32601 Method not found.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let method = request.method.as_str();
        if method == "tools/call" {
            let why = match request.params_as::<CallToolRequestParams>() {
                Err(e) => e.to_string(),
                Ok(_) => "they are not a tool's name and arguments".to_string(),
            };
            return Err(ErrorData::invalid_params(
                format!("tools/call params: {why} (expected {{\"name\": string, \"arguments\": object}})"),
                None,
            ));
        }
        if KNOWN_METHODS.contains(&method) {
            return Err(ErrorData::invalid_params(
                format!("the params of {method} do not fit it"),
                None,
            ));
        }
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("no method {method:?}"),
            None,
        ))
    }
}

/// The requests an MCP client may send a server: a request of one of these that reaches
/// [`ServerHandler::on_custom_request`] has params rmcp could not read as that method's.
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/templates/list",
    "subscriptions/listen",
    "tools/call",
    "tools/list",
];
