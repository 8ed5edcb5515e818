//! `/openapi.json`: the OpenAPI 3.1 description of the recall API, made from the same types
//! the handlers parse and answer with (see [`crate::recall::schema`]): each operation's query
//! parameters are the fields of its parameter type, its answers the schemas of its answer
//! types. Every field an answer always carries is `required`, nullable where it may be null;
//! the schemathesis test in `tests/it/recall_api.rs` checks every answer against them.

use schemars::generate::Contract;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::recall::answers::{
    ErrorBody, EventView, EventsPage, Kinds, People, RelatedView, Sources, Timeline,
};
use crate::recall::params::{EventsParams, NoParams, PeopleParams, TimelineParams};
use crate::recall::schema;

use super::handlers::{EventPath, FormatQuery, RelatedQuery};

/// The errors every operation may answer, beside its own.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "A parameter is unknown, repeated or malformed (not UTF-8 once decoded, or holding a NUL), or `since` is after `until`; `error` names it.",
    ),
    (
        "401",
        "`[serve] api_token` is set and the request does not carry it.",
    ),
    ("500", "The store cannot be read."),
    (
        "503",
        "The store or the server is busy, or the query ran out of time; try again.",
    ),
];

/// One operation: its path, id, summary, parameters and 200 answer.
struct Operation {
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    parameters: Vec<Value>,
    ok: (&'static str, Value),
    not_found: bool,
}

/// The document `/openapi.json` serves; with a token, every operation asks for it.
pub(crate) fn document(guarded: bool) -> Value {
    let mut params = schema::for_openapi(Contract::Deserialize);
    let mut answers = schema::for_openapi(Contract::Serialize);
    let error = answers.subschema_for::<ErrorBody>().to_value();
    let operations = [
        Operation {
            path: "/v1/events",
            id: "events",
            summary: "A page of events, newest first unless `order=asc`.",
            parameters: query_parameters::<EventsParams>(&mut params),
            ok: (
                "A page of events, and the cursor of the next page (`null` on the last).",
                answers.subschema_for::<EventsPage>().to_value(),
            ),
            not_found: false,
        },
        Operation {
            path: "/v1/events/{source}/{id}",
            id: "event",
            summary: "One event by its source and id.",
            parameters: [
                path_parameters::<EventPath>(&mut params),
                query_parameters::<FormatQuery>(&mut params),
            ]
            .concat(),
            ok: (
                "The event, in the shape `format` asked for.",
                answers.subschema_for::<EventView>().to_value(),
            ),
            not_found: true,
        },
        Operation {
            path: "/v1/events/{source}/{id}/related",
            id: "related",
            summary: "The events related to one: about or mentioning a thing it is about or mentions (an issue key, a pull request, a commit, a Slack message, a pipeline), across sources.",
            parameters: [
                path_parameters::<EventPath>(&mut params),
                query_parameters::<RelatedQuery>(&mut params),
            ]
            .concat(),
            ok: (
                "The event, its things, and the related events, the newest first, each with the things it shares.",
                answers.subschema_for::<RelatedView>().to_value(),
            ),
            not_found: true,
        },
        Operation {
            path: "/v1/sources",
            id: "sources",
            summary: "Every source the store knows: exactly what `status --format json` prints.",
            parameters: query_parameters::<NoParams>(&mut params),
            ok: (
                "Per source: cursor, events, last sync and last error.",
                answers.subschema_for::<Sources>().to_value(),
            ),
            not_found: false,
        },
        Operation {
            path: "/v1/kinds",
            id: "kinds",
            summary: "The kinds of the stored events, per source: the values `kind` filters take.",
            parameters: query_parameters::<NoParams>(&mut params),
            ok: (
                "One row per source and kind, with its events; within a source, the most frequent first.",
                answers.subschema_for::<Kinds>().to_value(),
            ),
            not_found: false,
        },
        Operation {
            path: "/v1/people",
            id: "people",
            summary: "The people the stored events name, each with their handles across sources (emails, GitHub logins, Slack ids), joined by what the sources say and by `[[people]]` in the config.",
            parameters: query_parameters::<PeopleParams>(&mut params),
            ok: (
                "Each person once: id (give it, or any handle, as `person` to /v1/events), name, handles.",
                answers.subschema_for::<People>().to_value(),
            ),
            not_found: false,
        },
        Operation {
            path: "/v1/timeline",
            id: "timeline",
            summary: "Counts of events per time bucket and source, oldest bucket first.",
            parameters: query_parameters::<TimelineParams>(&mut params),
            ok: (
                "Buckets that hold events, oldest first, one row per source.",
                answers.subschema_for::<Timeline>().to_value(),
            ),
            not_found: false,
        },
    ];
    let mut paths = Map::new();
    for op in operations {
        paths.insert(op.path.to_string(), operation(op, &error));
    }
    let mut schemas = params.take_definitions(true);
    schemas.extend(answers.take_definitions(true));
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "athena-ingest recall API",
            "description": "Read the episodic events athena-ingest stored: pages of events with a cursor that stays valid while events arrive, one event by source and id, the sources, the kinds of their events, and counts per time bucket.",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {"schemas": schemas},
        "tags": [{"name": "recall", "description": "The stored events, read-only."}],
    });
    if guarded {
        doc["components"]["securitySchemes"] =
            json!({"bearer": {"type": "http", "scheme": "bearer"}});
        doc["security"] = json!([{"bearer": []}]);
    }
    doc
}

fn operation(op: Operation, error: &Value) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), response(op.ok.0, &op.ok.1));
    for (code, description) in ERRORS {
        responses.insert(code.to_string(), response(description, error));
    }
    if op.not_found {
        responses.insert("404".into(), response("No such event.", error));
    }
    json!({
        "get": {
            "tags": ["recall"],
            "operationId": op.id,
            "summary": op.summary,
            "parameters": op.parameters,
            "responses": responses,
        }
    })
}

fn response(description: &str, schema: &Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}},
    })
}

/// The fields of `T`, in their order, as query parameters: repeatable when a field is a
/// list (`?source=a&source=b`).
fn query_parameters<T: JsonSchema>(generator: &mut SchemaGenerator) -> Vec<Value> {
    parameters::<T>(generator, "query")
}

/// The fields of `T` as path parameters (all required).
fn path_parameters<T: JsonSchema>(generator: &mut SchemaGenerator) -> Vec<Value> {
    parameters::<T>(generator, "path")
}

fn parameters<T: JsonSchema>(generator: &mut SchemaGenerator, place: &str) -> Vec<Value> {
    let root = generator.root_schema_for::<T>().to_value();
    let required: Vec<&str> = (root["required"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let Some(properties) = root["properties"].as_object() else {
        return Vec::new();
    };
    (properties.iter())
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            // A list that also takes one value alone is, in a query string, the list: one
            // value is a list of one there anyway.
            if let Some(list) =
                (schema["anyOf"].as_array().into_iter().flatten()).find(|s| s["type"] == "array")
            {
                let description = schema.get("description").cloned();
                schema = list.clone();
                if let Some(d) = description {
                    schema["description"] = d;
                }
            }
            let description = schema
                .as_object_mut()
                .and_then(|s| s.remove("description"))
                .unwrap_or(Value::Null);
            let mut parameter = json!({
                "name": name,
                "in": place,
                "required": place == "path" || required.contains(&name.as_str()),
                "description": description,
                "schema": schema,
            });
            if schema.get("type") == Some(&json!("array")) {
                parameter["style"] = json!("form");
                parameter["explode"] = json!(true);
            }
            parameter
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_its_answers_and_a_token_guards_them_all() {
        let doc = document(true);
        assert_eq!(doc["openapi"].as_str().unwrap().get(..2), Some("3."));
        for (path, codes) in [
            ("/v1/events", &["200", "400", "401"][..]),
            ("/v1/events/{source}/{id}", &["200", "400", "401", "404"]),
            (
                "/v1/events/{source}/{id}/related",
                &["200", "400", "401", "404"],
            ),
            ("/v1/sources", &["200", "400", "401"]),
            ("/v1/kinds", &["200", "400", "401"]),
            ("/v1/people", &["200", "400", "401"]),
            ("/v1/timeline", &["200", "400", "401"]),
        ] {
            let responses = &doc["paths"][path]["get"]["responses"];
            for code in codes {
                assert!(responses[code].is_object(), "{path} {code}: {responses}");
            }
        }
        let params = &doc["paths"]["/v1/events"]["get"]["parameters"];
        let names: Vec<&str> = (params.as_array().unwrap().iter())
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "since",
                "until",
                "source",
                "kind",
                "outcome",
                "actor",
                "person",
                "q",
                "order",
                "limit",
                "cursor",
                "format",
                "include_metadata"
            ]
        );
        let limit = &params[9]["schema"];
        assert_eq!(
            (&limit["minimum"], &limit["maximum"]),
            (&json!(1), &json!(1000))
        );
        assert_eq!(params[2]["explode"], true, "source is repeatable");
        assert_eq!(params[4]["explode"], true, "outcome is repeatable");
        assert_eq!(doc["security"][0]["bearer"], json!([]));
        assert!(document(false)["security"].is_null());
        assert!(doc["components"]["schemas"]["TimeArg"]["anyOf"].is_array());
        let path = &doc["paths"]["/v1/events/{source}/{id}"]["get"]["parameters"];
        assert_eq!(path[0]["in"], "path");
        assert_eq!(path[2]["name"], "format");
    }

    /// Every `$ref` in the document points at a schema it holds.
    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document(false);
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 5, "{found:?}");
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} is not in the document"
            );
        }
    }
}
