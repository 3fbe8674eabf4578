"""The numpy twin's own machinery (`aegra.vec._python`): its row map against a dict, its first pass's
shortcut against computing every interval, its code dot products against integer arithmetic, and
its memory against what it reports. (Results against the brute force: test_vec_index.py.)"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from aegra.vec._python.codes import encode_codes, quantize
from aegra.vec._python.first_pass import code_dots
from aegra.vec._python.index import VectorIndex
from aegra.vec._python.rows import RowSlots


def test_row_slots_follow_a_dict_through_random_operations() -> None:
    rng = np.random.default_rng(3)
    rows, model = RowSlots(), dict[int, list[int]]()
    next_slot = 0
    for step in range(1500):
        action = rng.integers(0, 6)
        if action == 0:  # a batch of new ids, increasing (a load chunk, new items)
            start = max(model, default=0) + 1 + int(rng.integers(0, 3))
            ids = np.arange(start, start + int(rng.integers(1, 300)), dtype=np.int64)
            rows.add_many(ids, next_slot)
        elif action == 1:  # a batch in any order, of ids not held (updates of older items)
            top = max(model, default=0) + 200
            pool = np.setdiff1d(np.arange(1, top), np.fromiter(model, dtype=np.int64, count=len(model)))
            ids = rng.permutation(pool)[: int(rng.integers(1, 50))].astype(np.int64)
            rows.add_many(ids, next_slot)
        elif action == 2:  # one row, one or several vectors
            free = [i for i in range(1, max(model, default=0) + 200) if i not in model]
            row = int(rng.choice(free))
            slots = list(range(next_slot, next_slot + int(rng.integers(1, 3))))
            rows.add(row, slots)
            model[row] = slots
            next_slot += len(slots)
            continue
        elif action in (3, 4) and model:
            row = int(rng.choice(list(model)))
            assert rows.remove(row) == model.pop(row)
            assert rows.remove(row) is None
            continue
        else:
            if model:  # a vector moved to another slot (a delete fills its hole)
                row = int(rng.choice(list(model)))
                old = model[row][-1]
                rows.move(row, old, next_slot)
                model[row][-1] = next_slot
                next_slot += 1
            continue
        for i, row in enumerate(ids.tolist()):
            model[row] = [next_slot + i]
        next_slot += len(ids)
        if step % 50 == 0:
            probe = np.arange(0, max(model, default=0) + 300, dtype=np.int64)
            assert rows.present(probe).tolist() == [int(i) in model for i in probe]
            assert all(rows.get(int(i)) == model.get(int(i)) for i in probe)
    assert len(rows) == len(model)
    assert all(rows.get(row) == slots for row, slots in model.items())


def _every_interval(index: VectorIndex, query: np.ndarray, capacity: int, metric: str) -> tuple[list[int], float]:
    """The first pass computed on every vector, by the twin's own bounds (no cut-off)."""
    found: dict[str, object] = {}

    def spy(dots: np.ndarray, slots: np.ndarray | None, bounds: object, cap: int) -> tuple[np.ndarray, float]:
        lo, hi = bounds.interval(dots, slice(len(dots)))  # type: ignore[attr-defined]
        threshold = float(np.partition(lo, len(lo) - cap)[len(lo) - cap]) if len(lo) >= cap else -np.inf
        found["result"] = (np.flatnonzero((hi >= threshold) | np.isnan(hi)), threshold)
        return found["result"]  # type: ignore[return-value]

    import aegra.vec._python.index as module

    real = module.survivors
    module.survivors = spy  # type: ignore[assignment]
    try:
        keep, threshold, _ = index._first_pass(
            query, float(np.linalg.norm(query.astype(np.float64))), metric, None, capacity
        )
    finally:
        module.survivors = real
    return keep.tolist(), threshold


@pytest.mark.parametrize("metric", ["cosine", "inner_product"])
def test_the_cut_off_leaves_the_first_pass_unchanged(metric: str) -> None:
    """Vectors built to sit near the threshold: duplicates, scaled copies, zero and tiny vectors,
    clusters. The shortcut must give the survivors and threshold of computing every interval."""
    rng = np.random.default_rng(11)
    dims, n = 64, 6000
    centers = rng.normal(size=(8, dims))
    vectors = (centers[rng.integers(0, 8, n)] + 0.03 * rng.normal(size=(n, dims))).astype(np.float32)
    vectors[::53] = vectors[0]
    vectors[1::71] = 3 * vectors[1]
    vectors[2::301] = 0.0
    vectors[3::407] *= np.float32(1e-30)
    index = VectorIndex(dims)
    index.upsert_many(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.uint32), [("t",)], encode_codes(vectors, dims))
    queries = [vectors[0], vectors[1], centers[2].astype(np.float32), rng.normal(size=dims).astype(np.float32)]
    shortcuts = 0
    for query in queries:
        for capacity in (1, 10, 100, 1000):
            norm = float(np.linalg.norm(query.astype(np.float64)))
            keep, threshold, _ = index._first_pass(query, norm, metric, None, capacity)
            assert (keep.tolist(), threshold) == _every_interval(index, query, capacity, metric)
            shortcuts += len(keep) < n // 2
    assert shortcuts >= 8  # the cut-off did rule vectors out (else this test checks nothing)


@pytest.mark.parametrize("dims", [3, 384, 1100])
def test_code_dots_are_the_integer_products(dims: int) -> None:
    rng = np.random.default_rng(dims)
    vectors = rng.normal(size=(2500, dims)).astype(np.float32)
    codes, _, _ = quantize(vectors, np.linalg.norm(vectors.astype(np.float64), axis=1))
    query_codes = np.full(dims, 127, dtype=np.int8)  # the largest products: float32 sums at their limit
    query_codes[::2] = -127
    expected = codes.astype(np.int64) @ query_codes.astype(np.int64)
    assert np.array_equal(code_dots(codes, query_codes, len(codes), None).astype(np.int64), expected)
    slots = np.sort(rng.choice(len(codes), 700, replace=False))
    assert np.array_equal(code_dots(codes, query_codes, 0, slots).astype(np.int64), expected[slots])


def test_memory_bytes_is_what_a_load_allocates() -> None:
    """100k rows of one vector: what the index reports is what it holds (a dict of rows cost
    ~190 bytes a row beyond it), and it holds little beside the codes."""
    dims, n = 96, 100_000
    records = encode_codes(np.random.default_rng(2).normal(size=(n, dims)).astype(np.float32), dims)
    tracemalloc.start()
    try:
        index = VectorIndex(dims)
        index.reserve(n)
        for start in range(0, n, 10_000):
            ids = np.arange(start, start + 10_000, dtype=np.int64) * 3  # SQLite-like: increasing, gaps
            chunk = records[start * (16 + dims) : (start + 10_000) * (16 + dims)]
            index.upsert_many(ids, np.zeros(10_000, dtype=np.uint32), [("ns",)], chunk)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(index) == index.vector_count() == n
    assert held <= index.memory_bytes() * 1.05 + 2**20
    assert index.memory_bytes() <= n * (dims + 48)
    assert 3 * 4242 in index and 3 * 4242 + 1 not in index


def test_a_kept_first_pass_is_not_reused_after_a_write() -> None:
    """The same query asked again reuses its code dots (a filtered search deepening) only while
    nothing was written: a put or a delete between two asks shows in the second."""
    rng = np.random.default_rng(4)
    dims, n = 32, 5000
    vectors = rng.normal(size=(n, dims)).astype(np.float32)
    index = VectorIndex(dims)
    index.upsert_many(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.uint32), [("t",)], encode_codes(vectors, dims))
    query = rng.normal(size=dims).astype(np.float32)

    def rows(k: int) -> list[int]:
        return np.frombuffer(index.candidates(query, k, (), None, "cosine")[0], dtype="<i8").tolist()

    before = rows(10)
    assert rows(10) == before and index._memo is not None
    index.upsert(n, ("t",), encode_codes(query.reshape(1, -1), dims))  # the best match there can be
    assert n in rows(10) and n in rows(40)
    index.delete(n)
    assert n not in rows(10) and rows(10) == before
    index.upsert_many(
        np.array([n + 1]), np.zeros(1, dtype=np.uint32), [("t",)], encode_codes(query.reshape(1, -1), dims)
    )
    assert n + 1 in rows(10)


def test_kept_prefix_slots_follow_writes() -> None:
    """The slots under a prefix are kept between searches until the next write: a row written
    under it (in a namespace of its own, new to the index) shows in the next search."""
    rng = np.random.default_rng(6)
    dims, n = 16, 4000
    vectors = rng.normal(size=(n, dims)).astype(np.float32)
    spaces = (np.arange(n) % 10 == 0).astype(np.uint32)  # 10% under ("t", "a")
    index = VectorIndex(dims)
    index.upsert_many(np.arange(n, dtype=np.int64), spaces, [("t", "b"), ("t", "a")], encode_codes(vectors, dims))
    query = rng.normal(size=dims).astype(np.float32)

    def rows(q: np.ndarray) -> list[int]:
        return np.frombuffer(index.candidates(q, 5, ("t", "a"), None, "cosine")[0], dtype="<i8").tolist()

    assert all(row % 10 == 0 for row in rows(query)) and index._prefix_slots
    other = rng.normal(size=dims).astype(np.float32)
    assert rows(other)  # another query: the kept slots, no write since
    index.upsert(n, ("t", "a", "new"), encode_codes(query.reshape(1, -1), dims))
    assert n in rows(query)
    index.delete(n)
    assert n not in rows(query)


def test_remembered_prefixes_stay_bounded() -> None:
    """A server searches under many prefixes (one per user): what the index remembers of them
    stays bounded, and answers stay right after it forgets."""
    index = VectorIndex(4)
    vectors = np.eye(4, dtype=np.float32)
    index.upsert_many(
        np.arange(4), np.arange(4, dtype=np.uint32), [("u", str(i)) for i in range(4)], encode_codes(vectors, 4)
    )
    for user in range(5000):
        index.candidates(vectors[user % 4], 1, ("u", str(user)), None, "cosine")
        assert len(index._prefix_spaces) <= 4096
    found = index.candidates(vectors[2], 1, ("u", "2"), None, "cosine")[0]
    assert np.frombuffer(found, dtype="<i8").tolist() == [2]
