"""``EventSourceFactory``: source types by name (the built-in Rust ones from the start, and
Python classes registered at run time), and the sources it creates from a type name, an id,
credentials and a config."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Dict, List, Optional, Type

from . import _native
from ._cursors import CursorStore, SqliteCursorStore
from ._sources import BaseEventSource, EventSource, NativeEventSource

#: The design's names for our types and keys: type → (our type, {its key: our key}).
ALIASES: Dict[str, tuple] = {
    "filesystem": ("files", {"root_dir": "path"}),
}


def _builtin_class(name: str) -> Type[NativeEventSource]:
    title = "".join(part.capitalize() for part in name.split("_"))
    return type(f"{title}Source", (NativeEventSource,), {"__doc__": f"The built-in {name} source."})


class EventSourceFactory:
    """Creates sources by type name.

    ``logger`` (a ``logging.Logger``) receives what the factory and its sources log;
    ``cursor_store`` keeps their cursors between runs (default: the cursor table of
    ``./athena.db``, created on the first ``save_cursor``).
    """

    _registry: ClassVar[Dict[str, Type[EventSource]]] = {
        name: _builtin_class(name) for name in _native.builtin_types()
    }
    _builtin: ClassVar[frozenset] = frozenset(_native.builtin_types())

    def __init__(
        self,
        logger: Optional[logging.Logger] = None,
        cursor_store: Optional[CursorStore] = None,
    ) -> None:
        self.logger = logger or logging.getLogger("athena_ingest")
        # The engine's records (a retry, a rate-limit wait, a skipped file) go to this logger,
        # at its level and above.
        _native.set_logger(self.logger, self.logger.getEffectiveLevel())
        self.cursor_store = cursor_store if cursor_store is not None else SqliteCursorStore()
        self._active: Dict[str, EventSource] = {}

    # ---- the registry (class-level: every factory sees it, and so does Store.sync) ----

    @classmethod
    def register_source(cls, type_name: str, source_class: Type[BaseEventSource]) -> None:
        """Makes ``source_class`` (a ``BaseEventSource`` subclass) the source type
        ``type_name``, for every factory and for ``Store.sync``. A built-in name is refused."""
        if not (isinstance(source_class, type) and issubclass(source_class, BaseEventSource)):
            raise TypeError(f"{source_class!r} is not a BaseEventSource subclass")
        if type_name in cls._builtin or type_name in ALIASES:
            raise ValueError(f"source type {type_name!r} is built in; choose another name")
        _native.register_python_type(type_name, source_class)
        cls._registry[type_name] = source_class

    @classmethod
    def unregister_source(cls, type_name: str) -> bool:
        """Forgets a registered Python type; whether it was registered. Built-in types stay."""
        if type_name in cls._builtin:
            raise ValueError(f"source type {type_name!r} is built in and cannot be unregistered")
        _native.unregister_python_type(type_name)
        return cls._registry.pop(type_name, None) is not None

    @classmethod
    def get_registered_sources(cls) -> Dict[str, Type[EventSource]]:
        """Every type name and its class: the built-in ones and those registered."""
        return dict(cls._registry)

    @classmethod
    def is_source_available(cls, type_name: str) -> bool:
        return type_name in cls._registry or type_name in ALIASES

    # ---- sources ----

    async def create_source(
        self,
        source_type: str,
        source_id: str,
        credentials: Optional[Dict[str, Any]] = None,
        config: Optional[Dict[str, Any]] = None,
    ) -> EventSource:
        """Creates and validates source ``source_id`` of ``source_type``.

        ``credentials`` are secrets (tokens, keys): for a built-in type they join its config
        keys (``{"token": …}``), and no repr, log line or error shows them. ``config['cursor']``
        starts the source after that cursor; without it, the cursor store's saved cursor is
        used. A wrong config raises ``ConfigError`` naming the source and the key; a failed
        health check raises the error of its kind (``UnauthorizedError``, ``HttpError``, …).
        """
        config = dict(config or {})
        credentials = dict(credentials or {})
        cursor = config.pop("cursor", None)
        if source_type in ALIASES:
            source_type, keys = ALIASES[source_type]
            config = {keys.get(k, k): v for k, v in config.items()}
        if not self.is_source_available(source_type):
            known = ", ".join(sorted(self._registry))
            raise _native.ConfigError(
                f"source {source_id}: unknown source type {source_type!r} (known: {known})"
            )
        if cursor is None:
            cursor = await self.cursor_store.load(source_id)
        source_class = self._registry[source_type]
        if source_type in self._builtin:
            native = await asyncio.to_thread(
                _native.build_source, source_type, source_id, {**config, **credentials}
            )
            source: EventSource = source_class(native, self.logger)  # type: ignore[call-arg]
            await source.check()  # type: ignore[attr-defined]
        else:
            made = source_class.create(credentials, dict(config, source_id=source_id))  # type: ignore[attr-defined]
            source = await made if asyncio.iscoroutine(made) else made
            if isinstance(source, BaseEventSource):
                source._bind(source_id, source_type)
            if not await source.validate():
                raise _native.ConfigError(f"source {source_id}: validate() returned False")
        if cursor is not None:
            source.set_cursor(cursor)
        self._active[source_id] = source
        self.logger.info("created source %s (%s)", source_id, source_type)
        return source

    async def save_cursor(self, source_id: str) -> Any:
        """Saves the cursor of source ``source_id`` (as ``get_cursor()`` gives it) in the
        cursor store, and returns it."""
        source = self._active.get(source_id)
        if source is None:
            raise KeyError(f"no source {source_id!r} was created by this factory")
        cursor = source.get_cursor()
        if cursor is not None:
            await self.cursor_store.save(source_id, cursor, source.source_type)
        return cursor

    def get_factory_stats(self) -> Dict[str, Any]:
        """``registered_types``, ``active_sources`` and ``events_generated`` (all sources)."""
        generated = sum(
            int(s.get_stats().get("events_generated", 0)) for s in self._active.values()
        )
        return {
            "registered_types": sorted(self._registry),
            "active_sources": len(self._active),
            "events_generated": generated,
        }

    def get_source(self, source_id: str) -> Optional[EventSource]:
        return self._active.get(source_id)

    async def close(self) -> None:
        """Closes every source this factory created."""
        for source in list(self._active.values()):
            await source.close()
        self._active.clear()
