"""Bad input is an exception of its kind naming the source and the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from athena_ingest import (
    AthenaError,
    BaseEventSource,
    ConfigError,
    EventSourceFactory,
    MemoryCursorStore,
    SourceIOError,
    Store,
)


async def test_unknown_types_and_keys_are_named(tmp_path: Path) -> None:
    factory = EventSourceFactory(cursor_store=MemoryCursorStore())
    with pytest.raises(ConfigError, match=r"unknown source type 'gti'.*git"):
        await factory.create_source("gti", "x", {}, {})
    with pytest.raises(ConfigError) as bad:
        await factory.create_source("git", "repo", {}, {"path": str(tmp_path), "brnach": "x"})
    assert "repo" in str(bad.value) and "brnach" in str(bad.value)
    with pytest.raises(AthenaError) as missing:
        await factory.create_source("git", "repo", {}, {"path": str(tmp_path / "nope")})
    assert "repo" in str(missing.value) and "nope" in str(missing.value)
    with pytest.raises(ConfigError, match="no source"):
        await Store(tmp_path / "a.db").sync([{"id": "a", "type": "git", "path": "."}], only=["b"])


async def test_the_designs_filesystem_source_and_root_dir_are_ours(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("hello\n")
    factory = EventSourceFactory(cursor_store=MemoryCursorStore())
    source = await factory.create_source("filesystem", "notes", {}, {"root_dir": str(tmp_path / "notes")})
    assert source.source_type == "files"
    events = [e async for e in source.generate_events()]
    assert [e.own_context.get("path") for e in events] == ["a.md"]


def test_registering_a_built_in_name_or_a_non_source_is_refused() -> None:
    with pytest.raises(ValueError, match="built in"):
        EventSourceFactory.register_source("git", BaseEventSource)
    with pytest.raises(TypeError):
        EventSourceFactory.register_source("thing", dict)  # type: ignore[arg-type]
    assert not EventSourceFactory.unregister_source("never-registered")
    assert SourceIOError.__mro__[1] is AthenaError
