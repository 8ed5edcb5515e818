"""The Python side of a Python source run by the engine (see ``src/python_source.rs``).

The engine calls these from threads of its own, each with its own asyncio loop: ``create``
when it builds the source, ``validate`` before it reads, and ``pump``, which runs the source's
``generate_events()`` and hands its events to the engine in batches through a ``Sink``.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

from ._native import EpisodicEvent

#: Events handed over without a checkpoint of their own, at most, in one batch: they are
#: stored, and the cursor moves only at the source's next checkpoint.
BATCH = 1000


def format_exception(error: BaseException) -> str:
    """The traceback of ``error``, as Python prints it."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def create(cls: Any, source_id: str, credentials: dict, config: dict) -> Any:
    """An instance of ``cls`` for the engine, made by its ``create`` classmethod."""
    from ._sources import BaseEventSource

    made = cls.create(credentials, dict(config, source_id=source_id))
    if asyncio.iscoroutine(made):
        made = asyncio.run(made)
    if isinstance(made, BaseEventSource):
        made._bind(source_id)
    return made


def validate(source: Any) -> bool:
    result = source.validate()
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return bool(result)


def pump(source: Any, cursor: Any, sink: Any) -> None:
    """Runs ``source.generate_events()`` to its end into ``sink``, starting after ``cursor``."""
    asyncio.run(_pump(source, cursor, sink))


async def _pump(source: Any, cursor: Any, sink: Any) -> None:
    from ._sources import BaseEventSource, Checkpoint, _as_event

    if hasattr(source, "set_cursor"):
        source.set_cursor(cursor)
    own = isinstance(source, BaseEventSource)
    raw = type(source)._generate_raw if own else None
    generator = raw(source) if raw is not None else source.generate_events()
    pending: list = []
    try:
        async for item in generator:
            if isinstance(item, Checkpoint):
                if own:
                    source.cursor = item.cursor
                sink.put(pending, True, item.cursor)
                pending = []
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
            pending.append(item)
            if len(pending) >= BATCH:
                sink.put(pending, False)
                pending = []
        # The end: what is left, with the source's own cursor if it keeps one.
        final = getattr(source, "cursor", None)
        if final is not None:
            sink.put(pending, True, final)
        elif pending:
            sink.put(pending, False)
    finally:
        await generator.aclose()
