"""The pure parts of the SQLite store: namespace text ranges and filter semantics."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langgraph.store.base import ListNamespacesOp, MatchCondition

from aegra.store import filters, namespaces

NAMESPACES = [("a",), ("a", "b"), ("a", "b", "c"), ("a-b",), ("a/b",), ("ab",), ("b",), ("a", "ü"), ("A",)]


@pytest.mark.parametrize("prefix", [(), ("a",), ("a", "b"), ("a-b",), ("a", "ü"), ("z",)])
def test_prefix_condition_selects_exactly_the_label_wise_descendants(prefix: tuple[str, ...]) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (prefix TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(namespaces.to_text(ns),) for ns in NAMESPACES])
    where, params = namespaces.prefix_condition(prefix, "prefix")
    got = {namespaces.from_text(row[0]) for row in conn.execute(f"SELECT prefix FROM t WHERE {where}", params)}
    assert got == {ns for ns in NAMESPACES if ns[: len(prefix)] == prefix}


def test_list_namespaces_wildcards_depth_and_paging() -> None:
    op = ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("a", "*")),), max_depth=2, limit=10, offset=0)
    assert namespaces.list_namespaces(op, NAMESPACES) == [("a", "b"), ("a", "ü")]
    assert namespaces.literal_prefix(op) == ("a",)
    suffix = ListNamespacesOp(match_conditions=(MatchCondition("suffix", ("b",)),), limit=1, offset=1)
    assert namespaces.list_namespaces(suffix, NAMESPACES) == [("b",)]


VALUE = {"n": 5, "s": "x", "f": 2.5, "flag": False, "none": None, "nested": {"k": [1, {"z": 2}]}}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"n": 5}, True),
        ({"n": 5.0}, True),
        ({"n": "5"}, False),
        ({"n": {"$gt": 4, "$lt": 6}}, True),
        ({"n": {"$gte": 5.1}}, False),
        ({"s": {"$gt": 1}}, False),  # not a number: no match (InMemoryStore would raise)
        ({"missing": {"$lt": 3}}, False),
        ({"missing": {"$ne": 3}}, True),
        ({"none": None}, True),
        ({"flag": False}, True),
        ({"nested": {"k": [1, {"z": 2}]}}, True),
        ({"nested": {"k": [1]}}, False),
        ({"nested": {"k": {"$eq": [1, {"z": 2}]}}}, True),
        ({"s": {"$eq": "x", "$ne": "y"}}, True),
    ],
)
def test_filter_semantics(filter_: dict[str, Any], expected: bool) -> None:
    assert filters.matches(VALUE, filter_) is expected
    encoded = filters.encode(filter_)
    import json

    assert filters.sql_filter(json.dumps(VALUE), encoded) == int(expected)


def test_unknown_operators_are_found_anywhere() -> None:
    with pytest.raises(ValueError, match=r"\$regex"):
        filters.validate({"a": {"b": {"$regex": "x"}}})
    filters.validate({"a": {"$gt": 1}, "b": [{"c": 1}]})


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["5", "-2.5", "1e3", "abc", "", "10"]),
)
json_values = st.one_of(json_scalars, st.lists(json_scalars, max_size=2))
operators = st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$eq", "$ne"])
operands = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["5", "abc", ""]),
)


@settings(max_examples=400, deadline=None)
@given(value=json_values, op=operators, operand=operands, plain=st.booleans())
def test_sql_prefilter_never_drops_a_match(value: Any, op: str, operand: Any, plain: bool) -> None:
    """The SQL prefilter only narrows the rows the exact filter sees; it must keep every match."""
    import msgspec

    filter_ = {"k": operand} if plain else {"k": {op: operand}}
    row = {"k": value}
    if not filters.matches(row, filter_):
        return
    sql, params = filters.sql_prefilter(filter_, "v")
    conn = sqlite3.connect(":memory:")
    kept = conn.execute(f"SELECT 1 FROM (SELECT ? AS v) WHERE 1{sql}", [msgspec.json.encode(row).decode(), *params])
    assert kept.fetchone() is not None, (filter_, row, sql)
