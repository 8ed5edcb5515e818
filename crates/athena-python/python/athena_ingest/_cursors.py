"""Where the factory keeps cursors between runs: a ``CursorStore``. The default is the store
file's own cursor table (``SqliteCursorStore``), the one ``Store.sync`` commits with its
events; ``MemoryCursorStore`` keeps them in the process."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Dict, Optional, Tuple, Union

from ._native import NativeStore


class CursorStore:
    """Loads and saves one cursor (anything JSON can hold) per source id."""

    async def load(self, source_id: str) -> Any:
        """The saved cursor of ``source_id``, or None."""
        raise NotImplementedError

    async def save(self, source_id: str, cursor: Any, source_type: str = "custom") -> None:
        """Saves ``cursor`` as ``source_id``'s."""
        raise NotImplementedError


class MemoryCursorStore(CursorStore):
    """Cursors in a dict, for tests and programs that keep them elsewhere."""

    def __init__(self) -> None:
        self.cursors: Dict[str, Tuple[str, Any]] = {}

    async def load(self, source_id: str) -> Any:
        saved = self.cursors.get(source_id)
        return None if saved is None else saved[1]

    async def save(self, source_id: str, cursor: Any, source_type: str = "custom") -> None:
        self.cursors[source_id] = (source_type, cursor)


class SqliteCursorStore(CursorStore):
    """The cursor table of a store file (created on the first save).

    It is the table ``Store.sync`` commits with each batch: a cursor saved here says the
    events before it were handled, and a sync of the same source id goes on after it.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"] = "athena.db") -> None:
        self.path = os.fspath(path)
        self._native = NativeStore(self.path)

    async def load(self, source_id: str) -> Any:
        text: Optional[str] = await asyncio.to_thread(self._native.load_cursor, source_id)
        return None if text is None else json.loads(text)

    async def save(self, source_id: str, cursor: Any, source_type: str = "custom") -> None:
        await asyncio.to_thread(
            self._native.save_cursor, source_id, source_type, json.dumps(cursor)
        )

    def __repr__(self) -> str:
        return f"SqliteCursorStore({self.path!r})"
