"""The vector index loads in the background: the store opens at once, a semantic search made while
the index is still loading waits for it and is exact, and writes made during the load (puts,
overwrites, deletes) are in the index afterwards - not the older state the loader read. Only the
SQLite store has an in-memory index (PostgreSQL searches pgvector in the database)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aegra import vec
from aegra.store import sqlite_codes
from aegra.store.sqlite_store import AsyncSqliteStore
from aegra.vec._backend import available

DIMS = 16
ITEMS = 3000
RNG = np.random.default_rng(21)
TABLE = RNG.standard_normal((ITEMS + 500, DIMS)).astype(np.float32)


def embed(texts: list[str]) -> list[list[float]]:
    """`v<i>` embeds to row i of TABLE: distinct vectors, known exactly."""
    return [TABLE[int(text.split("v")[-1])].tolist() for text in texts]


INDEX = {"dims": DIMS, "embed": embed, "fields": ["text"]}


@pytest.fixture
def slow_loader(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The loader reads small chunks and waits for `release` before each one after the first: the
    test decides when the load may finish (the real loader and file, only slowed)."""
    release = threading.Event()
    chunks = sqlite_codes.code_chunks

    def held(conn: sqlite3.Connection, record_size: int, item_ids: np.ndarray) -> Iterator[tuple[np.ndarray, bytes]]:
        for i, chunk in enumerate(chunks(conn, record_size, item_ids)):
            if i:
                release.wait(timeout=30)
            yield chunk

    monkeypatch.setattr(sqlite_codes, "LOAD_CHUNK", 97)
    monkeypatch.setattr(sqlite_codes, "code_chunks", held)
    yield release
    release.set()


def brute_force(path: Path, query: np.ndarray, k: int, prefix: str = "") -> list[tuple[str, float]]:
    """The exact top k from the file itself: every current vector scored."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT i.key, v.embedding FROM store_items i JOIN store_item_vectors v ON v.item_id = i.id "
        "WHERE i.prefix LIKE ? ORDER BY i.id",
        (prefix + "%",),
    ).fetchall()
    conn.close()
    keys = [row[0] for row in rows]
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), DIMS)
    found = vec.exact_top_k(query, k, np.arange(len(rows)), matrix, "cosine")
    return [(keys[i], score) for i, score in found]


@pytest.mark.parametrize("backend", available())
async def test_search_during_the_load_is_exact_and_writes_during_it_are_kept(
    tmp_path: Path, slow_loader: threading.Event, backend: str
) -> None:
    path = tmp_path / "store.db"
    async with AsyncSqliteStore.from_path(path, index=INDEX, vector_backend=backend) as store:  # type: ignore[arg-type]
        await store.abatch([])
        for start in range(0, ITEMS, 500):
            await asyncio.gather(
                *(store.aput(("t", str(i % 4)), f"k{i}", {"text": f"v{i}"}) for i in range(start, start + 500))
            )

    store = AsyncSqliteStore(path, index=INDEX, vector_backend=backend)  # type: ignore[arg-type]
    await store.setup()
    try:
        cache = store._cache
        assert cache is not None and cache.loading, "setup returns before the index is loaded"
        query = TABLE[7] + 0.1 * TABLE[8]
        search = asyncio.create_task(store.asearch(("t",), query="v7", limit=10))
        # Writes while the loader is held in the middle of the file: a new item, an overwrite that
        # moves an item's vector far away, an overwrite that makes one the best match, a delete.
        await store.aput(("t", "1"), "new", {"text": f"v{ITEMS + 1}"})
        await store.aput(("t", "3"), "k7", {"text": f"v{ITEMS + 2}"})  # k7 was the best match
        await store.aput(("t", "2"), "k2998", {"text": "v7"})  # now it is
        await store.adelete(("t", "0"), "k8")
        await asyncio.sleep(0.05)
        assert cache.loading and not search.done(), "the search waits for the load"
        slow_loader.set()
        found = await search
        assert not cache.loading
        del query
        expected = brute_force(path, np.array(embed(["v7"])[0], dtype=np.float32), 10, "t")
        assert [(item.key, item.score) for item in found] == expected
        assert found[0].key == "k2998" and "k7" not in {item.key for item in found[:1]}
        assert "k8" not in {item.key for item in await store.asearch(("t", "0"), query="v8", limit=ITEMS)}
        assert len(cache.index) == ITEMS  # +1 new, -1 deleted
        for probe in ["v100", f"v{ITEMS + 1}", f"v{ITEMS + 2}"]:
            q = np.array(embed([probe])[0], dtype=np.float32)
            got = [(i.key, i.score) for i in await store.asearch(("t",), query=probe, limit=5)]
            assert got == brute_force(path, q, 5, "t")
    finally:
        await store.aclose()


async def test_a_file_from_before_the_code_records_gets_them(tmp_path: Path) -> None:
    """Schema 1 files have vectors but no code records: the loader writes them, once, then loads."""
    path = tmp_path / "old.db"
    async with AsyncSqliteStore.from_path(path, index=INDEX) as store:
        await store.abatch([])
        await asyncio.gather(*(store.aput(("t",), f"k{i}", {"text": f"v{i}"}) for i in range(300)))
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM store_vector_codes")
    conn.execute("DELETE FROM store_meta WHERE name = 'codes_dims'")
    conn.commit()
    conn.close()
    async with AsyncSqliteStore.from_path(path, index=INDEX) as store:
        found = await store.asearch(("t",), query="v42", limit=3)
        assert found[0].key == "k42"
        assert store._cache is not None and len(store._cache.index) == 300
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM store_vector_codes").fetchone()[0] == 300
    conn.close()
