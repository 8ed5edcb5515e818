"""EpisodicEvent: the design's six fields and ours, the mapping `--format athena` uses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from athena_ingest import EpisodicEvent


def made(**extra) -> EpisodicEvent:
    return EpisodicEvent(
        datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        "deploy",
        {"env": "prod"},
        "Deployed api\n\nall checks green",
        "failure",
        "release-42",
        **extra,
    )


def test_an_event_from_the_six_fields_derives_ours() -> None:
    e = made()
    assert e.timestamp == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert e.timestamp.utcoffset() == timedelta(0)
    assert (e.kind, e.title, e.body) == ("deploy", "Deployed api", "all checks green")
    assert e.description == "Deployed api\n\nall checks green"
    assert (e.outcome, e.session_id) == ("failure", "release-42")
    assert e.context["env"] == "prod"
    # The session it was given is kept in its context, so it reads back from a store the same.
    assert e.own_context == {"env": "prod", "session_id": "release-42"}
    assert len(e.id) == 16 and e.id == made().id, "the id is derived from what it says"
    assert e == made() and e != made(id="other") and e != "deploy"
    assert hash(e) == hash(made())
    d = e.to_dict()
    assert d["timestamp"] == e.timestamp and d["metadata"] == {}
    assert set(d) >= {"timestamp", "event_type", "context", "description", "outcome",
                      "session_id", "id", "source_id", "kind", "actor", "title", "body", "url"}
    assert "deploy" in repr(e) and "Deployed api" in repr(e)


def test_our_fields_given_win_and_bad_values_are_named() -> None:
    e = made(id="D-1", actor="ada", url="https://ci/1", metadata={"build": 7})
    assert (e.id, e.actor, e.url, e.metadata) == ("D-1", "ada", "https://ci/1", {"build": 7})
    assert e.context["actor"] == "ada" and e.context["metadata"] == {"build": 7}
    naive = EpisodicEvent(datetime(2024, 5, 1, 12), "x", description="t")
    assert naive.timestamp == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="outcome"):
        EpisodicEvent("2024-05-01T00:00:00Z", "x", outcome="meh")
    with pytest.raises(TypeError, match="context"):
        EpisodicEvent("2024-05-01T00:00:00Z", "x", context=[1, 2])
    with pytest.raises(ValueError, match="timestamp"):
        EpisodicEvent("not a time", "x")
    with pytest.raises(ValueError, match="relative"):
        EpisodicEvent("7d", "x")
