"""The in-process broker: live fan-out, replay after the end, expiry, and a heap the collector skips."""

from __future__ import annotations

import asyncio
import gc
import uuid

import pytest

from aegra.domain.runs import broker as broker_module
from aegra.domain.runs.broker import InProcessBroker, StreamEvent


async def _collect(stream) -> list[StreamEvent]:
    return [event async for event in stream]


async def test_listeners_follow_live_and_replay_after_the_end() -> None:
    broker, run = InProcessBroker(), uuid.uuid4()
    broker.open(run)
    early = asyncio.create_task(_collect(broker.subscribe(run)))
    await broker.publish(run, "metadata", b"{}")
    await asyncio.sleep(0)
    late = asyncio.create_task(_collect(broker.subscribe(run, after=1)))
    await broker.publish(run, "values", b'{"a":1}')
    await broker.publish(run, "values", b'{"a":2}')
    await broker.close(run)
    assert [e.id for e in await early] == [1, 2, 3]
    assert [e.data for e in await late] == [b'{"a":1}', b'{"a":2}']
    # After the end: everything, or what follows a Last-Event-ID, then the stream ends.
    assert await _collect(broker.subscribe(run)) == await early
    assert [e.id for e in await _collect(broker.subscribe(run, after=2))] == [3]
    assert await _collect(broker.subscribe(run, after=3)) == []
    assert await broker.has_stream(run)


async def test_ended_streams_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    broker, run = InProcessBroker(), uuid.uuid4()
    broker.open(run)
    await broker.publish(run, "values", b"{}")
    await broker.close(run)
    await broker.close(run)  # twice is harmless
    assert await broker.has_stream(run)
    monkeypatch.setattr(broker_module, "REPLAY_TTL_SECONDS", -1.0)
    assert not await broker.has_stream(run)


async def test_ended_streams_are_not_tracked_by_the_garbage_collector() -> None:
    broker = InProcessBroker()
    runs = [uuid.uuid4() for _ in range(50)]
    for run in runs:
        broker.open(run)
        await broker.publish(run, "values", b'{"x": 1}')
        await broker.close(run)
    gc.collect()
    gc.collect()  # a tuple is let go once its items are: the outer ones at the second pass
    kept = broker._ended[runs[0].int]
    assert not gc.is_tracked(kept) and not gc.is_tracked(kept[0])
    assert not broker._live
