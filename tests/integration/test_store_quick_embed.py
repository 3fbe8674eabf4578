"""A sync embedding function's queries are embedded on the event loop once it has proven quick
(`aegra/store/quick_embed.py`), in a thread otherwise; the searches' answers are the same either way."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aegra.store import quick_embed
from aegra.store.embeddings import build_embeddings
from aegra.store.quick_embed import PROVEN_CALLS, SyncFunctionEmbeddings
from aegra.store.sqlite_store import AsyncSqliteStore

DIMS = 16


class LookupEmbedder:
    """Texts "v N" embed to row N of a fixed matrix; records the thread of every call."""

    def __init__(self, items: int) -> None:
        self.matrix = np.random.default_rng(3).standard_normal((items + 64, DIMS)).astype(np.float32)
        self.threads: list[int] = []
        self.delay = 0.0

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.threads.append(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        return [self.matrix[int(text[2:])].tolist() for text in texts]


def brute_force(matrix: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    return sorted(range(len(matrix)), key=lambda i: (-float(scores[i]), i))[:k]


@pytest.mark.parametrize("backend", ["rust", "python"])
async def test_queries_go_inline_once_quick_and_answer_as_in_the_thread(tmp_path: Path, backend: str) -> None:
    items = 60
    embed = LookupEmbedder(items)
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index, vector_backend=backend) as store:  # type: ignore[arg-type]
        assert isinstance(store.embeddings, SyncFunctionEmbeddings)
        for i in range(items):
            await store.aput(("docs",), f"k{i}", {"text": f"v {i}"})
        embed.threads.clear()
        loop_thread = threading.get_ident()
        for q in range(PROVEN_CALLS + 8):
            found = await store.asearch(("docs",), query=f"v {items + q}", limit=5)
            expected = brute_force(embed.matrix[:items], embed.matrix[items + q], 5)
            assert [item.key for item in found] == [f"k{i}" for i in expected]
        threads = embed.threads
        assert all(t != loop_thread for t in threads[:PROVEN_CALLS])  # proven in the thread first
        assert all(t == loop_thread for t in threads[PROVEN_CALLS:])  # then inline


async def test_batches_of_texts_go_inline_once_quick_apart_from_queries(tmp_path: Path) -> None:
    embed = LookupEmbedder(PROVEN_CALLS + 8)
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index) as store:  # type: ignore[arg-type]
        assert isinstance(store.embeddings, SyncFunctionEmbeddings)
        loop_thread = threading.get_ident()
        for i in range(PROVEN_CALLS + 8):
            await store.aput(("docs",), f"k{i}", {"text": f"v {i}"})
        assert all(t != loop_thread for t in embed.threads[:PROVEN_CALLS])  # proven in the thread first
        assert all(t == loop_thread for t in embed.threads[PROVEN_CALLS:])  # then inline
        assert store.embeddings.document_calls.inline and not store.embeddings.query_calls.inline
        found = await store.asearch(("docs",), query=f"v {PROVEN_CALLS + 3}", limit=1)
        assert found[0].key == f"k{PROVEN_CALLS + 3}" and found[0].score is not None and found[0].score > 0.999
        assert embed.threads[-1] != loop_thread  # the query is proven on its own
        embed.delay = 4 * quick_embed.QUICK_SECONDS
        await store.aput(("docs",), "slow", {"text": "v 0"})
        assert embed.threads[-1] == loop_thread and not store.embeddings.document_calls.inline
        embed.delay = 0.0
        await store.aput(("docs",), "again", {"text": "v 1"})
        assert embed.threads[-1] != loop_thread  # back in its thread for good


async def test_a_slow_inline_call_sends_the_function_back_to_its_thread(tmp_path: Path) -> None:
    embed = LookupEmbedder(0)
    embeddings = SyncFunctionEmbeddings(embed)
    loop_thread = threading.get_ident()
    for q in range(PROVEN_CALLS):
        await embeddings.aembed_query(f"v {q}")
    assert embeddings.query_calls.inline
    embed.delay = 4 * quick_embed.QUICK_SECONDS
    assert await embeddings.aembed_query("v 1") == embed.matrix[1].tolist()
    assert embed.threads[-1] == loop_thread
    embed.delay = 0.0
    for q in range(2 * PROVEN_CALLS):  # quick again: it stays in the thread
        await embeddings.aembed_query(f"v {q}")
    assert not embeddings.query_calls.inline
    assert all(t != loop_thread for t in embed.threads[PROVEN_CALLS + 1 :])


async def test_a_slow_function_stays_in_its_thread() -> None:
    embed = LookupEmbedder(0)
    embed.delay = 2 * quick_embed.QUICK_SECONDS
    embeddings = SyncFunctionEmbeddings(embed)
    for q in range(PROVEN_CALLS + 2):
        await embeddings.aembed_query(f"v {q}")
    assert not embeddings.query_calls.inline
    assert threading.get_ident() not in embed.threads


async def test_a_user_function_from_a_file_is_timed_and_an_async_one_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "emb.py").write_text(
        "def embed(texts):\n    return [[float(len(t)), 1.0] for t in texts]\n"
        "async def aembed(texts):\n    return [[float(len(t)), 2.0] for t in texts]\n"
    )
    sync = build_embeddings("./emb.py:embed", 2, base_dir=tmp_path)
    assert isinstance(sync.inner, SyncFunctionEmbeddings)  # type: ignore[attr-defined]
    for _ in range(PROVEN_CALLS + 1):
        assert await sync.aembed_query("abc") == [3.0, 1.0]
    assert sync.inner.query_calls.inline  # type: ignore[attr-defined]
    asynchronous = build_embeddings("./emb.py:aembed", 2, base_dir=tmp_path)
    assert not isinstance(asynchronous.inner, SyncFunctionEmbeddings)  # type: ignore[attr-defined]
    assert await asynchronous.aembed_query("abcd") == [4.0, 2.0]
