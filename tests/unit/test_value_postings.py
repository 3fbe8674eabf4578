"""The value index (`aegra.store.value_postings`) names exactly the items InMemoryStore's filter
rules pass (`filters.matches`), for the filters it answers, and refuses the others."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from aegra.store import filters
from aegra.store.value_postings import MAX_VALUES, ValuePostings, equalities

VALUES: list[dict[str, Any]] = [
    {"kind": "a", "n": 1},
    {"kind": "b", "n": 1.0},
    {"kind": "a", "n": True},
    {"kind": None, "n": 2},
    {"n": 0},
    {"kind": ["a"], "n": False},
    {"kind": {"x": "a"}, "n": 2.5},
    {"kind": "1", "n": "1"},
]


def groups(field: str, values: dict[int, dict[str, Any]]) -> list[tuple[str | None, np.ndarray]]:
    """What `sqlite_tables.field_value_groups` reads: the field's JSON text (None: missing), ids."""
    by_text: dict[str | None, list[int]] = {}
    for item_id, value in values.items():
        text = msgspec.json.encode(value[field]).decode() if field in value else None
        by_text.setdefault(text, []).append(item_id)
    return [(text, np.array(ids, dtype=np.int64)) for text, ids in by_text.items()]


def expected(values: dict[int, dict[str, Any]], filter_: dict[str, Any]) -> list[int]:
    return sorted(i for i, value in values.items() if filters.matches(value, filter_))


def built(values: dict[int, dict[str, Any]], *fields: str) -> ValuePostings:
    postings = ValuePostings()
    assert postings.to_build([(f, 0) for f in fields]) == list(fields)
    for field in fields:
        assert postings.build(field, groups(field, values))
    return postings


FILTERS: list[dict[str, Any]] = [
    {"kind": "a"},
    {"kind": {"$eq": "b"}},
    {"n": 1},  # 1 == 1.0 == True, as Python compares
    {"n": 1.0},
    {"n": True},
    {"n": False},  # == 0
    {"n": "1"},
    {"kind": "1"},
    {"kind": "a", "n": True},
    {"kind": "zzz"},
]


@pytest.mark.parametrize("filter_", FILTERS)
def test_answers_exactly_what_the_filter_passes(filter_: dict[str, Any]) -> None:
    values = {i * 3 + 1: value for i, value in enumerate(VALUES)}
    postings = built(values, "kind", "n")
    wanted = equalities(filter_)
    assert wanted is not None
    assert postings.ids(wanted).tolist() == expected(values, filter_)


@pytest.mark.parametrize(
    "filter_",
    [{"kind": None}, {"kind": ["a"]}, {"kind": {"x": "a"}}, {"n": {"$ne": 1}}, {"n": {"$gt": 1}}, {'k"': "a"}, {}],
)
def test_refuses_what_it_cannot_answer(filter_: dict[str, Any]) -> None:
    assert equalities(filter_) is None


def test_a_field_not_built_is_not_answered() -> None:
    postings = built({1: {"kind": "a"}}, "kind")
    assert postings.ids([("other", "a")]) is None


def test_writes_and_deletes_are_followed_also_during_a_build() -> None:
    values = {i: dict(v) for i, v in enumerate(VALUES, start=1)}
    postings = ValuePostings()
    assert postings.to_build([("kind", "a")]) == ["kind"]
    snapshot = groups("kind", values)  # read before the writes below, replayed after
    writes = {2: {"kind": "a"}, 40: {"kind": "a"}, 1: {"kind": "c"}}
    postings.apply([(i, msgspec.json.encode(v).decode()) for i, v in writes.items()], [3])
    values.update(writes)
    del values[3]
    assert postings.build("kind", snapshot)
    assert postings.ids([("kind", "a")]).tolist() == expected(values, {"kind": "a"}) == [2, 40]
    postings.apply([(7, '{"kind": "a"}')], [40])
    assert postings.ids([("kind", "a")]).tolist() == [2, 7]


def test_a_field_past_the_cap_is_dropped_and_refused() -> None:
    values = {i: {"tag": f"t{i}"} for i in range(1, MAX_VALUES + 1)}
    postings = built(values, "tag")
    assert postings.ids([("tag", "t5")]).tolist() == [5]
    postings.apply([(1000, '{"tag": "new"}')], [])  # value number MAX_VALUES + 1
    assert postings.ids([("tag", "t5")]) is None
    assert postings.to_build([("tag", "t5")]) == []  # refused for good
    assert "tag" not in postings.indexed()


def test_a_field_with_too_many_values_is_not_built() -> None:
    values = {i: {"tag": f"t{i}"} for i in range(1, MAX_VALUES + 2)}
    postings = ValuePostings()
    postings.to_build([("tag", "x")])
    assert not postings.build("tag", groups("tag", values))
    assert postings.ids([("tag", "t1")]) is None
