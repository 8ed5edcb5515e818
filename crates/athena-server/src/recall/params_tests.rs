//! The parameters as MCP reads them (JSON arguments): the same types, limits and refusals as
//! the query strings of the HTTP API (`api/query_tests.rs`).

use serde_json::json;

use super::*;

fn now() -> DateTime<Utc> {
    "2024-05-10T12:00:00Z".parse().unwrap()
}

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[test]
fn json_arguments_take_the_names_and_defaults_of_the_query_string() {
    let p: EventsParams = from_json(json!({
        "q": "fix", "source": ["a", "b"], "kind": ["commit"], "since": "7d",
        "order": "asc", "limit": 3, "format": "athena"
    }))
    .unwrap();
    let q = p.resolve(now()).unwrap();
    assert_eq!(q.page.filter.sources, ["a", "b"]);
    assert_eq!(q.page.filter.search.as_deref(), Some("fix"));
    assert_eq!(q.page.order, Order::Asc);
    assert_eq!((q.page.limit, q.format), (3, Format::Athena));
    let d = from_json::<EventsParams>(json!({}))
        .unwrap()
        .resolve(now())
        .unwrap();
    assert_eq!(d.page.limit, DEFAULT_LIMIT as usize);
    let t: TimelineParams = from_json(json!({})).unwrap();
    assert_eq!(t.resolve(now()).unwrap().1, Bucket::Day);
}

/// MCP lowered a limit over 200 to 200 without a word, where HTTP refused one over 1000.
#[test]
fn a_limit_out_of_range_is_refused_as_over_http() {
    for limit in [0, 1001, 5000] {
        let e = from_json::<EventsParams>(json!({ "limit": limit })).unwrap_err();
        assert!(
            e.contains(&format!("{limit} is not a number from 1 to 1000")),
            "{e}"
        );
    }
    assert!(from_json::<EventsParams>(json!({ "limit": 1000 })).is_ok());
    assert!(from_json::<EventsParams>(json!({ "limit": "many" })).is_err());
}

#[test]
fn unknown_names_and_values_outside_an_enum_are_refused() {
    for bad in [
        json!({"query": "x"}),
        json!({"sources": ["a"]}),
        json!({"order": "newest"}),
        json!({"format": "xml"}),
    ] {
        assert!(from_json::<EventsParams>(bad.clone()).is_err(), "{bad}");
    }
    assert!(from_json::<TimelineParams>(json!({"bucket": "year"})).is_err());
    assert!(from_json::<EventParams>(json!({"source": "s"})).is_err());
    assert!(from_json::<NoParams>(json!({"x": 1})).is_err());
}

#[test]
fn values_the_query_refuses_are_named_in_the_words_of_the_http_api() {
    let refuse = |v: serde_json::Value| {
        from_json::<EventsParams>(v)
            .unwrap()
            .resolve(now())
            .unwrap_err()
            .to_string()
    };
    assert!(refuse(json!({"since": "yesterday-ish"})).starts_with("parameter since: "));
    assert!(refuse(json!({"since": ""})).starts_with("parameter since: "));
    assert!(refuse(json!({"cursor": "garbage"})).starts_with("parameter cursor: "));
    assert!(refuse(json!({"actor": "a\u{0}"})).starts_with("parameter actor: "));
    assert!(refuse(json!({"source": ["a\u{0}"]})).starts_with("parameter source: "));
    let e = refuse(json!({"since": "2024-05-02", "until": "2024-05-01"}));
    assert!(
        e.starts_with("parameter since: ") && e.contains("after until"),
        "{e}"
    );
}

#[test]
fn the_schemas_say_the_limits_and_the_names() {
    let schema = crate::recall::schema::object::<EventsParams>(crate::recall::schema::params());
    let props = &schema["properties"];
    assert_eq!(props["limit"]["maximum"], 1000, "{schema:?}");
    assert_eq!(props["limit"]["minimum"], 1);
    // A list, or one value alone.
    assert_eq!(props["source"]["anyOf"][1]["type"], "array", "{schema:?}");
    assert_eq!(props["source"]["anyOf"][0]["type"], "string", "{schema:?}");
    let q = props["q"]["description"].as_str().unwrap();
    assert!(
        q.contains("Plain words must all match") && q.contains("`any`"),
        "{q}"
    );
    assert_eq!(props["outcome"]["anyOf"][1]["type"], "array");
    let outcome = serde_json::to_string(&schema).unwrap();
    assert!(outcome.contains("server_error"), "{outcome}");
    assert!(
        schema.get("required").is_none_or(|r| r == &json!([])),
        "{schema:?}"
    );
    let one = crate::recall::schema::object::<EventParams>(crate::recall::schema::params());
    assert_eq!(one["required"], json!(["source", "id"]));
}

/// `outcome` reads the same from MCP's JSON and HTTP's query string, and refuses the same.
#[test]
fn outcome_filter_everywhere() {
    let p: EventsParams = from_json(json!({"outcome": ["server_error", "client_error"]})).unwrap();
    let over_http: EventsParams =
        crate::api::query::parse(Some("outcome=server_error&outcome=client_error")).unwrap();
    for p in [p, over_http] {
        let q = p.resolve(now()).unwrap();
        assert_eq!(
            q.page.filter.outcomes,
            [Outcome::ServerError, Outcome::ClientError]
        );
    }
    let e = from_json::<EventsParams>(json!({"outcome": ["broken"]})).unwrap_err();
    assert!(e.contains("server_error"), "{e}");
    let e = crate::api::query::parse::<EventsParams>(Some("outcome=broken")).unwrap_err();
    assert_eq!(e.param, "outcome");
    let t: TimelineParams = from_json(json!({"outcome": ["failure"]})).unwrap();
    assert_eq!(t.resolve(now()).unwrap().0.outcomes, [Outcome::Failure]);
}
