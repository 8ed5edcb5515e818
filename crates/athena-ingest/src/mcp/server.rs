//! The MCP server: the four tools with their descriptions, each a store read on the blocking
//! pool, answered as structured content plus text.

use std::sync::Arc;

use athena_core::recall::{QueryBudget, Recall};
use rmcp::handler::server::common::{schema_for_input, schema_for_output as output_schema};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
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
            Cost::of_page(limit as usize, searched || by_actor)
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
        let cost = |_: &GetEventParams| Cost::Light;
        self.read_with(args, cost, |r, b, p| tools::get_event(r, b, p))
            .await
    }

    #[tool(
        description = "The sources that have synced into the store. Returns {\"sources\": [...]}, each with id, type, cursor, events (count stored), dead_letters, last_sync (RFC 3339 or null), last_status, last_error and error_kind. Use the ids to filter search_events and timeline.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = output_schema::<ListSourcesOut>(),
    )]
    async fn list_sources(&self) -> Result<CallToolResult, ErrorData> {
        self.read(Cost::Light, tools::list_sources).await
    }

    #[tool(
        description = "How many events happened per time bucket (hour, day or week; UTC), to see when activity happened before searching. Returns {\"bucket\": \"day\", \"total\": N, \"buckets\": [{\"start\": RFC 3339, \"count\": N, \"sources\": {source_id: N}}]}, oldest first, empty buckets left out. Times accept RFC 3339, a date or relative to now (30m, 12h, 7d, 2w).",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<TimelineParams>(),
        output_schema = output_schema::<TimelineOut>(),
    )]
    async fn timeline(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let now = chrono::Utc::now();
        let cost = |_: &TimelineParams| Cost::Costly;
        self.read_with(args, cost, move |r, b, p| tools::timeline(r, b, p, now))
            .await
    }
}

/// A tool's input schema, from its arguments type. The arguments reach the tool as a JSON
/// object and are parsed there, so that a wrong type or an unknown name is a tool error the
/// agent reads (as the MCP spec asks of input validation), not a protocol error.
fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("a tool's arguments type must be an object: {e}"))
}

impl RecallServer {
    /// [`Self::read`] with the call's arguments parsed into `P` first.
    async fn read_with<P: DeserializeOwned + Send + 'static>(
        &self,
        args: JsonObject,
        cost: impl FnOnce(&P) -> Cost,
        f: impl FnOnce(&dyn Recall, &QueryBudget, P) -> Result<Answer, Refusal> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        match serde_json::from_value::<P>(serde_json::Value::Object(args)) {
            Ok(p) => self.read(cost(&p), move |r, b| f(r, b, p)).await,
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "arguments: {e}"
            ))])),
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
impl ServerHandler for RecallServer {}
