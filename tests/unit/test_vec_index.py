"""The KNN index: exact results (first pass over the int8 codes, then the survivors' float32 vectors
scored), LangGraph's scores, namespace and id filters, both backends alike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langgraph.store.memory import _cosine_similarity

from aegra import vec
from aegra.vec._backend import available, native
from tests.support.vector_memory import MemoryIndex

BACKENDS = available()
RNG = np.random.default_rng(7)


def _small_index(backend: str) -> MemoryIndex:
    index = MemoryIndex(3, backend=backend)
    index.upsert(1, ("users", "a"), [1, 0, 0])
    index.upsert(2, ("users", "b"), [[0, 1, 0], [1, 1, 0]])  # two fields: scores as its best
    index.upsert(3, ("users", "a", "deep"), [1, 0, 0])  # ties with 1
    index.upsert(4, ("docs",), [-1, 0, 0])
    index.upsert(5, ("users",), [0, 0, 0])  # a zero vector scores 0 under cosine
    return index


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_ranks_by_best_vector_with_ties_by_row_id(backend: str) -> None:
    index = _small_index(backend)
    assert (len(index), index.vector_count()) == (5, 6)
    found = index.search([2, 0, 0], k=10)
    assert [row for row, _ in found] == [1, 3, 2, 5, 4]
    assert [score for _, score in found] == pytest.approx([1, 1, 2**-0.5, 0, -1])
    assert index.search([2, 0, 0], k=2) == found[:2]
    assert index.search([2, 0, 0], k=0) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_namespace_prefix_and_candidate_ids_filter(backend: str) -> None:
    index = _small_index(backend)
    assert [r for r, _ in index.search([1, 0, 0], 10, ("users",))] == [1, 3, 2, 5]
    assert [r for r, _ in index.search([1, 0, 0], 10, ("users", "a"))] == [1, 3]
    assert index.search([1, 0, 0], 10, ("user",)) == []  # labels match whole, not as strings
    assert index.search([1, 0, 0], 10, ("users", "a", "deep", "x")) == []
    assert [r for r, _ in index.search([1, 0, 0], 10, candidate_ids=[4, 2, 2, 99])] == [2, 4]
    assert [r for r, _ in index.search([1, 0, 0], 10, ("users",), candidate_ids=np.array([4, 3]))] == [3]
    assert index.search([1, 0, 0], 10, candidate_ids=[]) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_report_what_langgraph_stores_report(backend: str) -> None:
    index = _small_index(backend)
    assert index.search([3, 4, 0], 1, metric="inner_product") == [(2, 7.0)]
    with pytest.raises(ValueError, match="unknown metric 'l2'; expected 'cosine' or 'inner_product'"):
        index.search([1, 0, 0], 1, metric="l2")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_scores_match_langgraph_in_memory_store(backend: str) -> None:
    vectors = RNG.normal(size=(200, 24)).astype(np.float32)
    vectors[7] = 0.0
    query = RNG.normal(size=24).astype(np.float32)
    index = MemoryIndex(24, backend=backend)
    index.upsert_many(range(200), [("ns",)] * 200, vectors)
    reference = _cosine_similarity(query.tolist(), vectors.tolist())
    found = index.search(query, k=200)
    assert len(found) == 200
    for row, score in found:
        assert score == pytest.approx(reference[row], abs=1e-6)
    assert [row for row, _ in found[:20]] == list(np.argsort(reference)[::-1][:20])


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_recall_on_384_dims(backend: str) -> None:
    vectors = RNG.normal(size=(3000, 384)).astype(np.float32)
    spaces = [("tenant", str(i % 10)) for i in range(3000)]
    index = MemoryIndex(384, backend=backend)
    index.upsert_many(np.arange(3000), spaces, vectors)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for _ in range(5):
        query = RNG.normal(size=384).astype(np.float32)
        exact = np.argsort(-(unit.astype(np.float64) @ query))
        assert [r for r, _ in index.search(query, 10)] == exact[:10].tolist()
        in_tenant = [i for i in exact if spaces[i] == ("tenant", "3")][:10]
        assert [r for r, _ in index.search(query, 10, ("tenant", "3"))] == in_tenant


@pytest.mark.parametrize("backend", BACKENDS)
def test_updates_deletes_and_bulk_loads(backend: str) -> None:
    index = _small_index(backend)
    assert index.delete(1) and not index.delete(1)
    assert 1 not in index and 2 in index
    index.upsert(3, ("docs",), [0, 1, 0])  # moves to another namespace
    index.upsert(2, ("users", "b"), np.zeros((0, 3)))  # no vectors: removed
    assert [r for r, _ in index.search([0, 1, 0], 10)] == [3, 4, 5]  # 4 and 5 tie at 0
    index.upsert_many([10, 11, 10], [("x",), ("y",), ("x",)], [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert index.vector_count() == 6 and len(index) == 5
    assert index.search([0, 0, 1], 1, ("x",)) == [(10, 1.0)]
    assert index.memory_bytes() > 0
    index.clear()
    assert len(index) == 0 and index.search([1, 0, 0], 3) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_raises_clear_errors_and_changes_nothing(backend: str) -> None:
    index = _small_index(backend)
    cases = [
        (lambda: index.upsert(9, ("a",), [1, 0]), "expected vectors of 3 dimensions, got 2"),
        (lambda: index.upsert(9, ("a",), [1, np.nan, 0]), r"vector 0 has a non-finite value \(nan\) at position 1"),
        (lambda: index.upsert_many([9, 9], [("a",), ("b",)], np.eye(3)[:2]), "row 9 has vectors in two namespaces"),
        (
            lambda: index.upsert_many([9], [("a",), ("a",)], np.eye(3)[:2]),
            "got 2 code records but 1 row ids and 2 namespace ids",
        ),
        (lambda: index.search([1, 0], 3), "expected vectors of 3 dimensions, got 2"),
        (lambda: index.search([np.inf, 0, 0], 3), r"the query vector has a non-finite value \(inf\) at position 0"),
        (lambda: index.search([3e38, 3e38, 0], 3), "the query vector is too large"),
        (lambda: index.search([1, 0, 0], -1), "k must be a non-negative integer"),
        (lambda: index.search([1, 0, 0], 3, metric="dot"), "unknown metric 'dot'"),  # type: ignore[arg-type]
        (lambda: vec.VectorIndex(0, backend=backend), "dims must be a positive integer"),  # type: ignore[arg-type]
        (lambda: index.index.upsert_codes(9, ("a",), b"\x00" * 5), "5 bytes are not whole code records of 19 bytes"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="a namespace is a tuple of strings"):
        index.search([1, 0, 0], 3, "users")
    assert (len(index), index.vector_count(), 9 in index) == (5, 6, False)


# --- both backends on random inputs -------------------------------------------------------------

NAMESPACES = [(), ("a",), ("a", "x"), ("a", "y"), ("b",), ("b", "x", "deep")]
# Few distinct coordinates, so equal vectors and tied scores are common.
coordinates = st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, -0.25, 3e-39]) | st.floats(-4, 4, width=32)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[tuple], list[tuple]]:
    dims = draw(st.sampled_from([1, 2, 3, 31, 32, 33, 70]))
    vectors = st.lists(st.lists(coordinates, min_size=dims, max_size=dims), max_size=3)
    ops = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("upsert"), st.integers(0, 12), st.sampled_from(NAMESPACES[1:]), vectors),
                st.tuples(st.just("delete"), st.integers(0, 12)),
                st.tuples(
                    st.just("bulk"),
                    st.lists(st.tuples(st.integers(0, 12), st.sampled_from(NAMESPACES[1:3])), max_size=6),
                ),
            ),
            max_size=25,
        )
    )
    searches = draw(
        st.lists(
            st.tuples(
                st.lists(coordinates, min_size=dims, max_size=dims),
                st.integers(0, 15),
                st.sampled_from([*NAMESPACES, ("c",)]),
                st.none() | st.lists(st.integers(-1, 14), max_size=8),
                st.sampled_from(vec.METRICS),
            ),
            min_size=1,
            max_size=5,
        )
    )
    return dims, ops, searches


def _apply(index: MemoryIndex, op: tuple, dims: int) -> None:
    if op[0] == "upsert":
        index.upsert(op[1], op[2], np.array(op[3], dtype=np.float32).reshape(-1, dims))
    elif op[0] == "delete":
        index.delete(op[1])
    else:
        rows = op[1]
        matrix = np.arange(len(rows) * dims, dtype=np.float32).reshape(len(rows), dims) % 3 - 1
        ids = [row for row, _ in rows]
        # A row named twice must keep one namespace (else the whole call is refused: also compared).
        spaces = [dict(rows)[row] for row in ids]
        index.upsert_many(ids, spaces, matrix)


@pytest.mark.skipif(native is None, reason="the Rust extension is not built")
@settings(max_examples=250, deadline=None)
@given(scenario=scenarios())
def test_backends_return_the_brute_force_on_random_operations(scenario: tuple[int, list, list]) -> None:
    dims, ops, searches = scenario
    rust, python = MemoryIndex(dims, backend="rust"), MemoryIndex(dims, backend="python")
    mirror: dict[int, tuple[tuple, np.ndarray]] = {}
    for op in ops:
        _apply(rust, op, dims)
        _apply(python, op, dims)
        _apply_to_mirror(mirror, op, dims)
    assert (len(rust), rust.vector_count()) == (len(python), python.vector_count()) == (len(mirror), _count(mirror))
    for query, k, prefix, candidates, metric in searches:
        q = np.array(query, dtype=np.float32)
        found = rust.search(q, k, prefix, candidates, metric)
        assert found == python.search(q, k, prefix, candidates, metric)
        assert found == rust.brute_force(q, k, prefix, candidates, metric)
        eligible = [
            row
            for row, (space, _) in mirror.items()
            if space[: len(prefix)] == prefix and (candidates is None or row in candidates)
        ]
        assert len(found) == min(k, len(eligible))


def _apply_to_mirror(mirror: dict[int, tuple[tuple, np.ndarray]], op: tuple, dims: int) -> None:
    """What the index should hold, kept naively."""
    if op[0] == "upsert":
        mirror.pop(op[1], None)
        if op[3]:
            mirror[op[1]] = (op[2], np.array(op[3], dtype=np.float32).reshape(-1, dims))
    elif op[0] == "delete":
        mirror.pop(op[1], None)
    else:
        rows = op[1]
        matrix = np.arange(len(rows) * dims, dtype=np.float32).reshape(len(rows), dims) % 3 - 1
        for row, space in dict(rows).items():
            mirror[row] = (space, matrix[[i for i, (r, _) in enumerate(rows) if r == row]])


def _count(mirror: dict[int, tuple[tuple, np.ndarray]]) -> int:
    return sum(len(vectors) for _, vectors in mirror.values())


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_sqlite_vec_vec0_traps_do_not_apply(backend: str) -> None:
    """Issue 6 measured vec0 (sqlite-vec 0.1.9) filtering after the top-k, returning k rows per
    partition for `IN (...)`, and capping k at 4096. Here filters narrow the scan before the top-k."""
    rows = 6000
    vectors = RNG.normal(size=(rows, 8)).astype(np.float32)
    spaces = [("org", f"team{i % 60}", f"user{i % 7}") for i in range(rows)]
    index = MemoryIndex(8, backend=backend)
    index.upsert_many(range(rows), spaces, vectors)
    query = RNG.normal(size=8).astype(np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    order = np.argsort(-(unit.astype(np.float64) @ query)).tolist()
    # A prefix spanning many namespaces yields k rows in all, the best of them, not k per namespace.
    found = index.search(query, 10, ("org", "team7"))
    assert [r for r, _ in found] == [i for i in order if spaces[i][1] == "team7"][:10]
    # A prefix that matches few rows (14 here) still yields every one of them.
    few = [i for i in order if spaces[i][1:] == ("team7", "user3")]
    assert [r for r, _ in index.search(query, 50, ("org", "team7", "user3"))] == few
    # No cap on k.
    many = index.search(query, 5000)
    assert len(many) == 5000 and [r for r, _ in many[:100]] == order[:100]
    scores = [score for _, score in many]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.skipif(native is None, reason="the Rust extension is not built")
@pytest.mark.parametrize("metric", vec.METRICS)
def test_large_searches_are_the_brute_force_on_both_backends(metric: str) -> None:
    """20k vectors built to tie: duplicates, scaled copies, zero and tiny vectors, rows with two
    vectors, clustered near-duplicates as text embeddings are. The first pass rules out most."""
    rng = np.random.default_rng(5)
    dims = 96
    centers = rng.normal(size=(20, dims)).astype(np.float32)
    vectors = (centers[rng.integers(0, 20, 20_000)] + 0.05 * rng.normal(size=(20_000, dims))).astype(np.float32)
    vectors[::97] = vectors[0]  # exact duplicates: ties broken by row id
    vectors[1::89] = 2 * vectors[1]  # same cosine, other inner product
    vectors[2::501] = 0.0
    vectors[3::777] *= np.float32(1e-30)
    row_ids = np.arange(20_000) // 2 * 2 + (np.arange(20_000) % 7 == 0)  # some rows own two vectors
    spaces = [("t", str(r % 5)) for r in row_ids.tolist()]
    indexes = {b: MemoryIndex(dims, backend=b) for b in ("rust", "python")}
    for index in indexes.values():
        index.upsert_many(row_ids, spaces, vectors)
    candidates = np.flatnonzero(rng.random(20_000) < 0.5)
    queries = [vectors[0], vectors[1], centers[3], rng.normal(size=dims).astype(np.float32), np.zeros(dims)]
    for query in queries:
        for k in (1, 10, 100):
            for prefix, ids in (((), None), (("t", "2"), None), ((), candidates), (("t",), candidates)):
                expected = indexes["python"].brute_force(query, k, prefix, ids, metric)  # type: ignore[arg-type]
                for index in indexes.values():
                    assert index.search(query, k, prefix, ids, metric) == expected  # type: ignore[arg-type]
        _, stats = indexes["rust"].index.candidates(query, 10, metric=metric)  # type: ignore[arg-type]
        if np.any(query):
            assert stats["selected"] == 20_000 and stats["survivors"] < 2_000, stats


def test_bounded_candidates_come_best_bound_first_and_bound_every_score() -> None:
    """What `rank_filtered` relies on: the rows of `candidates`, each with a bound at or above its
    exact score (its best vector's), in falling order of bound; +inf bounds where a core has none."""
    rng = np.random.default_rng(3)
    data = rng.standard_normal((3000, 24)).astype(np.float32)
    for backend in available():
        index = vec.VectorIndex(24, backend=backend)
        index.upsert_many(np.arange(3000) // 2, [("a", str(i // 2 % 3)) for i in range(3000)], data)
        query = rng.standard_normal(24).astype(np.float32)
        rows, highs, stats = index.bounded_candidates(query, 40, ("a",))
        plain, _ = index.candidates(query, 40, ("a",))
        assert sorted(rows.tolist()) == plain.tolist() and len(highs) == len(rows)
        exact = dict(index.exact(query, 1500, np.arange(3000) // 2, data))
        if backend == "rust":
            assert list(highs) == sorted(highs, reverse=True) and stats["threshold"] > -np.inf
            assert all(exact[int(row)] <= high for row, high in zip(rows, highs, strict=True))
        else:
            assert np.isinf(highs).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_pages_after_a_load_change_no_answer(backend: str) -> None:
    """A load's arena is written on 4 KB pages and moved to huge pages afterwards (`huge_pages`):
    every search before and after, and a put after, answer as the brute force does."""
    dims, n = 384, 12_000  # 4.6 MB of codes: whole 2 MB pages to move
    rng = np.random.default_rng(11)
    matrix = rng.standard_normal((n, dims)).astype(np.float32)
    index = vec.VectorIndex(dims, "cosine", backend=backend)
    index.reserve(n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    spaces = (ids % 3).astype(np.uint32)
    index.load(ids, spaces, [("a",), ("b",), ("c",)], index.encode(matrix))
    queries = rng.standard_normal((6, dims)).astype(np.float32)

    def answers() -> list[list[tuple[int, float]]]:
        return [index.search(q, 10, ("b",), vectors=lambda rows: (rows, matrix[rows - 1])) for q in queries]

    def brute(q: np.ndarray) -> list[tuple[int, float]]:
        chosen = ids[spaces == 1]
        return [(int(i), s) for i, s in vec.exact_top_k(q, 10, chosen, matrix[chosen - 1], "cosine")]

    before = answers()
    assert before == [brute(q) for q in queries]
    done = index.huge_pages(collapse=True)  # True where the kernel moves them at once (Linux 6.1+, THP on)
    assert done is False if backend == "python" else isinstance(done, bool)
    assert answers() == before
    matrix[1] = queries[0]  # a put after: row 2 (namespace "c") becomes the best match, in "b" now
    index.upsert(2, ("b",), matrix[1])
    spaces[1] = 1
    assert answers() == [brute(q) for q in queries]
    assert answers()[0][0][0] == 2
