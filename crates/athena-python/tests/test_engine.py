"""Python sources through the engine: exactly once into the store, through a failure and
through SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

from athena_ingest import BaseEventSource, Checkpoint, EventSourceFactory, Store


class Failing(BaseEventSource):
    source_type = "failing"

    async def generate_events(self):
        for n in range(1, 6):
            yield {
                "timestamp": datetime(2024, 5, 1, tzinfo=timezone.utc),
                "event_type": "step",
                "description": f"step {n}",
                "id": f"s{n}",
            }
        yield Checkpoint({"done": 5})
        yield {"timestamp": "2024-05-01T00:00:00Z", "event_type": "step", "description": "6", "id": "s6"}
        raise RuntimeError("the queue went away")


async def test_a_python_source_raising_fails_that_source_with_its_traceback(tmp_path: Path) -> None:
    EventSourceFactory.register_source("failing", Failing)
    try:
        store = Store(tmp_path / "athena.db")
        report = await store.sync([{"id": "f", "type": "failing"}])
    finally:
        EventSourceFactory.unregister_source("failing")
    s = report["sources"][0]
    assert s["status"] == "failed", report
    assert "RuntimeError: the queue went away" in s["error"], s["error"]
    assert "Traceback" in s["error"] and "generate_events" in s["error"], s["error"]
    # The events before the checkpoint are stored with it; the one after it is not.
    assert sorted(e.id for e in store.events(source="f")) == [f"s{n}" for n in range(1, 6)]
    assert store.status()["sources"][0]["cursor"] == {"done": 5}


KILLED = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from athena_ingest import BaseEventSource, Checkpoint, EventSourceFactory, Store

    class Slow(BaseEventSource):
        source_type = "slow"

        async def generate_events(self):
            start = (self.cursor or {}).get("next", 0)
            for n in range(start, 300):
                yield {"timestamp": "2024-05-01T00:00:00Z", "event_type": "tick",
                       "description": f"tick {n}", "id": f"t{n}"}
                if n % 10 == 9:
                    yield Checkpoint({"next": n + 1})
                    time.sleep(0.01)

    EventSourceFactory.register_source("slow", Slow)
    report = asyncio.run(Store(sys.argv[1]).sync([{"id": "slow", "type": "slow"}]))
    print(json.dumps(report["sources"][0]))
    """
)


def stored(db: Path) -> list:
    import sqlite3

    with sqlite3.connect(db) as c:
        try:
            return [r[0] for r in c.execute("SELECT id FROM events WHERE source_id = 'slow'")]
        except sqlite3.OperationalError as e:
            # The sync has made the file but not yet its schema: nothing is stored.
            if "no such table" in str(e):
                return []
            raise


def test_a_python_source_killed_mid_sync_stores_every_event_exactly_once(tmp_path: Path) -> None:
    script, db = tmp_path / "run.py", tmp_path / "athena.db"
    script.write_text(KILLED)
    kills = 0
    for _ in range(3):
        child = subprocess.Popen([sys.executable, str(script), str(db)])
        deadline = time.monotonic() + 30
        # Kill it once some events are committed (and before it ends).
        while time.monotonic() < deadline and child.poll() is None:
            if db.exists() and len(stored(db)) >= 40 * (kills + 1):
                break
            time.sleep(0.02)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            kills += 1
    assert kills >= 1, "no run was killed mid-sync"
    before = len(stored(db))
    done = subprocess.run([sys.executable, str(script), str(db)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout)
    assert last["status"] == "ok", last
    # It went on from the last checkpoint committed: what it wrote is what was missing, and
    # what it read again is at most the events after that checkpoint (under ten).
    assert before >= 40 and last["events_written"] == 300 - before, (before, last)
    assert last["duplicates"] < 10, last
    assert len(stored(db)) == 300
    import sqlite3

    with sqlite3.connect(db) as c:
        (cursor,) = c.execute("SELECT cursor FROM cursors WHERE source_id = 'slow'").fetchone()
    assert json.loads(cursor) == {"next": 300}


class Endless(BaseEventSource):
    source_type = "endless"

    async def generate_events(self):
        n = (self.cursor or {}).get("next", 0)
        while True:
            yield {"timestamp": "2024-05-01T00:00:00Z", "event_type": "tick",
                   "description": f"tick {n}", "id": f"e{n}"}
            n += 1
            if n % 100 == 0:
                yield Checkpoint({"next": n})
                time.sleep(0.005)


async def test_cancelling_a_sync_commits_what_was_read_and_stops(tmp_path: Path) -> None:
    import asyncio

    from athena_ingest import running_streams

    EventSourceFactory.register_source("endless", Endless)
    try:
        store = Store(tmp_path / "athena.db")
        sync = asyncio.ensure_future(store.sync([{"id": "e", "type": "endless"}]))
        await asyncio.sleep(0.5)
        sync.cancel()
        started = time.monotonic()
        try:
            await sync
        except asyncio.CancelledError:
            pass
        assert time.monotonic() - started < 5
    finally:
        EventSourceFactory.unregister_source("endless")
    status = store.status()["sources"][0]
    assert status["last_status"] == "interrupted", status
    stored = store.events(source="e", limit=100_000)
    assert len(stored) == status["cursor"]["next"] and len(stored) >= 100, len(stored)
    deadline = time.monotonic() + 5
    while running_streams() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert running_streams() == 0


class Idle(BaseEventSource):
    source_type = "idle"

    async def generate_events(self):
        import asyncio

        yield {"timestamp": "2024-05-01T00:00:00Z", "event_type": "tick", "description": "one", "id": "i1"}
        while True:  # waits for something new, handing nothing over
            await asyncio.sleep(60)


async def test_a_cancelled_sync_ends_a_python_source_that_waits_for_more(tmp_path: Path) -> None:
    import asyncio

    from athena_ingest import running_streams

    EventSourceFactory.register_source("idle", Idle)
    try:
        store = Store(tmp_path / "athena.db")
        sync = asyncio.ensure_future(store.sync([{"id": "i", "type": "idle"}]))
        await asyncio.sleep(1.5)
        # Its one event was handed over though no checkpoint came (it waited over a second).
        assert running_streams() == 1
        sync.cancel()
        started = time.monotonic()
        try:
            await sync
        except asyncio.CancelledError:
            pass
        while running_streams() and time.monotonic() - started < 5:
            await asyncio.sleep(0.01)
        assert running_streams() == 0, "the Python source's thread is still running"
        assert time.monotonic() - started < 2
    finally:
        EventSourceFactory.unregister_source("idle")
    assert [e.id for e in store.events(source="i")] == ["i1"]


class Leaky(BaseEventSource):
    """Registered without a source_type of its own; fails quoting its credential."""

    async def generate_events(self):
        yield {"timestamp": "2024-05-01T00:00:00Z", "event_type": "x", "description": "x", "id": "x1"}
        raise RuntimeError(f"GET https://api.example/items?key={self.credentials['api_key']} failed")


async def test_a_python_sources_credentials_are_masked_and_its_registered_name_is_its_type(
    tmp_path: Path,
) -> None:
    from athena_ingest import MemoryCursorStore

    secret = "sk-live-0123456789abcdef"
    EventSourceFactory.register_source("leaky", Leaky)
    try:
        store = Store(tmp_path / "athena.db")
        report = await store.sync(
            [{"id": "l", "type": "leaky", "credentials": {"api_key": secret}}]
        )
        factory = EventSourceFactory(cursor_store=MemoryCursorStore())
        source = await factory.create_source("leaky", "l2", {"api_key": secret}, {})
    finally:
        EventSourceFactory.unregister_source("leaky")
    s = report["sources"][0]
    assert s["status"] == "failed" and "failed" in s["error"], s
    assert secret not in s["error"], s["error"]
    assert secret not in json.dumps(store.status())
    assert s["type"] == "leaky" and source.source_type == "leaky"
    assert secret not in repr(source)
