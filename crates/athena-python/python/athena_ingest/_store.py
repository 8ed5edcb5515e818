"""``Store``: a store file, as the command line sees it — ``sync`` runs sources into it
exactly once, ``events`` and ``status`` read it back."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from ._native import EpisodicEvent, NativeStore, Stop

Names = Union[str, Sequence[str], None]


def _names(value: Names) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class Store:
    """The event store at ``path`` (SQLite; created by the first sync)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"] = "athena.db") -> None:
        self.path = os.fspath(path)
        self._native = NativeStore(self.path)

    async def sync(
        self,
        sources: Union[str, "os.PathLike[str]", Sequence[Dict[str, Any]]],
        *,
        full: bool = False,
        only: Names = None,
    ) -> Dict[str, Any]:
        """Runs the sources once, incrementally, and returns the report ``sync --format
        json`` prints (``{"sources": [{"id", "status", "events_written", …}]}``).

        ``sources`` is a config file's path, or a list of dicts (``{"id": "repo", "type":
        "git", "path": "."}``); registered Python types run like built-in ones. Each batch's
        events and cursor commit in one transaction. ``full`` ignores saved cursors; ``only``
        names the source ids of a config file to run. Cancelling the call (a timeout, Ctrl-C)
        stops the sync: what was handed to the store is committed, nothing more is read.
        """
        if isinstance(sources, (str, os.PathLike)):
            sources = os.fspath(sources)
        else:
            sources = [dict(s) for s in sources]
        stop = Stop()
        running = asyncio.ensure_future(
            asyncio.to_thread(self._native.sync, sources, full, _names(only), stop)
        )
        try:
            text = await asyncio.shield(running)
        except asyncio.CancelledError:
            # Cancelled (a timeout, Ctrl-C): the engine commits what it was handed and stops
            # reading; the sync's thread ends before this does.
            stop.cancel()
            await asyncio.wait({running})
            raise
        return json.loads(text)

    def events(
        self,
        *,
        since: Optional[str] = None,
        until: Optional[str] = None,
        source: Names = None,
        kind: Names = None,
        actor: Optional[str] = None,
        q: Optional[str] = None,
        outcome: Names = None,
        limit: int = 50,
    ) -> List[EpisodicEvent]:
        """Stored events, newest first, filtered as ``events`` filters them: times are RFC
        3339, a date or relative (``7d``); ``q`` is full text (every plain word, else any)."""
        return self._native.events(
            since, until, _names(source), _names(kind), actor, q, _names(outcome), limit
        )

    def status(self) -> Dict[str, Any]:
        """Every source the store knows, as ``status --format json`` prints it."""
        return json.loads(self._native.status())

    def kinds(self) -> Dict[str, Dict[str, int]]:
        """The kinds of the stored events: ``{source_id: {kind: events}}``."""
        return self._native.kinds()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"
