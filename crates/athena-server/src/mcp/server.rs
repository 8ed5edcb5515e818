//! The MCP server: the four tools with their descriptions, each a question of the recall
//! service that the HTTP API shares (the same parameters, limits and answers), answered as
//! structured content plus a line of text.

use std::sync::Arc;

use athena_core::Registry;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, CustomRequest, CustomResult, ErrorCode,
    Implementation, JsonObject, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::brief::Listed;
use super::tools;
use crate::recall::answers::{EventView, EventsPage, People, RelatedView, Sources, Timeline};
use crate::recall::params::{
    EventParams, EventsParams, PeopleParams, RelatedParams, TimelineParams,
};
use crate::recall::{schema, RecallError, RecallService};

/// One per MCP session; the recall service (its store connections, queue and budgets) is
/// shared by all, and with the HTTP API.
#[derive(Clone)]
pub(crate) struct RecallServer {
    recall: RecallService,
    tool_router: ToolRouter<Self>,
}

/// A tool's answer: its JSON and its line of text, or why there is none.
type Answer = Result<(serde_json::Result<Value>, String), RecallError>;

#[tool_router]
impl RecallServer {
    pub(crate) fn new(recall: RecallService) -> Self {
        RecallServer {
            recall,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Search the episodic event store (git commits, file changes, HTTP requests, GitHub issues and pull requests, Slack messages …), newest first unless order is asc. All filters are optional and combine; source, kind and outcome take one value or a list (list_sources names the sources and their kinds). The arguments, limits and order are those of the HTTP API's GET /v1/events. Returns {\"events\": [...], \"next_cursor\": string|null, \"match\", \"note\"}: each event has id, source_id, kind, occurred_at (RFC 3339, UTC) and title, and actor, body (cut after 200 characters), url, outcome and context when it has them; with include_metadata: true, each event whole (source_type, ingested_at, the full body and the source's metadata), as get_event shows one. format athena: Athena's EpisodicEvent instead. note says why a page is not what was asked: no event had every word (these have some), or a source or kind the store does not have. Times accept RFC 3339, a date (2024-05-01) or relative to now (30m, 12h, 7d, 2w). limit is 1 to 1000, default 50; pass next_cursor back as cursor, with the same filters, for the next page.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input::<EventsParams>(),
        output_schema = output::<EventsPage<Listed>>(),
    )]
    async fn search_events(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let mut params: EventsParams = arguments(args)?;
        // An agent pays for every character: the details are asked for, or read by get_event.
        let whole = *params.include_metadata.get_or_insert(false);
        let answer = self
            .recall
            .events(&params, chrono::Utc::now(), move |page| {
                let page = page.map(|e| Listed::new(e, whole));
                (serde_json::to_value(&page), tools::events(&page))
            });
        Ok(result(answer.await))
    }

    #[tool(
        description = "One event by its source id and event id (both as search_events returns them), with its full body, context and metadata: the event itself, as GET /v1/events/{source}/{id} answers it (format athena: Athena's EpisodicEvent). An unknown event is an error.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input::<EventParams>(),
        output_schema = output::<EventView>(),
    )]
    async fn get_event(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: EventParams = arguments(args)?;
        let answer = self
            .recall
            .event(&params, |e| (serde_json::to_value(&e), tools::event(&e)));
        Ok(result(answer.await))
    }

    #[tool(
        description = "The events related to one across sources: those about or mentioning a thing it is about or mentions. Things are found in titles, bodies, URLs and commit fields: a Jira or Linear issue key (key:PROJ-7), a GitHub issue or pull request (gh:owner/repo#12, also from its URL), a commit SHA (commit:3f9a0c1, short SHAs match the full one), a Slack message or thread (slack:CHANNEL/TS), a CircleCI pipeline. So an issue finds the commits and messages naming it and its own comments; a pull request finds the Slack messages linking it and the commits naming it. Give source and id as search_events returns them. Returns {\"event\", \"things\": [{\"thing\", \"role\": about|mentions}], \"related\": [{\"event\", \"via\": [{\"thing\", \"role\"}]}]}, the newest first, at most limit (default 50); as GET /v1/events/{source}/{id}/related answers. An unknown event is an error.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input::<RelatedParams>(),
        output_schema = output::<RelatedView>(),
    )]
    async fn related_events(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: RelatedParams = arguments(args)?;
        let answer = self
            .recall
            .related(&params, |r| (serde_json::to_value(&r), tools::related(&r)));
        Ok(result(answer.await))
    }

    #[tool(
        description = "The people the stored events name, each with their handles across sources: email addresses (git, Gmail, Calendar), GitHub logins, Slack user ids; joined into one person by what the sources say (a GitHub commit's login and email) and by [[people]] in the config, which wins. q finds people by a handle, their id or part of their name (case-insensitive); omit it for everyone. Returns {\"people\": [{\"id\", \"name\", \"handles\"}]}. Give a person's id or any handle as person to search_events or timeline for what they did across sources: \"what did Ada do this week\" is find_person {q: \"ada\"}, then search_events {person: id, since: \"7d\"}.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input::<PeopleParams>(),
        output_schema = output::<People>(),
    )]
    async fn find_person(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: PeopleParams = arguments(args)?;
        let answer = self
            .recall
            .people(&params, |p| (serde_json::to_value(&p), tools::people(&p)));
        Ok(result(answer.await))
    }

    #[tool(
        description = "The sources that have synced into the store. Returns {\"sources\": [...]}, each with id, type, cursor, events (count stored), dead_letters, last_sync (RFC 3339 or null), last_status, last_error, error_kind and kinds (the kinds of its events with their counts, most frequent first). Use the ids as source and the kinds as kind to filter search_events and timeline.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = output::<Sources>(),
    )]
    async fn list_sources(&self) -> Result<CallToolResult, ErrorData> {
        let answer = self
            .recall
            .sources(|s| (serde_json::to_value(&s), tools::sources(&s)));
        Ok(result(answer.await))
    }

    #[tool(
        description = "How many events happened when: counts per time bucket and source, oldest bucket first, as GET /v1/timeline answers them. Returns {\"bucket\": \"day\", \"counts\": [{\"start\": RFC 3339, \"source\": id, \"count\": N}]}; buckets without events are left out. Use it to find busy periods, then search_events with since/until.",
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input::<TimelineParams>(),
        output_schema = output::<Timeline>(),
    )]
    async fn timeline(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: TimelineParams = arguments(args)?;
        let answer = self.recall.timeline(&params, chrono::Utc::now(), |t| {
            (serde_json::to_value(&t), tools::timeline(&t))
        });
        Ok(result(answer.await))
    }
}

/// A tool's input schema, from its parameter type (as `/openapi.json` has it).
fn input<T: JsonSchema>() -> Arc<JsonObject> {
    Arc::new(schema::object::<T>(schema::params()))
}

/// A tool's output schema, from its answer type (as `/openapi.json` has it).
fn output<T: JsonSchema>() -> Arc<JsonObject> {
    Arc::new(schema::object::<T>(schema::answers()))
}

/// The call's arguments as `P`. Arguments that do not fit the tool's input schema (a wrong
/// type, an unknown name, a missing one, a value outside an enum, a `limit` out of range) are
/// JSON-RPC's -32602 Invalid params, naming what does not fit: the call is malformed, whatever
/// the store holds. (Over HTTP the same misfits are a 400.)
fn arguments<P: DeserializeOwned>(args: JsonObject) -> Result<P, ErrorData> {
    serde_path_to_error::deserialize::<_, P>(Value::Object(args)).map_err(|e| {
        // Named by the argument at fault, when it is one (not a missing or unknown one).
        let at = e.path().to_string();
        let why = e.into_inner();
        let message = match at.as_str() {
            "." => format!("arguments: {why}"),
            _ => format!("arguments: {at}: {why}"),
        };
        ErrorData::invalid_params(message, None)
    })
}

/// The answer as structured content, once, beside its line of text; a refusal (a value the schema
/// allows but the query does not, an unknown event, a busy store) is the tool's error, in the
/// words the HTTP API answers with, for the agent to read and correct.
fn result(answer: Answer) -> CallToolResult {
    let refusal = match answer {
        Ok((Ok(value), summary)) => {
            // The JSON once: as text too, it doubled what an agent pays for every answer.
            let mut result = CallToolResult::structured(value);
            result.content = vec![ContentBlock::text(summary)];
            return result;
        }
        Ok((Err(e), _)) => {
            tracing::error!("MCP: writing an answer as JSON: {e}");
            "the answer could not be written (see the server's log)".to_string()
        }
        Err(e) => e.to_string(),
    };
    CallToolResult::error(vec![ContentBlock::text(refusal)])
}

/// What the server says it is for, naming every registered source type.
pub(crate) fn instructions(registry: &Registry) -> String {
    let types: Vec<&str> = registry.list().map(|t| t.name).collect();
    format!(
        "Episodic memory: events from the source types {}, with when, who and where. Start with list_sources or timeline to see what is stored and when, then search_events (filters, full-text query, cursor paging) and get_event for one event in full.",
        types.join(", ")
    )
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for RecallServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "athena-ingest",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(instructions(&self.recall.registry()))
    }

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
