"""Fan-out of a run's stream events to its listeners, with replay.

One interface (`Broker`), two implementations: in-process (`InProcessBroker`), for one server
process that owns its SQLite file, and `PostgresBroker` (postgres_broker.py), which carries the
events of runs to readers in every process sharing a PostgreSQL database.

Each run has a channel: events get monotonically increasing ids (`<seq>`), are kept for
replay (so `join`, a late `GET .../stream` and `Last-Event-ID` reconnects see everything),
and the channel ends with `close()`. Channels are dropped a while after they close.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

# Closed channels stay replayable for this long, so a client that reconnects right after
# the end still gets the tail of the stream (langgraph-api keeps resumable streams 120 s).
REPLAY_TTL_SECONDS = 120.0
# Bound the replay buffer of one run; the oldest events are dropped past this.
MAX_EVENTS_PER_RUN = 20_000


class StreamEvent(NamedTuple):
    id: int
    event: str
    data: bytes  # JSON, encoded once by the producer


class Broker(Protocol):
    def open(self, run_id: uuid.UUID) -> None:
        """This process starts publishing the run's events (its first attempt): at once, so that a
        listener who subscribes a moment later follows it here."""

    async def resume(self, run_id: uuid.UUID) -> None:
        """This process goes on publishing the events of a run an earlier attempt began."""

    async def publish(self, run_id: uuid.UUID, event: str, data: bytes) -> None: ...

    async def close(self, run_id: uuid.UUID, *, ended: bool = True) -> None:
        """The run's stream ends (`ended`), or only this process's part of it (it goes on elsewhere)."""

    def subscribe(self, run_id: uuid.UUID, after: int | None = None, *,
                  live_only: bool = False) -> AsyncIterator[StreamEvent]:  # fmt: skip
        """Events after id `after` (all kept ones if None), then live ones until the stream ends;
        `live_only`: only those published from now on (nothing once the run has ended)."""

    async def has_stream(self, run_id: uuid.UUID) -> bool:
        """Whether the run's events can be followed or replayed (open, or closed recently)."""


@dataclass
class _Channel:
    events: list[StreamEvent] = field(default_factory=list)
    next_id: int = 1  # ids continue across attempts of a run (the first may be another process's)
    closed_at: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        # Wake every current waiter, then re-arm for the next change.
        self.changed.set()
        self.changed = asyncio.Event()


class InProcessBroker:
    def __init__(self) -> None:
        self._live: dict[uuid.UUID, _Channel] = {}
        # Ended streams stay replayable for REPLAY_TTL_SECONDS as plain tuples keyed by the run
        # id's integer: the garbage collector leaves tuples of atoms alone. As objects they were
        # ~9 per run, and at a few hundred runs a second that made full collections long
        # enough (tens of ms, growing) to set the latency p99 by themselves.
        self._ended: dict[int, tuple[tuple[int, str, bytes], ...]] = {}
        self._expiry: deque[tuple[float, int]] = deque()  # (ended at, run), oldest first

    def _channel(self, run_id: uuid.UUID) -> _Channel:
        channel = self._live.get(run_id)
        if channel is None:
            channel = self._live[run_id] = _Channel()
        return channel

    def open(self, run_id: uuid.UUID, *, first_id: int = 1) -> None:
        self._expire()
        channel = self._channel(run_id)
        if not channel.events:
            channel.next_id = first_id

    async def resume(self, run_id: uuid.UUID) -> None:
        self.open(run_id)  # one process: no earlier attempt's events live elsewhere

    async def has_stream(self, run_id: uuid.UUID) -> bool:
        return self.holds(run_id)

    def holds(self, run_id: uuid.UUID) -> bool:
        """Whether the run's events can be followed or replayed here (open, or closed recently)."""
        self._expire()
        return run_id in self._live or run_id.int in self._ended

    async def publish(self, run_id: uuid.UUID, event: str, data: bytes) -> None:
        channel = self._channel(run_id)
        channel.events.append(StreamEvent(channel.next_id, event, data))
        channel.next_id += 1
        if len(channel.events) > MAX_EVENTS_PER_RUN:
            del channel.events[: len(channel.events) - MAX_EVENTS_PER_RUN]
        channel.notify()

    async def close(self, run_id: uuid.UUID, *, ended: bool = True) -> None:
        if run_id.int in self._ended:
            return
        if not ended:  # the run goes on elsewhere: nothing to replay from here
            channel = self._live.pop(run_id, None)
            if channel is not None:
                channel.closed_at = time.monotonic()
                channel.notify()
            return
        channel = self._live.pop(run_id, None) or _Channel()
        channel.closed_at = time.monotonic()
        self._ended[run_id.int] = tuple((event.id, event.event, event.data) for event in channel.events)
        self._expiry.append((channel.closed_at, run_id.int))
        channel.notify()  # its listeners finish from the channel they hold

    async def subscribe(self, run_id: uuid.UUID, after: int | None = None, *,
                        live_only: bool = False) -> AsyncIterator[StreamEvent]:  # fmt: skip
        """Events after id `after` (all kept ones if None), then live ones until the channel closes;
        `live_only`: only those published from now on (nothing once the run has ended)."""
        ended = self._ended.get(run_id.int)
        if ended is not None and live_only:
            return
        if ended is not None:
            for event in ended[_first_index_after(ended, after) :] if after is not None else ended:
                yield StreamEvent(*event)
            return
        channel = self._channel(run_id)
        if live_only:
            position = len(channel.events)
        else:
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
        while self._expiry and self._expiry[0][0] < cutoff:
            _, run = self._expiry.popleft()
            self._ended.pop(run, None)


def _first_index_after(events: Sequence[StreamEvent] | Sequence[tuple[int, str, bytes]], event_id: int) -> int:
    """Ids are consecutive within a buffer, so the position is arithmetic (trimming only drops a prefix)."""
    if not events:
        return 0
    return min(max(event_id - events[0][0] + 1, 0), len(events))
