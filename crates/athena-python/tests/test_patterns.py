"""The design's four usage patterns, against the Rust engine: basic ingestion, incremental
sync, a custom source, dependency injection."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

from athena_ingest import (
    BaseEventSource,
    Checkpoint,
    EpisodicEvent,
    EventSourceFactory,
    MemoryCursorStore,
    SqliteCursorStore,
    Store,
)

from conftest import commit, git


async def test_basic_ingestion(repo: Path, tmp_path: Path) -> None:
    factory = EventSourceFactory(cursor_store=MemoryCursorStore())
    source = await factory.create_source("git", "repo", {}, {"path": str(repo)})
    assert (source.source_id, source.source_type) == ("repo", "git")
    events = [e async for e in source.generate_events()]
    assert [e.title for e in events] == ["change 1", "change 2", "change 3"]
    first = events[0]
    assert first.event_type == "commit" == first.kind
    assert first.timestamp == datetime(2024, 5, 1, 10, 1, tzinfo=timezone.utc)
    assert first.timestamp.tzinfo is not None
    assert first.actor and "Ada" in first.actor
    assert first.context["source_id"] == "repo" and first.context["id"] == first.id
    assert first.session_id.startswith("repo")
    assert source.get_stats()["events_generated"] == 3
    assert factory.get_factory_stats()["events_generated"] == 3


async def test_incremental_sync(repo: Path, tmp_path: Path) -> None:
    cursors = SqliteCursorStore(tmp_path / "cursors.db")
    factory = EventSourceFactory(cursor_store=cursors)
    source = await factory.create_source("git", "repo", {}, {"path": str(repo)})
    assert len([e async for e in source.generate_events()]) == 3
    saved = await factory.save_cursor("repo")
    assert saved == source.get_cursor() and saved is not None

    commit(repo, 4)
    commit(repo, 5)
    again = EventSourceFactory(cursor_store=cursors)
    source = await again.create_source("git", "repo", {}, {"path": str(repo)})
    assert source.get_cursor() == saved, "the saved cursor was loaded"
    titles = [e.title async for e in source.generate_events()]
    assert titles == ["change 4", "change 5"]
    # config['cursor'] starts a source where it says.
    given = await again.create_source("git", "other", {}, {"path": str(repo), "cursor": saved})
    assert [e.title async for e in given.generate_events()] == ["change 4", "change 5"]


class Tickets(BaseEventSource):
    """A custom source: tickets 1..count, a checkpoint after every ``every``."""

    source_type = "tickets"

    async def generate_events(self):
        start = (self.cursor or {}).get("next", 1)
        count, every = self.config.get("count", 10), self.config.get("every", 3)
        for n in range(start, count + 1):
            yield EpisodicEvent(
                timestamp=datetime(2024, 5, 1, tzinfo=timezone.utc),
                event_type="ticket",
                context={"queue": "ops"},
                description=f"Ticket {n}\n\nbody {n}",
                outcome="success",
                session_id=f"ticket-{n}",
                id=f"T-{n}",
            )
            if n % every == 0 or n == count:
                yield Checkpoint({"next": n + 1})


@pytest.fixture
def tickets():
    EventSourceFactory.register_source("tickets", Tickets)
    yield
    EventSourceFactory.unregister_source("tickets")


async def test_custom_source(tickets, tmp_path: Path) -> None:
    assert EventSourceFactory.is_source_available("tickets")
    assert EventSourceFactory.get_registered_sources()["tickets"] is Tickets
    factory = EventSourceFactory(cursor_store=MemoryCursorStore())
    source = await factory.create_source("tickets", "t", {}, {"count": 7})
    events = [e async for e in source.generate_events()]
    assert [e.id for e in events] == [f"T-{n}" for n in range(1, 8)]
    assert all(e.source_id == "t" and e.source_type == "tickets" for e in events)
    assert source.get_cursor() == {"next": 8}, "checkpoints move the cursor, unseen"

    # The same class through the engine: stored once, and resumed from its checkpoint.
    store = Store(tmp_path / "athena.db")
    report = await store.sync([{"id": "t", "type": "tickets", "count": 7}])
    assert report["sources"][0]["status"] == "ok", report
    assert report["sources"][0]["events_written"] == 7
    again = await store.sync([{"id": "t", "type": "tickets", "count": 9}])
    assert again["sources"][0]["events_written"] == 2, again
    assert again["sources"][0]["duplicates"] == 0, "it resumed from its cursor"
    stored = store.events(source="t", limit=100)
    assert sorted(e.id for e in stored) == sorted(f"T-{n}" for n in range(1, 10))
    assert stored[0].title.startswith("Ticket") and stored[0].body.startswith("body")
    # The session each event was given reads back the same, through the factory and the store.
    assert {e.session_id for e in events} == {f"ticket-{n}" for n in range(1, 8)}
    by_id = {e.id: e.session_id for e in stored}
    assert by_id["T-3"] == "ticket-3" and by_id["T-9"] == "ticket-9"
    assert store.status()["sources"][0]["cursor"] == {"next": 10}


async def test_stored_events_naming_an_issue_share_its_session(repo: Path, tmp_path: Path) -> None:
    # Two commits naming PROJ-7 (one through a short SHA of the other), one naming nothing.
    git(repo, "commit", "-q", "--allow-empty", "-m", "Fix PROJ-7: crash on save")
    sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--allow-empty", "-m", f"Revert {sha[:9]}")
    store = Store(tmp_path / "athena.db")
    report = await store.sync([{"id": "repo", "type": "git", "path": str(repo)}])
    assert report["sources"][0]["events_written"] == 5, report
    sessions = {e.title: e.session_id for e in store.events(source="repo", limit=10)}
    assert sessions["Fix PROJ-7: crash on save"] == "key:PROJ-7"
    assert sessions[f"Revert {sha[:9]}"] == "key:PROJ-7"
    assert sessions["change 1"].startswith("repo"), sessions


async def test_dependency_injection(repo: Path, caplog) -> None:
    logger = logging.getLogger("my.app")
    cursors = MemoryCursorStore()
    factory = EventSourceFactory(logger=logger, cursor_store=cursors)
    with caplog.at_level(logging.INFO, logger="my.app"):
        source = await factory.create_source("git", "repo", {}, {"path": str(repo)})
    assert any("created source repo" in r.getMessage() for r in caplog.records)
    _ = [e async for e in source.generate_events()]
    await factory.save_cursor("repo")
    assert cursors.cursors["repo"][0] == "git"
    assert cursors.cursors["repo"][1] == source.get_cursor()
