"""athena_ingest: episodic events out of git, logs, GitHub, Slack and more, exactly once.

The design's API over the Rust engine:

- ``EventSourceFactory``: source types by name (every built-in one, plus Python classes
  registered with ``register_source``); ``await factory.create_source(type, id, credentials,
  config)``.
- Sources are async generators: ``async for event in source.generate_events()``.
- ``EpisodicEvent``: the design's fields (``timestamp``, ``event_type``, ``context``,
  ``description``, ``outcome``, ``session_id``) and ours (``id``, ``source_id``, ``kind``,
  ``actor``, ``title``, ``body``, ``url``, ``metadata``).
- ``BaseEventSource``: subclass it to write a source in Python; ``Checkpoint(cursor)`` marks
  where it can resume.
- ``Store``: ``await store.sync(...)`` runs sources into a store file exactly once;
  ``store.events(...)`` and ``store.status()`` read it back.
- ``CursorStore``: where the factory keeps cursors (``SqliteCursorStore``, the default).
"""

from ._native import (
    AthenaError,
    ConfigError,
    CursorError,
    EpisodicEvent,
    HttpError,
    RateLimitedError,
    SourceIOError,
    StoreError,
    UnauthorizedError,
    running_streams,
)
from ._cursors import CursorStore, MemoryCursorStore, SqliteCursorStore
from ._factory import EventSourceFactory
from ._sources import BaseEventSource, Checkpoint, EventSource, NativeEventSource
from ._store import Store

__all__ = [
    "AthenaError",
    "BaseEventSource",
    "Checkpoint",
    "ConfigError",
    "CursorError",
    "CursorStore",
    "EpisodicEvent",
    "EventSource",
    "EventSourceFactory",
    "HttpError",
    "MemoryCursorStore",
    "NativeEventSource",
    "RateLimitedError",
    "SourceIOError",
    "SqliteCursorStore",
    "Store",
    "StoreError",
    "UnauthorizedError",
    "running_streams",
]
