"""The engine's log records reach the factory's logger."""

from __future__ import annotations

import logging
from pathlib import Path

from athena_ingest import EventSourceFactory, MemoryCursorStore

from conftest import log_lines


async def test_the_engines_records_reach_the_factorys_logger(tmp_path: Path, caplog) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "a.log").write_text(log_lines(1, 3))
    logger = logging.getLogger("my.engine")
    with caplog.at_level(logging.INFO, logger="my.engine"):
        factory = EventSourceFactory(logger=logger, cursor_store=MemoryCursorStore())
        source = await factory.create_source("api_log", "web", {}, {"paths": [str(logs / "*")]})
        events = [e async for e in source.generate_events()]
    assert len(events) == 3
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped, [r.getMessage() for r in caplog.records]
    assert skipped[0].levelno == logging.WARNING and skipped[0].name == "my.engine"
    assert "sub" in skipped[0].getMessage() and "source=web" in skipped[0].getMessage()
