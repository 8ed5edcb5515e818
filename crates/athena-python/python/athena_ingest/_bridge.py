"""The Python side of a Python source run by the engine (see ``src/python_source.rs``).

The engine calls these from threads of its own, each with its own asyncio loop: ``create``
when it builds the source, ``validate`` before it reads, and ``pump``, which runs the source's
``generate_events()`` and hands its events to the engine in batches through a ``Sink``.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

from ._native import EpisodicEvent

#: Events handed over without a checkpoint of their own, at most, in one batch: they are
#: stored, and the cursor moves only at the source's next checkpoint.
BATCH = 1000


def format_exception(error: BaseException) -> str:
    """The traceback of ``error``, as Python prints it."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def create(cls: Any, type_name: str, source_id: str, credentials: dict, config: dict) -> Any:
    """An instance of ``cls`` for the engine, made by its ``create`` classmethod."""
    from ._sources import BaseEventSource

    made = cls.create(credentials, dict(config, source_id=source_id))
    if asyncio.iscoroutine(made):
        made = asyncio.run(made)
    if isinstance(made, BaseEventSource):
        made._bind(source_id, type_name)
    return made


def validate(source: Any) -> bool:
    result = source.validate()
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return bool(result)


def pump(source: Any, cursor: Any, sink: Any) -> None:
    """Runs ``source.generate_events()`` to its end into ``sink``, starting after ``cursor``.
    It ends early, the generator cancelled, once the engine reads no more of the source."""
    asyncio.run(_pump(source, cursor, sink))


#: How often the pump looks whether the engine still reads, and how long events may wait
#: without a checkpoint before they are handed over anyway (a slow source's events).
TICK = 0.1
STALE = 1.0


class _Pending:
    """Events not handed over yet, and since when the oldest waits."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.items: list = []
        self.since = 0.0

    def add(self, item: Any) -> None:
        if not self.items:
            self.since = time.monotonic()
        self.items.append(item)
        if len(self.items) >= BATCH:
            self.flush()

    def flush(self, has_cursor: bool = False, cursor: Any = None) -> None:
        items, self.items = self.items, []
        if items or has_cursor:
            self.sink.put(items, has_cursor, cursor)


async def _pump(source: Any, cursor: Any, sink: Any) -> None:
    pending = _Pending(sink)
    reading = asyncio.ensure_future(_read(source, cursor, pending))
    while not reading.done():
        await asyncio.wait({reading}, timeout=TICK)
        if reading.done():
            break
        if sink.stopped():
            reading.cancel()
            break
        if pending.items and time.monotonic() - pending.since >= STALE:
            pending.flush()
    try:
        await reading
    except asyncio.CancelledError:
        # The engine stopped reading (a failure elsewhere, a cancelled sync): nothing to hand.
        pass


async def _read(source: Any, cursor: Any, pending: _Pending) -> None:
    from ._sources import BaseEventSource, Checkpoint, _as_event

    if hasattr(source, "set_cursor"):
        source.set_cursor(cursor)
    own = isinstance(source, BaseEventSource)
    raw = type(source)._generate_raw if own else None
    generator = raw(source) if raw is not None else source.generate_events()
    try:
        async for item in generator:
            if isinstance(item, Checkpoint):
                if own:
                    source.cursor = item.cursor
                pending.flush(True, item.cursor)
                continue
            if own:
                item = _as_event(source, item)
                if not source._validate_event(item):
                    source._stats["events_invalid"] += 1
                    continue
                source._log_event_generated(item)
            elif not isinstance(item, (EpisodicEvent, dict)):
                raise TypeError(
                    f"{type(source).__name__}.generate_events yielded {type(item).__name__}: "
                    "yield EpisodicEvent, a dict with its fields, or Checkpoint(cursor)"
                )
            pending.add(item)
        # The end: what is left, with the source's own cursor if it keeps one.
        final = getattr(source, "cursor", None)
        pending.flush(final is not None, final)
    finally:
        await generator.aclose()
