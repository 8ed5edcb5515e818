"""Leaving the loop stops the Rust source: no stream is left running."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

from athena_ingest import EventSourceFactory, MemoryCursorStore, running_streams

from conftest import log_lines


async def big_log_source(tmp_path: Path):
    (tmp_path / "access.log").write_text(log_lines(1, 60_000))
    factory = EventSourceFactory(cursor_store=MemoryCursorStore())
    return await factory.create_source(
        "api_log", "web", {}, {"paths": [str(tmp_path / "access.log")]}
    )


async def wait_for_no_stream() -> float:
    start = time.monotonic()
    while running_streams() and time.monotonic() - start < 5:
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_leaving_the_loop_early_stops_the_rust_source(tmp_path: Path) -> None:
    source = await big_log_source(tmp_path)
    seen = 0
    async for _ in source.generate_events():
        seen += 1
        if seen == 10:
            assert running_streams() == 1 and source.running
            break
    gc.collect()
    waited = await wait_for_no_stream()
    assert running_streams() == 0 and not source.running
    assert waited < 1.0, f"the source stopped after {waited:.2f} s"
    # Its cursor is true for what was yielded only at a batch's end: here, none yet.
    assert source.get_cursor() is None


async def test_close_and_async_with_stop_the_rust_source(tmp_path: Path) -> None:
    source = await big_log_source(tmp_path)
    async with source:
        events = source.generate_events()
        await events.__anext__()
        assert running_streams() == 1
    await events.aclose()
    assert await wait_for_no_stream() < 1.0 and not source.running
    # And read to the end, the stream ends by itself.
    count = 0
    async for _ in source.generate_events():
        count += 1
    assert count == 60_000
    assert running_streams() == 0
    assert source.get_stats()["events_generated"] >= 60_000


async def test_close_from_another_task_stops_a_loop_waiting_for_a_batch(tmp_path: Path) -> None:
    source = await big_log_source(tmp_path)
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _ in source.generate_events():
            seen += 1
            if seen == 5:
                await asyncio.sleep(0.2)  # the source fills its channel meanwhile

    loop = asyncio.ensure_future(consume())
    while seen < 5:
        await asyncio.sleep(0.01)
    stats = source.get_stats()  # while the loop waits: no "already borrowed"
    assert stats["events_generated"] > 0
    await source.close()
    await asyncio.wait_for(loop, 5)
    assert not source.running and await wait_for_no_stream() < 1.0
    assert seen < 60_000


async def test_a_cancelled_consumer_stops_the_rust_source(tmp_path: Path) -> None:
    source = await big_log_source(tmp_path)

    async def consume() -> None:
        async for _ in source.generate_events():
            await asyncio.sleep(0.001)

    loop = asyncio.ensure_future(consume())
    await asyncio.sleep(0.2)
    loop.cancel()
    try:
        await loop
    except asyncio.CancelledError:
        pass
    assert await wait_for_no_stream() < 1.0 and not source.running
