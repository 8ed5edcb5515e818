#!/usr/bin/env python3
"""The Python package's benchmark (run by scripts/bench-python.sh, with the release wheel
installed): one measurement per call, printed as `key value` lines.

  iterate LOG          1M-line log through EventSourceFactory's api_log source and
                       `async for`: events/s, and the growth of peak RSS over the RSS before
  engine LOG DB        the same lines from a source written in Python (a regex per line,
                       a checkpoint every 10,000 lines) into the store through the engine
  executemany LOG DB   the same parsing in pure Python, written to SQLite with executemany
                       (one table, a unique key, one transaction per 10,000 lines)
"""

from __future__ import annotations

import asyncio
import re
import resource
import sqlite3
import sys
import time
from datetime import datetime

LINE = re.compile(
    r'(?P<addr>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+)[^"]*" '
    r"(?P<status>\d{3}) (?P<bytes>\S+)"
)
BATCH = 10_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse(n: int, line: str):
    m = LINE.match(line)
    if m is None:
        return None
    status = int(m["status"])
    return {
        "id": f"line-{n}",
        "timestamp": datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z"),
        "event_type": "http_request",
        "description": f"{m['method']} {m['path']} → {status}",
        "actor": m["addr"],
        "outcome": "success" if status < 400 else ("client_error" if status < 500 else "server_error"),
        "context": {"line": n},
    }


async def iterate(log: str) -> None:
    from athena_ingest import EventSourceFactory, MemoryCursorStore

    factory = EventSourceFactory(cursor_store=MemoryCursorStore())
    source = await factory.create_source("api_log", "web", {}, {"paths": [log]})
    before = rss_mb()
    start = time.perf_counter()
    count = 0
    titles = 0
    async for event in source.generate_events():
        count += 1
        titles += len(event.title)
    wall = time.perf_counter() - start
    print(f"events {count}")
    print(f"seconds {wall:.3f}")
    print(f"events_per_s {count / wall:.0f}")
    print(f"rss_growth_mb {max(0.0, peak_mb() - before):.1f}")


def engine(log: str, db: str) -> None:
    from athena_ingest import BaseEventSource, Checkpoint, EventSourceFactory, Store

    class LogLines(BaseEventSource):
        source_type = "py_log"

        async def generate_events(self):
            skip = (self.cursor or {}).get("line", 0)
            with open(self.config["path"], encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    if n <= skip:
                        continue
                    event = parse(n, line)
                    if event is not None:
                        yield event
                    if n % BATCH == 0:
                        yield Checkpoint({"line": n})
            yield Checkpoint({"line": n})

    EventSourceFactory.register_source("py_log", LogLines)
    start = time.perf_counter()
    report = asyncio.run(Store(db).sync([{"id": "py", "type": "py_log", "path": log}]))
    wall = time.perf_counter() - start
    s = report["sources"][0]
    assert s["status"] == "ok", report
    print(f"events {s['events_written']}")
    print(f"seconds {wall:.3f}")


def executemany(log: str, db: str) -> None:
    start = time.perf_counter()
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT,"
        " occurred_at INTEGER, actor TEXT, title TEXT, outcome TEXT, context TEXT)"
    )
    rows = []
    written = 0

    def flush() -> None:
        nonlocal rows, written
        with c:
            c.executemany("INSERT OR IGNORE INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)", rows)
        written += len(rows)
        rows = []

    with open(log, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            e = parse(n, line)
            if e is not None:
                rows.append((
                    e["id"], e["event_type"], int(e["timestamp"].timestamp() * 1000),
                    e["actor"], e["description"], e["outcome"], f'{{"line":{n}}}',
                ))
            if len(rows) >= BATCH:
                flush()
    flush()
    c.close()
    wall = time.perf_counter() - start
    print(f"events {written}")
    print(f"seconds {wall:.3f}")


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "iterate":
        asyncio.run(iterate(*rest))
    elif mode == "engine":
        engine(*rest)
    elif mode == "executemany":
        executemany(*rest)
    else:
        sys.exit(f"unknown mode {mode}")
