"""Sources as async generators: the interface every source has (``EventSource``), the class a
source written in Python subclasses (``BaseEventSource``), and the built-in Rust sources as
the factory hands them out (``NativeEventSource``)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator, ClassVar, Dict, Optional, Union

from ._native import EpisodicEvent

EventLike = Union[EpisodicEvent, Dict[str, Any]]


class Checkpoint:
    """A resume point a source yields between its events: ``cursor`` (anything JSON can
    hold) is true once every event yielded before it is stored. The engine commits those
    events and this cursor in one transaction; the next sync hands the cursor back."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def __repr__(self) -> str:
        return f"Checkpoint({self.cursor!r})"


class EventSource:
    """What every source offers: ``generate_events()`` (an async generator of
    ``EpisodicEvent``), ``validate()``, ``get_stats()``, ``get_cursor()``/``set_cursor()``,
    ``close()``, and ``async with``."""

    source_id: str = ""
    source_type: ClassVar[str] = ""
    source_name: str = ""

    def generate_events(self) -> AsyncIterator[EpisodicEvent]:  # pragma: no cover - abstract
        raise NotImplementedError

    async def validate(self) -> bool:
        return True

    def get_stats(self) -> Dict[str, Any]:
        return {}

    def get_cursor(self) -> Any:
        return None

    def set_cursor(self, cursor: Any) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> "EventSource":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source_type}:{self.source_id}>"


def _as_event(source: "BaseEventSource", item: EventLike) -> EpisodicEvent:
    if isinstance(item, dict):
        item = EpisodicEvent(**item)
    if not isinstance(item, EpisodicEvent):
        raise TypeError(
            f"{type(source).__name__}.generate_events yielded {type(item).__name__}: "
            "yield EpisodicEvent, a dict with its fields, or Checkpoint(cursor)"
        )
    if not item.source_id:
        item = item.with_source(source.source_id, source.source_type)
    return item


class BaseEventSource(EventSource):
    """The class a source written in Python subclasses.

    Override ``generate_events`` (an async generator yielding ``EpisodicEvent``s, or dicts
    with the same fields, and ``Checkpoint(cursor)`` where it can resume), and where needed
    ``create`` (a classmethod making the source from its credentials and config) and
    ``validate``. Registered with ``EventSourceFactory.register_source``, it is a source type
    like the built-in ones, for the factory and for ``Store.sync``, where its events and
    checkpoints commit exactly once.

    Iterated directly (or through the factory), the checkpoints are not yielded: they move
    ``self.cursor``, which ``get_cursor()`` returns. ``self.cursor`` is also where a sync
    hands back the cursor the source last committed: read it in ``generate_events`` to resume.
    """

    source_type: ClassVar[str] = "custom"
    #: The generate_events the subclass wrote, checkpoints included (the engine reads this).
    _generate_raw: ClassVar[Any] = None

    def __init__(
        self,
        source_id: str = "",
        source_name: Optional[str] = None,
        config: Optional[Dict[str, Any]] = None,
        credentials: Optional[Dict[str, Any]] = None,
        logger: Optional[logging.Logger] = None,
    ) -> None:
        self.source_id = source_id
        self.source_name = source_name or f"{self.source_type} {source_id}".strip()
        self.config: Dict[str, Any] = dict(config or {})
        self._credentials: Dict[str, Any] = dict(credentials or {})
        self.logger = logger or logging.getLogger(f"athena_ingest.sources.{self.source_type}")
        self.cursor: Any = None
        self._stats: Dict[str, Any] = {"events_generated": 0, "events_invalid": 0}
        self._started: Optional[float] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get("generate_events")
        if raw is None:
            return
        cls._generate_raw = raw

        async def generate_events(self: BaseEventSource) -> AsyncIterator[EpisodicEvent]:
            self._started = time.monotonic()
            async for item in raw(self):
                if isinstance(item, Checkpoint):
                    self.cursor = item.cursor
                    continue
                event = _as_event(self, item)
                if not self._validate_event(event):
                    self._stats["events_invalid"] += 1
                    continue
                self._log_event_generated(event)
                yield event

        generate_events.__doc__ = raw.__doc__
        generate_events.__name__ = "generate_events"
        generate_events.__qualname__ = f"{cls.__qualname__}.generate_events"
        cls.generate_events = generate_events  # type: ignore[method-assign]

    @classmethod
    async def create(cls, credentials: Dict[str, Any], config: Dict[str, Any]) -> "BaseEventSource":
        """Makes the source. ``config['source_id']`` is its id; the default passes
        ``credentials`` and ``config`` to ``__init__``."""
        config = dict(config)
        source_id = str(config.pop("source_id", ""))
        return cls(source_id=source_id, config=config, credentials=credentials)

    def _bind(self, source_id: str, source_type: Optional[str] = None) -> None:
        """Takes the id and the type name it was created under (the name it was registered
        with wins over the class's ``source_type``, as it does in the engine)."""
        if source_type:
            self.source_type = source_type  # type: ignore[misc]
        if not self.source_id:
            self.source_id = source_id
            self.source_name = f"{self.source_type} {source_id}"

    @property
    def credentials(self) -> Dict[str, Any]:
        """The source's secrets (never in its repr, logs or errors)."""
        return self._credentials

    def _log_event_generated(self, event: EpisodicEvent) -> None:
        """Counts an event (``get_stats()['events_generated']``) and logs it at debug."""
        self._stats["events_generated"] += 1
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("%s: %s %s", self.source_id, event.event_type, event.id)

    def _validate_event(self, event: EpisodicEvent) -> bool:
        """Whether an event may be yielded: it has an id, a type and a title. Override to
        check more; an invalid event is counted (``events_invalid``) and left out."""
        return bool(event.id and event.event_type and event.title)

    def get_stats(self) -> Dict[str, Any]:
        stats = dict(self._stats)
        if self._started is not None:
            stats["duration"] = time.monotonic() - self._started
        return stats

    def get_cursor(self) -> Any:
        return self.cursor

    def set_cursor(self, cursor: Any) -> None:
        self.cursor = cursor


class NativeEventSource(EventSource):
    """A built-in source (git, files, api_log, github, …) as the factory makes it: the Rust
    source reads on the package's runtime while ``generate_events`` hands its events over in
    batches, the GIL released in between. Leaving the loop, ``close()`` or the end of an
    ``async with`` stops the Rust source."""

    def __init__(self, native: Any, logger: Optional[logging.Logger] = None) -> None:
        self._native = native
        self.source_id = native.source_id
        self.source_name = native.source_name
        self.logger = logger or logging.getLogger("athena_ingest")
        self._cursor: Any = None
        self.last_error: Optional[BaseException] = None

    @property
    def source_type(self) -> str:  # type: ignore[override]
        return self._native.source_type

    @property
    def running(self) -> bool:
        """Whether the Rust source is reading now."""
        return self._native.running

    async def generate_events(self) -> AsyncIterator[EpisodicEvent]:
        """The events after the cursor (``get_cursor()``; None: from the beginning). After
        each batch's last event, ``get_cursor()`` is the cursor true for every event yielded;
        events after it come again from that cursor."""
        native = self._native
        start = None if self._cursor is None else json.dumps(self._cursor)
        await asyncio.to_thread(native.start, start)
        try:
            while True:
                batch = await asyncio.to_thread(native.next_batch)
                if batch is None:
                    return
                events, checkpoint = batch
                if not events:
                    self._cursor = json.loads(checkpoint)
                    continue
                last = len(events) - 1
                for i, event in enumerate(events):
                    if i == last:
                        self._cursor = json.loads(checkpoint)
                    yield event
        finally:
            await _close(native)

    async def validate(self) -> bool:
        """Runs the source's health check: True if it passes; else False, with the error in
        ``last_error`` (and the log)."""
        try:
            await asyncio.to_thread(self._native.validate)
        except Exception as e:  # the error of its kind, kept for the caller
            self.last_error = e
            self.logger.warning("%s", e)
            return False
        self.last_error = None
        return True

    async def check(self) -> None:
        """Runs the health check, raising the error of its kind if it fails."""
        await asyncio.to_thread(self._native.validate)

    def get_stats(self) -> Dict[str, Any]:
        return dict(self._native.stats())

    def get_cursor(self) -> Any:
        return self._cursor

    def set_cursor(self, cursor: Any) -> None:
        self._cursor = cursor

    async def close(self) -> None:
        """Stops the Rust source, even while a loop over it waits for its next batch."""
        await _close(self._native)


async def _close(native: Any) -> None:
    """Closes a native source without blocking the event loop (its stream's task is waited
    for in a worker thread); with no loop left to run one (a generator finalised at exit),
    in this thread."""
    try:
        await asyncio.to_thread(native.close)
    except RuntimeError:
        native.close()
