"""Python sources through the engine: exactly once into the store, through a failure and
through SIGKILL."""

from __future__ import annotations

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
    import asyncio, sys, time
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
    print(report["sources"][0]["status"])
    """
)


def stored(db: Path) -> list:
    import sqlite3

    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("SELECT id FROM events WHERE source_id = 'slow'")]


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
    done = subprocess.run([sys.executable, str(script), str(db)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    ids = stored(db)
    assert len(ids) == 300 and len(set(ids)) == 300, (len(ids), len(set(ids)))


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
