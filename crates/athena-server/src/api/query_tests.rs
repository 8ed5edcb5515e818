use athena_core::recall::{Bucket, Order, PageCursor, QueryKey};
use athena_core::EventQuery;
use chrono::{DateTime, Utc};

use super::*;
use crate::api::handlers::FormatQuery;
use crate::recall::params::{EventsParams, EventsQuery, Format, NoParams, TimelineParams};

fn now() -> DateTime<Utc> {
    "2024-05-10T12:00:00Z".parse().unwrap()
}

fn events(query: &str) -> Result<EventsQuery, ParamError> {
    parse::<EventsParams>(Some(query))?.resolve(now())
}

fn timeline(query: &str) -> Result<(EventQuery, Bucket), ParamError> {
    parse::<TimelineParams>(Some(query))?.resolve(now())
}

fn err(r: Result<EventsQuery, ParamError>) -> ParamError {
    r.expect_err("refused")
}

#[test]
fn repeatable_filters_defaults_and_values() {
    let p = events(
        "source=a&source=b%2Fc&kind=commit&actor=ada&q=fix+bug&since=7d&until=2024-05-09&order=asc&limit=3&format=athena",
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
    let d = parse::<EventsParams>(None).unwrap().resolve(now()).unwrap();
    assert_eq!(
        (d.page.order, d.page.limit, d.format),
        (Order::Desc, 50, Format::Jsonl)
    );
    assert!(d.page.after.is_none());
}

#[test]
fn a_cache_buster_is_let_through_and_a_typo_is_not() {
    assert!(events("limit=3&_=1700000000000").is_ok());
    assert!(timeline("_=1").is_ok());
    assert!(events("limit=3&__=1").is_err());
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
        ("actor=a&actor=b", "actor"),
    ] {
        assert_eq!(err(events(query)).param, param, "{query}");
    }
    let e = err(events("limit=1001"));
    assert_eq!(
        e.to_string(),
        "parameter limit: 1001 is not a number from 1 to 1000"
    );
    let e = err(events("sources=a"));
    assert!(e.message.contains("takes since, until, source"), "{e}");
    let cursor = PageCursor {
        order: Order::Asc,
        occurred_at_ms: 1,
        seq: 2,
    }
    .to_text(QueryKey::new(&EventQuery::default(), None, None));
    assert!(events(&format!("order=asc&cursor={cursor}")).is_ok());
    assert_eq!(err(events(&format!("cursor={cursor}"))).param, "cursor");
    assert_eq!(timeline("bucket=year").unwrap_err().param, "bucket");
    assert_eq!(timeline("limit=5").unwrap_err().param, "limit");
    assert!(
        timeline("q=x").is_ok(),
        "the timeline takes the search of the list"
    );
    assert_eq!(
        parse::<FormatQuery>(Some("format=athena")).unwrap().format,
        Format::Athena
    );
    assert_eq!(
        parse::<FormatQuery>(Some("limit=1")).unwrap_err().param,
        "limit"
    );
    let none = parse::<NoParams>(Some("a=1")).unwrap_err();
    assert_eq!(none.param, "a");
    assert!(none.message.contains("takes no parameters"), "{none}");
    assert!(parse::<NoParams>(None).is_ok());
    assert_eq!(timeline("bucket=week&source=a").unwrap().1, Bucket::Week);
    assert_eq!(timeline("bucket=month").unwrap().1, Bucket::Month);
}

/// `actor=%00` matched every event, and `q=%ff%fe` was read as two replacement characters
/// (200, nothing found) where the event route answers 400.
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
        ("cursor=%00", "cursor"),
        ("since=%00", "since"),
    ] {
        let e = err(events(query));
        assert_eq!(e.param, param, "{query}");
    }
    assert_eq!(timeline("source=%00").unwrap_err().param, "source");
    assert_eq!(
        parse::<FormatQuery>(Some("format=%ff")).unwrap_err().param,
        "format"
    );
    // Percent-encoded UTF-8, and `+` as a space, are read as before.
    let p = events("actor=J%C3%B6rg&q=fix+bug%21").unwrap();
    assert_eq!(p.page.filter.actor.as_deref(), Some("Jörg"));
    assert_eq!(p.page.filter.search.as_deref(), Some("fix bug!"));
}

/// `since` after `until` answered 200 with nothing.
#[test]
fn regression_since_after_until_is_refused_naming_both() {
    for q in ["since=2024-05-02&until=2024-05-01", "since=1d&until=2d"] {
        let e = err(events(q));
        assert_eq!(e.param, "since", "{q}");
        assert!(e.message.contains("after until"), "{q}: {e}");
        assert_eq!(timeline(q).unwrap_err().param, "since");
    }
    assert!(events("since=2024-05-01&until=2024-05-01").is_ok());
}
