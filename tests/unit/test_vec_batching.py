"""Embedder batching: texts of a batch of puts, de-duplicated, cut into length-bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aegra import vec
from aegra.vec._backend import available

BACKENDS = available()
texts_lists = st.lists(st.sampled_from(["", "a", "hello", "héllo ✓", "x" * 40]) | st.text(max_size=60), max_size=40)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="the Rust extension is not built")
@settings(max_examples=300, deadline=None)
@given(texts=texts_lists, budget=st.integers(1, 300), max_batch=st.integers(1, 12))
def test_backends_agree_on_random_texts(texts: list[str], budget: int, max_batch: int) -> None:
    results = []
    for backend in BACKENDS:
        with vec.using(backend):
            results.append((vec.dedupe_texts(texts), vec.length_batches(texts, budget, max_batch)))
    assert results[0] == results[1]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(texts=texts_lists, budget=st.integers(1, 300), max_batch=st.integers(1, 12))
def test_batches_cover_every_text_once_within_budget(
    backend: str, texts: list[str], budget: int, max_batch: int
) -> None:
    with vec.using(backend):  # type: ignore[arg-type]
        batches = vec.length_batches(texts, budget, max_batch)
        first, inverse = vec.dedupe_texts(texts)
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    flat = [i for batch in batches for i in batch]
    assert [len(texts[i]) for i in flat] == sorted(len(t) for t in texts)  # length-sorted across batches
    for batch in batches:
        assert len(batch) <= max_batch
        padded = len(batch) * max(max(len(texts[i]), 1) for i in batch)
        assert len(batch) == 1 or padded <= budget
    assert [texts[first[u]] for u in inverse] == texts
    assert len(first) == len(set(texts))


@pytest.mark.parametrize("backend", BACKENDS)
def test_bucketing_keeps_short_texts_apart_from_long_ones(backend: str) -> None:
    texts = ["short"] * 3 + ["l" * 1000] + ["tiny"]
    with vec.using(backend):  # type: ignore[arg-type]
        assert vec.length_batches(texts, budget=2000, max_batch=8) == [[4, 0, 1, 2], [3]]
        assert vec.length_batches([]) == []
        # Surrogates are legal in Python strings; they count and compare as code points.
        assert vec.dedupe_texts(["\ud800", "\ud800", "\udc00"]) == ([0, 2], [0, 0, 1])
        assert vec.length_batches(["\ud800x", "y"], budget=2, max_batch=5) == [[1], [0]]
        with pytest.raises(ValueError, match="must be positive"):
            vec.length_batches(["a"], budget=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_plan_embeds_each_distinct_text_once_for_every_owner(backend: str) -> None:
    items = [
        ({"content": "dark mode", "tags": ["ui", "theme"]}, None),
        ({"content": "dark mode", "tags": ["ui"]}, ["content", "tags[*]"]),
        ({"content": "skip me"}, []),
        ({"nested": {"a": "ui"}}, ["nested.a", "missing"]),
    ]
    with vec.using(backend):  # type: ignore[arg-type]
        plan = vec.plan_texts(items, default_fields=["content", "tags[*]"])
    assert plan.texts == ["dark mode", "ui", "theme"]
    assert plan.owners == [
        [(0, "content"), (1, "content")],
        [(0, "tags[*].0"), (1, "tags[*]"), (3, "nested.a")],
        [(0, "tags[*].1")],
    ]
    assert plan.fields_by_position()[0] == {"content": 0, "tags[*].0": 1, "tags[*].1": 2}
    assert 2 not in plan.fields_by_position()
    whole = vec.plan_texts([({"b": 1, "a": "é"}, None)], default_fields=None)
    assert whole.texts == ['{"a": "é", "b": 1}']


class _Text(str):
    """A str subclass: LangGraph's walk turns it into a plain `str`."""


@pytest.mark.parametrize("backend", BACKENDS)
def test_plan_of_top_level_fields_matches_langgraph(backend: str) -> None:
    """Top-level string fields take a shortcut around the path walk: every kind of value at a
    top-level key still gives LangGraph's texts."""
    from langgraph.store.base.embed import get_text_at_path

    values = ["plain", "", _Text("sub"), 7, 2.5, True, None, ["a", 1], {"b": "c"}]
    items = [({"f": value, "g": "other"}, None) for value in values] + [({"g": "no f"}, None)]
    with vec.using(backend):  # type: ignore[arg-type]
        plan = vec.plan_texts(items, default_fields=["f", "*", "[0]", "{f,g}"])
    expected = [
        (position, text)
        for position, (value, _) in enumerate(items)
        for path in ["f", "*", "[0]", "{f,g}"]
        for text in get_text_at_path(value, path)
    ]
    got = sorted((position, plan.texts[i]) for i, owners in enumerate(plan.owners) for position, _ in owners)
    assert got == sorted(expected)
    assert all(type(text) is str for text in plan.texts)


async def test_embedding_in_batches_returns_rows_in_text_order() -> None:
    seen: list[list[str]] = []

    def embed(batch: list[str]) -> list[list[float]]:
        seen.append(batch)
        return [[float(len(text)), 1.0] for text in batch]

    async def aembed(batch: list[str]) -> list[list[float]]:
        return embed(batch)

    texts = ["ccc", "a", "bb", "dddd"]
    vectors = vec.embed_in_batches(texts, embed, dims=2, budget=6, max_batch=10)
    assert vectors[:, 0].tolist() == [3, 1, 2, 4]
    assert seen == [["a", "bb"], ["ccc"], ["dddd"]]
    assert np.array_equal(await vec.aembed_in_batches(texts, aembed, dims=2, budget=6, max_batch=10), vectors)
    with pytest.raises(ValueError, match="returned 1 vectors for 2 texts"):
        vec.embed_in_batches(["a", "b"], lambda batch: [[1.0, 2.0]], dims=2)
    with pytest.raises(ValueError, match="expected vectors of 2 dimensions, got 3"):
        vec.embed_in_batches(["a"], lambda batch: [[1.0, 2.0, 3.0]], dims=2)
