"""A semantic search with an equality filter is answered from the value index
(`value_postings.py`): the vector core scans only the items passing the filter. Every answer must be
the brute force over the items passing the filter (InMemoryStore's rules, `filters.matches`) while
items are written and deleted, while the field's index is being built, and after a field crosses
the cap of distinct values (SQL's path again). On both vector cores; only the SQLite store has an
in-memory index."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import PutOp

from aegra import vec
from aegra.store import filters, sqlite_tables
from aegra.store.sqlite_store import AsyncSqliteStore
from aegra.store.value_postings import MAX_VALUES
from aegra.vec._backend import available

DIMS = 16
ITEMS = 3000
RNG = np.random.default_rng(11)
CENTERS = RNG.standard_normal((8, DIMS)).astype(np.float32)
TABLE = (CENTERS[np.arange(2 * ITEMS) % 8] + 0.3 * RNG.standard_normal((2 * ITEMS, DIMS))).astype(np.float32)
QUERIES = (CENTERS[[0, 3, 5]] + 0.2 * RNG.standard_normal((3, DIMS))).astype(np.float32)
FILTERS: list[dict[str, Any]] = [{"kind": "k3"}, {"kind": {"$eq": "k7"}, "flag": True}, {"kind": "none"}]


def embed(texts: list[str]) -> list[list[float]]:
    return [(QUERIES[int(t[1:])] if t.startswith("q") else TABLE[int(t[1:])]).tolist() for t in texts]


def value(i: int, kind: int | None = None) -> dict[str, Any]:
    return {"text": f"v{i}", "kind": f"k{i // 7 % 10 if kind is None else kind}", "flag": i % 3 == 0}


class Model:
    """What the store holds: key -> (namespace, value); the vector of `v{i}` is TABLE[i]."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}

    def put(self, namespace: tuple[str, ...], key: str, val: dict[str, Any] | None) -> PutOp:
        if val is None:
            self.items.pop(key, None)
        else:
            self.items[key] = (namespace, val)
        return PutOp(namespace, key, val)

    def brute_force(self, query: np.ndarray, prefix: tuple[str, ...], filter_: dict[str, Any], k: int) -> list:
        keys = sorted(
            key
            for key, (ns, val) in self.items.items()
            if ns[: len(prefix)] == prefix and filters.matches(val, filter_)
        )
        if not keys:
            return []
        owners = np.arange(len(keys))
        rows = TABLE[[int(self.items[key][1]["text"][1:]) for key in keys]]
        with vec._backend.using("rust" if "rust" in available() else "python"):
            found = vec.exact_top_k(query, k, owners, rows, "cosine")
        return [(keys[i], score) for i, score in found]


def sql_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts SQL's filter paths (the old way): empty while the value index answers."""
    calls: list[str] = []
    for name in ("passing_ids", "candidate_ids"):
        original = getattr(sqlite_tables, name)

        async def counted(*args: Any, _original: Any = original, _name: str = name) -> Any:
            calls.append(_name)
            return await _original(*args)

        monkeypatch.setattr(sqlite_tables, name, counted)
    return calls


async def check(store: AsyncSqliteStore, model: Model, prefixes: list[tuple[str, ...]]) -> None:
    for q in range(len(QUERIES)):
        for prefix in prefixes:
            for filter_ in FILTERS:
                for k in (1, 10):
                    found = await store.asearch(prefix, query=f"q{q}", filter=filter_, limit=k)
                    got = [(item.key, item.score) for item in found if item.score is not None]
                    assert got == model.brute_force(QUERIES[q], prefix, filter_, k), (q, prefix, filter_, k)


def index_config() -> dict[str, Any]:
    return {"dims": DIMS, "embed": embed, "fields": ["text"]}


@pytest.mark.parametrize("backend", available())
async def test_filtered_searches_stay_exact_while_items_change(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, rng = Model(), np.random.default_rng(3)
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index_config(), vector_backend=backend) as store:
        await store.abatch([model.put(("s", str(i % 4)), f"k{i}", value(i)) for i in range(ITEMS)])
        await store.wait_until_indexed()
        cache = store._cache
        assert cache is not None
        await check(store, model, [("s",)])  # the first filtered searches start the fields' builds
        await cache.values_built()
        assert sorted(cache.values.indexed()) == ["flag", "kind"]
        calls = sql_checks(monkeypatch)
        next_id = ITEMS
        for _ in range(4):
            ops = []
            for i in rng.choice(ITEMS, 60, replace=False):
                ns = ("s", str(int(i) % 4))
                if rng.random() < 0.3:
                    ops.append(model.put(ns, f"k{i}", None))  # a delete
                else:
                    ops.append(model.put(ns, f"k{i}", value(int(i), kind=int(rng.integers(0, 10)))))
            for _ in range(30):
                ops.append(model.put(("s", "9"), f"k{next_id}", value(next_id, kind=3)))
                next_id += 1
            await store.abatch(ops)
            await check(store, model, [("s",), ("s", "1"), ("s", "9")])
        assert calls == []  # answered by the value index throughout


@pytest.mark.parametrize("backend", available())
async def test_writes_during_a_fields_build_are_replayed(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Model()
    read, release = threading.Event(), threading.Event()
    groups = sqlite_tables.field_value_groups

    def slow_groups(*args: Any) -> Any:
        found = groups(*args)  # the snapshot, before the writes below
        read.set()
        release.wait(30)
        return found

    monkeypatch.setattr(sqlite_tables, "field_value_groups", slow_groups)
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index_config(), vector_backend=backend) as store:
        await store.abatch([model.put(("s",), f"k{i}", value(i)) for i in range(ITEMS)])
        await store.wait_until_indexed()
        cache = store._cache
        assert cache is not None
        await store.asearch(("s",), query="q0", filter={"kind": "k3"}, limit=10)  # starts the build
        await asyncio.to_thread(read.wait, 30)
        # Meanwhile: items moved into and out of k3, and k3 items deleted, after the build's read.
        await store.abatch(
            [model.put(("s",), f"k{i}", value(i, kind=3)) for i in range(0, ITEMS, 5)]
            + [model.put(("s",), f"k{i}", None) for i in range(21, ITEMS, 70)]
            + [model.put(("s",), f"k{i}", value(i, kind=4)) for i in range(22, ITEMS, 70)]
        )
        release.set()
        await cache.values_built()
        assert "kind" in cache.values.indexed()
        calls = sql_checks(monkeypatch)
        for q in range(len(QUERIES)):
            for k in (1, 10, 50):
                found = await store.asearch(("s",), query=f"q{q}", filter={"kind": "k3"}, limit=k)
                assert [(i.key, i.score) for i in found] == model.brute_force(QUERIES[q], ("s",), {"kind": "k3"}, k)
        assert calls == []


@pytest.mark.parametrize("backend", available())
async def test_a_field_crossing_the_cap_goes_back_to_sql(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Model()

    def tagged(i: int, tag: int) -> dict[str, Any]:
        return {"text": f"v{i}", "tag": f"t{tag}"}

    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index_config(), vector_backend=backend) as store:
        await store.abatch([model.put(("s",), f"k{i}", tagged(i, i % MAX_VALUES)) for i in range(ITEMS)])
        await store.wait_until_indexed()
        cache = store._cache
        assert cache is not None
        await store.asearch(("s",), query="q0", filter={"tag": "t3"}, limit=10)
        await cache.values_built()
        assert cache.values.indexed() == ["tag"]
        calls = sql_checks(monkeypatch)
        # A put with a value number MAX_VALUES + 1: the field leaves the value index for good.
        moved = [model.put(("s",), f"k{i}", tagged(i, 3 if i % 2 else MAX_VALUES)) for i in range(0, 400, 7)]
        await store.abatch(moved)
        assert cache.values.indexed() == []
        for q in range(len(QUERIES)):
            for filter_ in ({"tag": "t3"}, {"tag": f"t{MAX_VALUES}"}):
                found = await store.asearch(("s",), query=f"q{q}", filter=filter_, limit=10)
                assert [(i.key, i.score) for i in found] == model.brute_force(QUERIES[q], ("s",), filter_, 10)
        await cache.values_built()
        assert cache.values.indexed() == [] and calls  # answered by SQL, not built again
