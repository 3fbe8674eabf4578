"""The SQLite store's items waiting for their vectors, as the background embedder (`backfill.py`)
claims and saves them. The statements are in `sqlite_writes.py` (`store_items_waiting`).

One process owns the file, so a claim needs no lease: the store's lock orders the embedder's
reads and writes with the puts', and an item written again while its claim was being embedded
keeps what that write left (`save_waiting_vectors` compares `updated_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from aegra.store import namespaces, sqlite_writes
from aegra.store.backfill import PROBE_TEXT
from aegra.store.sqlite_writes import ItemWrite

if TYPE_CHECKING:
    from aegra.store.sqlite_store import AsyncSqliteStore

Claimed = tuple[int, str, ItemWrite]  # item id, its updated_at when claimed, the write to embed


class SqliteWaitingQueue:
    def __init__(self, store: AsyncSqliteStore) -> None:
        self.store = store
        # False when no item can be waiting: puts skip clearing marks and searches skip counting
        # them (a statement each). Set by any put that marks; cleared by a claim that finds none
        # with no mark made meanwhile (`_marks` counts them).
        self.maybe_waiting = True
        self._marks = 0

    def before_write(self, writes: Sequence[ItemWrite]) -> bool:
        """Whether this batch of writes must clear the marks of the items it puts."""
        return self.maybe_waiting

    def after_write(self, writes: Sequence[ItemWrite]) -> None:
        if self.store.backfill is not None and any(w.waiting for w in writes):
            self.maybe_waiting = True
            self._marks += 1
            self.store.backfill.wake()

    async def claim(self, limit: int) -> list[Claimed]:
        marks = self._marks
        async with self.store._lock:
            rows = await sqlite_writes.claim_waiting(self.store.conn, limit)
        if not rows and marks == self._marks:
            self.maybe_waiting = False
        return [
            (
                int(row[0]),
                row[5],
                ItemWrite(
                    namespaces.from_text(row[1]),
                    row[2],
                    msgspec.json.decode(row[3]),
                    None if row[4] is None else msgspec.json.decode(row[4]),
                    None,
                    None,
                ),
            )
            for row in rows
        ]

    async def save(self, items: Sequence[Claimed]) -> int:
        await self.store.put_vectors.embed_writes([write for _, _, write in items if write.index is not False])
        if self.store.backfill is not None:
            self.store.backfill.answered()
        saved: list[tuple[int, str, tuple[str, ...], dict[str, Any]]] = [
            (item_id, updated_at, write.namespace, write.vectors) for item_id, updated_at, write in items
        ]
        async with self.store._lock:
            written = await sqlite_writes.save_waiting_vectors(self.store.writer, saved)
        self.store._follow(written)
        return len(written.items)

    async def release(self, items: Sequence[Claimed], *, failed: bool) -> None:
        if failed:
            async with self.store._lock:
                await sqlite_writes.count_failed_attempt(self.store.writer, [item_id for item_id, _, _ in items])

    async def probe(self) -> None:
        await self.store.put_vectors.embed([PROBE_TEXT])
