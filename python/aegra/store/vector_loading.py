"""Loading the store's vector index from the file (`VectorCache`'s part that runs in the loader's
thread): the namespaces and the code records of one read snapshot, a chunk at a time
(`sqlite_codes.py`), skipping the rows written since the load began; and, for a file from before
the code records, writing them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import sqlite3
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from aegra import vec
from aegra.store import sqlite_codes

logger = logging.getLogger(__name__)

BACKFILL_CHUNK = 8192
T = TypeVar("T")


def release_free_memory() -> None:
    """Give the memory the load freed back to the system. glibc keeps freed blocks of a thread's
    arena (the loader's chunks: tens of MB) resident; measured, without this the process kept
    about 90 MB more after loading a million vectors. Best effort, glibc only."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def read_ahead(chunks: Iterator[T]) -> Generator[T, None, None]:
    """`chunks`, each read in a thread of its own while the caller handles the one before: the
    load's SQL (~1 s of CPU at a million vectors) and the index's inserts (~1-2 s, both without
    the GIL) overlap on two cores instead of adding up. One chunk ahead: ~7 MB more at 384 dims.
    The connection is used by one thread at a time (the next read starts after the last returned);
    closing this waits for a read under way."""
    with ThreadPoolExecutor(1, thread_name_prefix="aegra-store-index-read") as reader:
        pending = reader.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = reader.submit(next, chunks, None)
            yield chunk


class IndexLoading:
    """The loader of `VectorCache` (which sets these attributes)."""

    path: str
    dims: int
    index: vec.VectorIndex
    busy_timeout_ms: int
    load_seconds: float | None
    _mutations: threading.Lock
    _written_during_load: set[int] | None
    _loaded: asyncio.Event
    _failure: BaseException | None

    async def _load(self) -> None:
        start = time.perf_counter()
        try:
            count = await asyncio.to_thread(self._load_from_file)
            self.load_seconds = time.perf_counter() - start
            logger.info(
                "store index: %d vectors loaded in %.2f s (%.0f MB, %s)",
                count,
                self.load_seconds,
                self.index.memory_bytes() / 2**20,
                self.index.backend,
            )
        except Exception as exc:
            self._failure = exc
            logger.exception("store index: loading %s failed", self.path)
        finally:
            self._written_during_load = None
            self._loaded.set()
            release_free_memory()
        if self._failure is None:
            await asyncio.to_thread(self._huge_pages)

    def _huge_pages(self) -> None:
        """The loaded codes moved to huge pages, after the load: `reserve` gave them 4 KB pages,
        whose first touch costs a steady ~0.2 s of kernel time for 400 MB, where huge pages took
        0.05-2 s here (a VM: varying with what the host must back) - most of the load's swing.
        Searches meanwhile are exact, their scan slower on 4 KB pages (a TLB miss each)."""
        start, cpu = time.perf_counter(), time.thread_time()
        done = self.index.huge_pages(collapse=True)
        if done or self.index.backend == "rust":
            logger.info(
                "store index: huge pages %s in %.2f s (%.2f s of CPU)",
                "in place" if done else "advised (the kernel did not collapse them all now)",
                time.perf_counter() - start,
                time.thread_time() - cpu,
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return conn

    def _load_from_file(self) -> int:
        conn = self._connect()
        try:
            if not sqlite_codes.codes_complete(conn, self.dims):
                if sqlite_codes.vectors_without_codes(conn, self.dims, 0, 1):
                    self._backfill_codes(conn)
                else:
                    self._mark_codes_complete(conn)
            conn.execute("BEGIN")  # one snapshot for the namespaces and every code record
            labels, item_ids, spaces = sqlite_codes.namespaces_by_item(conn)
            names = [list(label) for label in labels]  # converted once for every chunk
            with self._mutations:
                codes = sqlite_codes.code_count(conn)
                if codes == len(item_ids):
                    # One vector an item (the usual index config): each namespace in one run of the
                    # arena, so a prefix's scan reads its vectors as one stream.
                    self.index.reserve_namespaces(names, np.bincount(spaces, minlength=len(names)).tolist())
                else:
                    self.index.reserve(codes)
            count = 0
            chunks = sqlite_codes.code_chunks(conn, vec.code_record_size(self.dims), item_ids)
            with contextlib.closing(read_ahead(chunks)) as ahead:
                for ids, records in ahead:
                    count += self._load_chunk(names, item_ids, spaces, ids, records)
            conn.execute("COMMIT")
            return count
        finally:
            conn.close()

    def _load_chunk(
        self,
        names: list[list[str]],
        item_ids: np.ndarray,
        spaces: np.ndarray,
        ids: np.ndarray,
        records: bytes,
    ) -> int:
        """Add a chunk of code records, but none of a row written since the load began: the index
        already has that row's newer state (or its deletion) from `follow`."""
        position = np.minimum(np.searchsorted(item_ids, ids), max(len(item_ids) - 1, 0))
        keep = item_ids[position] == ids if len(item_ids) else np.zeros(len(ids), dtype=bool)
        with self._mutations:
            written = self._written_during_load
            if written:
                keep &= ~np.isin(ids, np.fromiter(written, dtype=np.int64, count=len(written)))
            if not keep.any():
                return 0
            size = vec.code_record_size(self.dims)
            everything = bool(keep.all())
            kept = records if everything else np.frombuffer(records, dtype=np.uint8).reshape(-1, size)[keep].reshape(-1)
            used, local = np.unique(spaces[position[keep]], return_inverse=True)
            self.index.load(ids[keep], local.astype(np.uint32), [names[i] for i in used], kept)
        return int(keep.sum())

    def _mark_codes_complete(self, conn: sqlite3.Connection) -> None:
        """Record that every vector has its code (a new file): it spares the next load the check.
        Only that, so a write lock held elsewhere (busy past the timeout) does not fail the load."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            logger.info("store index: codes not marked complete (file busy: %s); the next load checks again", exc)
            return
        try:
            sqlite_codes.mark_codes_complete(conn, self.dims)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _backfill_codes(self, conn: sqlite3.Connection) -> None:
        """Give every vector its code record (a file written before the codes existed), a chunk per
        write transaction so that puts go on meanwhile."""
        after, total = 0, 0
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = sqlite_codes.vectors_without_codes(conn, self.dims, after, BACKFILL_CHUNK)
                if rows:
                    matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), self.dims)
                    records = self.index.encode(matrix)
                    size = vec.code_record_size(self.dims)
                    coded = [(r[1], r[2], records[i * size : (i + 1) * size]) for i, r in enumerate(rows)]
                    sqlite_codes.add_codes(conn, coded)
                    after, total = rows[-1][0], total + len(rows)
                else:
                    sqlite_codes.mark_codes_complete(conn, self.dims)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if not rows:
                break
        if total:
            logger.info("store index: wrote the code records of %d vectors (a file from an older version)", total)
