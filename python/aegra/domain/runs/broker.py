"""Fan-out of a run's stream events to its listeners, with replay.

One interface (`Broker`), one implementation for now: in-process (`InProcessBroker`), right
for a single server process (SQLite, or one PostgreSQL worker). A multi-process broker over
PostgreSQL will implement the same interface.

Each run has a channel: events get monotonically increasing ids (`<seq>`), are kept for
replay (so `join`, a late `GET .../stream` and `Last-Event-ID` reconnects see everything),
and the channel ends with `close()`. Channels are dropped a while after they close.
(Cancellation goes straight to the executor of this process; a multi-process broker will also
have to carry it to the worker running the run.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

# Closed channels stay replayable for this long, so a client that reconnects right after
# the end still gets the tail of the stream (langgraph-api keeps resumable streams 120 s).
REPLAY_TTL_SECONDS = 120.0
# Bound the replay buffer of one run; the oldest events are dropped past this.
MAX_EVENTS_PER_RUN = 20_000


@dataclass(frozen=True)
class StreamEvent:
    id: int
    event: str
    data: bytes  # JSON, encoded once by the producer


class Broker(Protocol):
    def open(self, run_id: uuid.UUID) -> None: ...

    async def publish(self, run_id: uuid.UUID, event: str, data: bytes) -> None: ...

    async def close(self, run_id: uuid.UUID) -> None: ...

    def subscribe(self, run_id: uuid.UUID, after: int | None = None) -> AsyncIterator[StreamEvent]: ...

    def has_stream(self, run_id: uuid.UUID) -> bool: ...


@dataclass
class _Channel:
    events: list[StreamEvent] = field(default_factory=list)
    next_id: int = 1
    closed_at: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        # Wake every current waiter, then re-arm for the next change.
        self.changed.set()
        self.changed = asyncio.Event()


class InProcessBroker:
    def __init__(self) -> None:
        self._channels: dict[uuid.UUID, _Channel] = {}
        # Closed channels in the order they closed, so expiry looks only at the oldest ones.
        self._closed: deque[tuple[float, uuid.UUID]] = deque()

    def _channel(self, run_id: uuid.UUID) -> _Channel:
        channel = self._channels.get(run_id)
        if channel is None:
            channel = self._channels[run_id] = _Channel()
        return channel

    def open(self, run_id: uuid.UUID) -> None:
        self._expire()
        self._channel(run_id)

    def has_stream(self, run_id: uuid.UUID) -> bool:
        """Whether the run's events can be followed or replayed here (open, or closed recently)."""
        self._expire()
        return run_id in self._channels

    async def publish(self, run_id: uuid.UUID, event: str, data: bytes) -> None:
        channel = self._channel(run_id)
        channel.events.append(StreamEvent(channel.next_id, event, data))
        channel.next_id += 1
        if len(channel.events) > MAX_EVENTS_PER_RUN:
            del channel.events[: len(channel.events) - MAX_EVENTS_PER_RUN]
        channel.notify()

    async def close(self, run_id: uuid.UUID) -> None:
        channel = self._channel(run_id)
        if channel.closed_at is None:
            channel.closed_at = time.monotonic()
            self._closed.append((channel.closed_at, run_id))
            channel.notify()

    async def subscribe(self, run_id: uuid.UUID, after: int | None = None) -> AsyncIterator[StreamEvent]:
        """Events after id `after` (all kept ones if None), then live ones until the channel closes."""
        channel = self._channel(run_id)
        position = 0 if after is None else _first_index_after(channel.events, after)
        while True:
            # Replay what is buffered; indexes shift if the buffer was trimmed, so re-find by id.
            while position < len(channel.events):
                yield channel.events[position]
                position += 1
            if channel.closed_at is not None:
                return
            last_id = channel.events[position - 1].id if position else None
            await channel.changed.wait()
            position = 0 if last_id is None else _first_index_after(channel.events, last_id)

    def _expire(self) -> None:
        cutoff = time.monotonic() - REPLAY_TTL_SECONDS
        while self._closed and self._closed[0][0] < cutoff:
            _, run_id = self._closed.popleft()
            self._channels.pop(run_id, None)


def _first_index_after(events: list[StreamEvent], event_id: int) -> int:
    """Ids are consecutive within a buffer, so the position is arithmetic (trimming only drops a prefix)."""
    if not events:
        return 0
    return min(max(event_id - events[0].id + 1, 0), len(events))
