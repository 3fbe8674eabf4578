"""The store's semantic search: an in-memory `aegra.vec.VectorIndex` of int8 codes mirroring the
`store_vector_codes` table, and the float32 vectors of `store_item_vectors` for exact scores.

The file is the truth. The index is loaded from the code records in the background when the store
opens (`start_loading`), so the server answers at once whatever the store's size; a semantic
search waits for the load to finish (a few seconds at a million vectors), then is exact. Puts,
deletes, re-indexing and TTL sweeps of this store are applied to the index after their
transaction commits (`follow`), also while the load runs: the loader reads one snapshot and skips
the rows written since it began. One server process owns a SQLite file, so no other writer can
make the index stale behind its back.

A search is two steps (see `aegra.vec.index`): the index scans the codes and names the few rows
that may be in the top-k; their float32 vectors are read from the file and scored exactly. A
search with a value filter or expiry asks SQL which items pass, on the best-ranked rows only when
it can (`rank_filtered`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np

from aegra import vec
from aegra.store import filters, sqlite_writes
from aegra.store import sqlite_tables as tables
from aegra.store.value_postings import MAX_VALUES, ValuePostings, equalities
from aegra.store.vector_loading import IndexLoading

logger = logging.getLogger(__name__)

# `rank_filtered` checks the filter on the index's best DEEPEN_START, or DEEPEN_FACTOR x k, items
# first; it hands over to a candidate list past 1/DEEPEN_LIMIT of the index.
DEEPEN_START = 256
DEEPEN_FACTOR = 32
DEEPEN_LIMIT = 8
# A search whose scan is known to read at most this many bytes of codes runs on the event loop:
# its first pass takes ~0.2 ms a MB, less than the hop to a worker thread and back costs a small
# prefix's search (~0.2 ms of its ~2.5 ms of CPU at 1M items).
INLINE_CODE_BYTES = 4 << 20
# A search reads the vectors of its best-bounded FIRST_READ_FACTOR x k candidates first (`_exact`).
FIRST_READ_FACTOR = 2
SELECTIONS_KEPT = 1024  # prefixes whose last scan size is remembered (`_selected`)
FOLLOW_ROOM_MIN = 4096  # the least room `follow` reserves ahead (a few hundred kB of codes)


class IndexUnavailable(RuntimeError):
    """The vector index could not be loaded from the file (the error is logged at startup)."""


class VectorCache(IndexLoading):
    def __init__(self, path: str | Path, dims: int, *, busy_timeout_ms: int = 5000, backend: Any = None) -> None:
        self.path = str(path)
        self.dims = dims
        self.index = vec.VectorIndex(dims, "cosine", backend=backend)
        self.busy_timeout_ms = busy_timeout_ms
        # Index changes come from the loader's thread and the event loop: one at a time.
        self._mutations = threading.Lock()
        self._written_during_load: set[int] | None = None
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.load_seconds: float | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._reading = threading.Lock()
        self._spare = 0  # vectors `follow` can still add without the index growing (`_make_room`)
        self.values = ValuePostings()  # the items' values, for filtered searches (`filtered_ids`)
        self._selected: dict[tuple[str, ...], int] = {}  # vectors under a prefix at its last search
        self._value_builds: set[asyncio.Task[None]] = set()

    # -- loading ---------------------------------------------------------------------------------

    def start_loading(self) -> None:
        """Load the index from the file in a thread; searches wait for it (`ready`)."""
        self._written_during_load = set()  # before the loader's snapshot: see `_load_chunk`
        self._task = asyncio.create_task(self._load(), name="aegra-store-index-load")

    @property
    def loading(self) -> bool:
        return not self._loaded.is_set()

    async def ready(self) -> None:
        await self._loaded.wait()
        if self._failure is not None:
            raise IndexUnavailable(f"the store's vector index could not be loaded: {self._failure}")

    async def stop(self) -> None:
        """Wait for the loader (it cannot be interrupted inside SQLite; it is bounded by the file)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.values_built()
        self.close()

    # -- following the file ------------------------------------------------------------------------

    def follow(self, written: sqlite_writes.Written) -> None:
        """Bring the index (and the value index) up to date with a committed batch."""
        self.values.apply(written.values, written.deleted)
        with self._mutations:
            if self._written_during_load is not None:
                self._written_during_load.update(written.deleted)
                self._written_during_load.update(item_id for item_id, _, _ in written.items)
            for item_id in written.deleted:
                self.index.delete(item_id)
            size = vec.code_record_size(self.dims)
            ids: list[int] = []
            space_ids: list[int] = []
            records: list[bytes] = []
            spaces: dict[tuple[str, ...], int] = {}
            for item_id, ns, codes in written.items:
                coded = [code for code in codes if len(code) == size]
                if not coded:
                    self.index.delete(item_id)
                    continue
                space = spaces.setdefault(ns, len(spaces))
                for code in coded:
                    ids.append(item_id)
                    space_ids.append(space)
                    records.append(code)
            if not ids:
                return
            self._make_room(len(ids))
            # Lists of labels, which `load` passes on unchecked: a put's namespace was checked by the
            # store (`_validate_namespace`), a re-index's was read from the file.
            names = [list(ns) for ns in spaces]
            self.index.load(ids, np.array(space_ids, dtype=np.uint32), names, b"".join(records))

    def _make_room(self, vectors: int) -> None:
        """Room for a committed batch's vectors, reserved ahead a quarter of the index at a time:
        `load` reserves exactly what it is given (right for the startup load, one call), so a fill's
        batches each copied the whole index into a one-batch-larger allocation - measured 40% of a
        30k-item fill's CPU, growing with the index."""
        if vectors > self._spare:
            self._spare = vectors + max(FOLLOW_ROOM_MIN, len(self.index) // 4)
            self.index.reserve(self._spare)
            self.index.huge_pages()  # the new room: huge pages as the puts write it
        self._spare -= vectors

    def drop(self, item_ids: Sequence[int]) -> None:
        self.follow(sqlite_writes.Written(deleted=list(item_ids)))

    # -- the value index ---------------------------------------------------------------------------

    def filtered_ids(self, filter_: dict[str, Any] | None) -> np.ndarray | None:
        """The ids of the items passing `filter_`, ascending, from the value index; None when it
        cannot answer: a filter it does not handle, or a field not indexed yet (its build starts
        here, in the background; the search goes the old way meanwhile)."""
        wanted = equalities(filter_)
        if wanted is None:
            return None
        for field in self.values.to_build(wanted):
            task = asyncio.create_task(asyncio.to_thread(self._build_values, field), name="aegra-store-value-index")
            self._value_builds.add(task)
            task.add_done_callback(self._value_builds.discard)
        return self.values.ids(wanted)

    async def values_built(self) -> None:
        """Wait for the value index's builds under way."""
        await asyncio.gather(*self._value_builds, return_exceptions=True)

    def _build_values(self, field: str) -> None:
        path = filters.json_path(field)
        assert path is not None  # `equalities` takes plain keys only
        start, limit = time.perf_counter(), MAX_VALUES + 8  # a few more: JSON null, lists, objects
        try:
            conn = self._connect()
            try:
                groups = tables.field_value_groups(conn, path, limit)
            finally:
                conn.close()
        except Exception:
            self.values.abandon(field)
            logger.exception("store value index: reading field %r failed", field)
            return
        built = self.values.build(field, groups if len(groups) < limit else None)
        logger.info(
            "store value index: field %r %s in %.2f s",
            field,
            "indexed" if built else "not indexed (too many distinct values)",
            time.perf_counter() - start,
        )

    # -- searching ---------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        """The connection the search threads read vectors on (one at a time, `_reading`): reads
        there need no hop to aiosqlite's thread, so a search is one trip off the event loop."""
        if self._read_conn is None:
            self._read_conn = self._connect()
        return self._read_conn

    def _exact(
        self, query: np.ndarray, k: int, rows: np.ndarray, highs: np.ndarray | None = None
    ) -> tuple[list[tuple[int, float]], dict[int, tables.Row]]:
        """The exact top `k` of `rows` (their vectors read from the file, scored), and their rows.
        With `highs` (an upper bound of each row's score, `rows` best bound first), the vectors are
        read in two steps (`_ranked_in_two_reads`)."""
        if not len(rows):
            return [], {}
        with self._reading:
            conn = self._reader()
            conn.execute("BEGIN")  # one snapshot: the vectors scored and the rows answered agree
            try:
                if highs is None or len(rows) <= FIRST_READ_FACTOR * k or not np.isfinite(highs[0]):
                    owners, matrix = tables.candidate_vectors(conn, np.sort(rows), self.dims)
                    ranked = self.index.exact(query, k, owners, matrix)
                else:
                    ranked = self._ranked_in_two_reads(conn, query, k, rows, highs)
                return ranked, tables.items_by_id(conn, [item_id for item_id, _ in ranked])
            finally:
                conn.execute("COMMIT")

    def _ranked_in_two_reads(
        self, conn: sqlite3.Connection, query: np.ndarray, k: int, rows: np.ndarray, highs: np.ndarray
    ) -> list[tuple[int, float]]:
        """The exact top `k` of `rows` (best bound first), reading the vectors of the best-bounded
        few first, then only those of the rest whose bound reaches the k-th best score found: an
        unread row scores at most its bound, below that score, so it cannot be in the top `k`.
        Reading a vector costs ~10-15 us (two B-tree descents in a file much larger than any
        cache); at 1M items about half of a 1% prefix's ~57 candidate rows and two thirds of a 10%
        filter's ~100 are ruled out so."""
        first = FIRST_READ_FACTOR * k
        owners, matrix = tables.candidate_vectors(conn, np.sort(rows[:first]), self.dims)
        ranked = self.index.exact(query, k, owners, matrix)
        reach = ranked[k - 1][1] if len(ranked) >= k else -np.inf
        rest = rows[first:][highs[first:] >= reach]
        if not len(rest):
            return ranked
        more_owners, more = tables.candidate_vectors(conn, np.sort(rest), self.dims)
        return self.index.exact(
            query, k, np.concatenate([owners, more_owners]), np.concatenate([matrix, more]) if len(more) else matrix
        )

    def _search(
        self, query: np.ndarray, k: int, prefix: Sequence[str], candidate_ids: np.ndarray | None
    ) -> tuple[list[tuple[int, float]], dict[int, tables.Row]]:
        rows, highs, stats = self.index.bounded_candidates(query, k, prefix, candidate_ids)
        if candidate_ids is None:
            if len(self._selected) >= SELECTIONS_KEPT:
                self._selected.clear()
            self._selected[tuple(prefix)] = int(stats["selected"])
        return self._exact(query, k, rows, highs)

    def _inline(self, prefix: Sequence[str], candidate_ids: np.ndarray | None) -> bool:
        """Whether a search is small enough to run on the event loop: its scan (the vectors under
        the prefix at its last search, or the candidates) is known to be small, and no search
        thread is reading vectors (it would wait for it)."""
        vectors = self._selected.get(tuple(prefix)) if candidate_ids is None else len(candidate_ids)
        return vectors is not None and vectors * self.dims <= INLINE_CODE_BYTES and not self._reading.locked()

    async def search(
        self,
        query: Sequence[float] | np.ndarray,
        k: int,
        namespace_prefix: Sequence[str] = (),
        candidate_ids: np.ndarray | None = None,
    ) -> tuple[list[tuple[int, float]], dict[int, tables.Row]]:
        """The exact top `k` (item id, score) and the items' rows: the index's candidates, their
        vectors from the file, scored - in one worker thread (Rust's scan releases the GIL), or on
        the event loop when the scan is small (`_inline`)."""
        await self.ready()
        if k <= 0 or (candidate_ids is not None and not len(candidate_ids)):
            return [], {}
        vector = np.asarray(query, dtype=np.float32)
        if self._inline(namespace_prefix, candidate_ids):
            return self._search(vector, k, namespace_prefix, candidate_ids)
        return await asyncio.to_thread(self._search, vector, k, namespace_prefix, candidate_ids)

    async def rank(
        self,
        conn: aiosqlite.Connection,
        where: str,
        params: Sequence[Any],
        query: Sequence[float] | np.ndarray,
        k: int,
    ) -> tuple[list[tuple[int, float]], dict[int, tables.Row]]:
        """The top `k` among the items passing `where`, listed by SQL."""
        if k <= 0:
            return [], {}
        ids = await tables.candidate_ids(conn, where, params)
        if not len(ids):
            return [], {}
        return await self.search(query, k, candidate_ids=ids)

    async def rank_filtered(
        self,
        conn: aiosqlite.Connection,
        where: str,
        params: Sequence[Any],
        query: Sequence[float],
        k: int,
        namespace_prefix: Sequence[str],
        value_filter: dict[str, Any] | None = None,
    ) -> tuple[list[tuple[int, float]], dict[int, tables.Row]]:
        """`rank` for a search whose SQL condition `where` (on `store_items i`: namespace prefix,
        value filter, expiry) is costly to run on every item: the filter function is Python, about
        1.5 us an item, 1.5 s at 1M items. When `value_filter` (the whole condition but the prefix)
        is one the value index answers, the index scans only the items passing it (`filtered_ids`).
        Otherwise the index names the rows that may be in the top `depth` under the prefix, with an
        upper bound of each one's score, and SQL checks `where` on them best bound first
        (`_rank_checked`). Exact: every row the index ruled out scores
        below its threshold, and every row not checked at most its bound, so once the k-th best
        passing row scores at or above the threshold and above the bounds left, no row can pass
        ahead of it. Otherwise `depth` grows (from the pass rate seen); once it would reach an
        eighth of the index, SQL lists the candidates instead (`rank`)."""
        if k <= 0:
            return [], {}
        passing = None if value_filter is None else self.filtered_ids(value_filter)
        if passing is not None:
            return await self.search(query, k, namespace_prefix, passing)
        await self.ready()
        vector = np.asarray(query, dtype=np.float32)
        limit = len(self.index) // DEEPEN_LIMIT
        depth = max(DEEPEN_FACTOR * k, DEEPEN_START)
        while depth <= limit:
            rows, highs, stats = await asyncio.to_thread(self.index.bounded_candidates, vector, depth, namespace_prefix)
            ranked, items, checked, passed = await self._rank_checked(
                conn, where, params, vector, k, rows, highs, stats["threshold"]
            )
            if ranked is not None:
                return ranked, items
            # Deeper by the pass rate seen so far (x2 for luck), at least 4x.
            rate = max(passed, 1) / max(checked, 1)
            depth = max(4 * depth, int(2 * k / rate))
        return await self.rank(conn, where, params, vector, k)

    async def _rank_checked(
        self,
        conn: aiosqlite.Connection,
        where: str,
        params: Sequence[Any],
        vector: np.ndarray,
        k: int,
        rows: np.ndarray,
        highs: np.ndarray,
        threshold: float,
    ) -> tuple[list[tuple[int, float]] | None, dict[int, tables.Row], int, int]:
        """The exact top `k` of the passing rows when `rows` (best bound first) prove it, checking
        the filter on a batch of them at a time (8 k, doubling): at 1M items and a 10% filter the
        index names ~2,500 rows for a depth of 320, and checking all of them cost 15-20 ms where
        the answer was settled within the first few hundred. None when they do not prove it; with
        how many rows were checked and passed."""
        passing: set[int] = set()
        checked, batch = 0, max(8 * k, 64)
        if len(highs) and not np.isfinite(highs[0]):
            batch = len(rows)  # no bounds (the numpy twin): one batch, as before
        ranked: list[tuple[int, float]] = []
        items: dict[int, tables.Row] = {}
        while True:
            chunk = rows[checked : checked + batch]
            checked += len(chunk)
            found = await tables.passing_ids(conn, where, params, chunk)
            if found or not ranked:
                passing |= found
                selected = np.array(sorted(passing), dtype=np.int64)
                ranked, items = await asyncio.to_thread(self._exact, vector, k, selected)
            left = highs[checked] if checked < len(rows) else -np.inf
            if threshold == -np.inf and checked == len(rows):
                return ranked, items, checked, len(passing)  # nothing was ruled out
            if len(ranked) >= k and ranked[k - 1][1] >= threshold and ranked[k - 1][1] > left:
                return ranked, items, checked, len(passing)
            if checked == len(rows):
                return None, {}, checked, len(passing)
            batch *= 2

    def close(self) -> None:
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None
