use athena_core::{Cursor, RunStatus};
use serde_json::json;

use super::*;

fn event() -> Event {
    let at: DateTime<Utc> = "2024-05-02T13:45:10.250Z".parse().unwrap();
    let mut e = Event::new("C1:1", "message", at, "hi");
    e.source_id = "slack".into();
    e.source_type = "slack".into();
    e.ingested_at = Some("2024-05-02T14:00:00Z".parse().unwrap());
    e.actor = Some("ada".into());
    e.body = "hi all".into();
    e.url = Some("https://example.invalid/1".into());
    e.outcome = Some(Outcome::ClientError);
    e.context.insert("channel".into(), json!("C1"));
    e.metadata.insert("edited".into(), json!(false));
    e
}

/// The API's event is `events --format jsonl`'s, field for field.
#[test]
fn an_event_is_written_as_the_cli_writes_it() {
    for e in [event(), Event::new("x", "commit", Utc::now(), "t")] {
        let ours = serde_json::to_string(&EventJson::from(e.clone())).unwrap();
        assert_eq!(ours, serde_json::to_string(&e).unwrap());
    }
}

#[test]
fn a_source_row_is_what_status_json_printed() {
    let status = SourceStatus {
        source_id: "gh".into(),
        source_type: Some("github".into()),
        cursor: Some(Cursor::from_json(json!({"version": 1, "etag": "x"}))),
        events: 3,
        dead_letters: 1,
        last_sync: Some("2024-05-02T13:45:10Z".parse().unwrap()),
        last_status: Some(RunStatus::Failed),
        last_error: Some("boom".into()),
        last_error_kind: Some("http".into()),
        worker: None,
        priority: Some(3),
        kinds: vec![athena_core::KindCount {
            kind: "issue".into(),
            events: 3,
        }],
    };
    assert_eq!(
        serde_json::to_value(Sources::new(vec![status])).unwrap(),
        json!({"sources": [{
            "id": "gh", "type": "github", "cursor": {"version": 1, "etag": "x"},
            "events": 3, "dead_letters": 1, "last_sync": "2024-05-02T13:45:10Z",
            "last_status": "failed", "last_error": "boom", "error_kind": "http", "worker": null,
            "priority": 3, "kinds": [{"kind": "issue", "events": 3}],
        }]})
    );
}

#[test]
fn a_timeline_is_rows_of_bucket_source_and_count() {
    let start: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().unwrap();
    let t = Timeline::new(
        Bucket::Day,
        vec![
            TimelineCount {
                start,
                source_id: "a".into(),
                count: 2,
            },
            TimelineCount {
                start,
                source_id: "b".into(),
                count: 1,
            },
        ],
    );
    assert_eq!(t.total(), 3);
    assert_eq!(
        serde_json::to_value(&t).unwrap(),
        json!({"bucket": "day", "counts": [
            {"start": "2024-05-01T00:00:00Z", "source": "a", "count": 2},
            {"start": "2024-05-01T00:00:00Z", "source": "b", "count": 1},
        ], "match": null, "note": null})
    );
}

/// Every field an answer writes is required in its schema, so a client may rely on it.
#[test]
fn the_answers_schemas_require_every_field_they_write() {
    let answers = crate::recall::schema::answers;
    let page = crate::recall::schema::object::<EventsPage>(answers());
    assert_eq!(
        page["required"],
        json!(["events", "next_cursor", "match", "note"])
    );
    assert_eq!(
        page["properties"]["match"]["anyOf"][0]["$ref"],
        "#/$defs/MatchKind"
    );
    let event = &page["$defs"]["Event"];
    // All but `metadata`, which a page leaves out unless `include_metadata`.
    assert_eq!(event["required"].as_array().unwrap().len(), 12, "{event}");
    assert!(event["properties"]["metadata"].is_object(), "{event}");
    assert_eq!(event["properties"]["outcome"]["enum"][2], "client_error");
    let one = crate::recall::schema::object::<EventView>(answers());
    assert_eq!(one["type"], "object");
    assert_eq!(one["anyOf"].as_array().unwrap().len(), 2, "{one:?}");
    let sources = crate::recall::schema::object::<Sources>(answers());
    let row = &sources["$defs"]["SourceRow"];
    assert_eq!(row["required"].as_array().unwrap().len(), 12, "{row}");
    assert!(row["properties"]["type"].is_object());
}
