"""The SQLite store's gets and listings (searches without a query): which connection answers them,
and which index a listing reads. The statements are in `sqlite_tables.py`.

Both run inline on the event loop, on a plain read-only connection (`sqlite_connections.BoundedReader`):
through aiosqlite a listing made six thread round trips, which cost more than its walk. A read that
uses more than `INLINE_READ_SECONDS` of CPU is interrupted and answered on the aiosqlite reader's
thread, as is at once a prefix range too large to read inline.

A listing's plan, from a probe that counts the prefix's items up to `WALK_FROM_ITEMS`: a smaller
prefix is read by its `(prefix, key)` range and sorted; a larger one (or no prefix) by walking
`store_items_recent` newest first, which stops once the page is full. SQLite's planner cannot know
a prefix's size or a filter's pass rate, and sorted everything under the prefix.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from aegra.store import namespaces
from aegra.store import sqlite_tables as tables
from aegra.store.sqlite_connections import BoundedReader, OverBudget
from aegra.store.sqlite_tables import Listing, Row

T = TypeVar("T")

# How long a read may hold the event loop before it is run again on the aiosqlite reader's thread.
INLINE_READ_SECONDS = 0.002
# A prefix holding at least this many items is listed by walking store_items_recent (newest first,
# stopping at the page's end); a smaller one by its (prefix, key) range, then sorted.
WALK_FROM_ITEMS = 2000
# Without a filter, a smaller prefix is walked too when the walk reads fewer than this many index
# entries per item of the range: measured at 1M items, an entry of the walk costs ~0.1 us (the
# namespace is checked in the index), an item of the range ~2.5 us (its row read, then sorted).
WALK_ENTRIES_PER_RANGE_ITEM = 25
# A listing that reads a prefix's range of more items than this is not run inline: at ~2.5 us an
# item it would overrun the inline budget.
INLINE_RANGE_ITEMS = 500
# The count of a prefix of at least this many items is remembered for REMEMBER_SECONDS: counting
# 2,000 entries of the (prefix, key) index cost ~0.25 ms at 1M items, a tenth of such a listing.
# A count only chooses the plan (every plan answers the same page), and a plan made wrong by
# writes since is bounded by the inline budget, then answered on the thread with a fresh count.
REMEMBER_FROM_ITEMS = INLINE_RANGE_ITEMS
REMEMBER_SECONDS = 10.0
REMEMBERED_PREFIXES = 1024


@dataclass(frozen=True, slots=True)
class PrefixCounts:
    """What the probe says of a prefix: the largest id (the store's items, at most), whether the
    namespace `prefix` holds items and namespaces below it do, its items counted up to
    WALK_FROM_ITEMS, and when (monotonic seconds)."""

    newest: int
    at: bool
    below: bool
    under: int
    counted: float


class StoreReads:
    """The store's gets and listings: inline on a bounded reader (None for `:memory:`, which another
    connection cannot see), else on the aiosqlite reader that `threaded()` returns. One read at a
    time: the store calls it under its lock."""

    def __init__(self, path: str | Path, threaded: Callable[[], aiosqlite.Connection]) -> None:
        self.bounded = None if str(path) == ":memory:" else BoundedReader(path, INLINE_READ_SECONDS)
        self._threaded = threaded
        self._counts: OrderedDict[str, PrefixCounts] = OrderedDict()

    def close(self) -> None:
        if self.bounded is not None:
            self.bounded.close()
            self.bounded = None

    async def _read(self, now: Callable[[Any], T], later: Callable[[], Awaitable[T]]) -> T:
        """A read inline on the bounded reader (`now`), or on the aiosqlite reader (`later`) when it
        runs past the budget (or the store is `:memory:`)."""
        if self.bounded is not None:
            try:
                return self.bounded.run(now)
            except OverBudget:
                pass
        return await later()

    async def get(self, prefix: str, key: str, live: tuple[str, list[Any]]) -> Row | None:
        return await self._read(
            lambda conn: tables.get_item_now(conn, prefix, key, live),
            lambda: tables.get_item(self._threaded(), prefix, key, live),
        )

    async def listing(self, listing: Listing) -> list[Row]:
        """The listing's page, newest first."""
        return await self._read(lambda conn: self._list_now(conn, listing), lambda: self._list_threaded(listing))

    def _list_now(self, conn: Any, listing: Listing) -> list[Row]:
        counts = None
        if listing.prefix:
            remembered = self._remembered(listing.prefix)
            sql, params = tables.prefix_probe(listing.prefix, count=remembered is None)
            row = conn.execute(sql, params if remembered else [*params, WALK_FROM_ITEMS]).fetchone()
            counts = self._remember(listing.prefix, row, remembered)
        by_range = _by_range(counts, listing)
        if by_range and counts is not None and counts.under > INLINE_RANGE_ITEMS:
            raise OverBudget(f"{counts.under} items to read and sort")
        rows: list[Row] = conn.execute(*_page(listing, counts, by_range)).fetchall()
        return rows

    async def _list_threaded(self, listing: Listing) -> list[Row]:
        conn = self._threaded()
        counts = None
        if listing.prefix:  # counted again: a remembered count may have led the inline read astray
            sql, params = tables.prefix_probe(listing.prefix)
            async with conn.execute(sql, [*params, WALK_FROM_ITEMS]) as cursor:
                row = await cursor.fetchone()
            assert row is not None  # the probe aggregates: always one row
            counts = self._remember(listing.prefix, row)
        async with conn.execute(*_page(listing, counts, _by_range(counts, listing))) as cursor:
            return list(await cursor.fetchall())

    def _remembered(self, prefix: Sequence[str]) -> PrefixCounts | None:
        counts = self._counts.get(namespaces.to_text(prefix))
        if counts is None or time.monotonic() - counts.counted > REMEMBER_SECONDS:
            return None
        return counts

    def _remember(self, prefix: Sequence[str], row: Row, remembered: PrefixCounts | None = None) -> PrefixCounts:
        """The probe's answer; with `remembered`, the row has no count (the remembered one stands),
        and only the count is kept: which namespaces hold items is read every time, because the
        namespace condition of the walk depends on it."""
        newest, at, below = int(row[0] or 0), bool(row[1]), bool(row[2])
        if remembered is not None:
            return PrefixCounts(newest, at, below, remembered.under, remembered.counted)
        counts = PrefixCounts(newest, at, below, int(row[3]), time.monotonic())
        text = namespaces.to_text(prefix)
        if counts.under >= REMEMBER_FROM_ITEMS:
            self._counts[text] = counts
            self._counts.move_to_end(text)
            if len(self._counts) > REMEMBERED_PREFIXES:
                self._counts.popitem(last=False)
        else:
            self._counts.pop(text, None)
        return counts


def _by_range(counts: PrefixCounts | None, listing: Listing) -> bool:
    """Whether to read the prefix's range and sort it rather than walk store_items_recent."""
    if counts is None:
        return False  # no prefix: always walked
    if counts.under >= WALK_FROM_ITEMS:
        return False
    if listing.filtered or counts.under == 0:
        return True  # a filter's pass rate is unknown: a walk could read the whole store
    # Every item under the prefix is on some page: the walk meets one every newest/under entries.
    walk_entries = (listing.limit + listing.offset) * counts.newest
    return walk_entries >= counts.under * counts.under * WALK_ENTRIES_PER_RANGE_ITEM


def _page(listing: Listing, counts: PrefixCounts | None, by_range: bool) -> tuple[str, list[Any]]:
    if counts is None:
        return tables.listing_page(listing, by_range=by_range)
    return tables.listing_page(listing, by_range=by_range, at=counts.at, below=counts.below)
