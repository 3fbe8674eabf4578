"""JSON containment filters (`metadata`, `values` searches) as SQL, on both backends.

The API's searches match with PostgreSQL's JSONB containment (`column @> filter`): every key
of the filter must be present with a contained value; a filter array is contained when each
of its elements is contained in some element of the stored array; scalars compare by JSON
type and value. PostgreSQL does this natively (and can use the GIN indexes). SQLite has no
such operator, so the filter is unrolled into one condition per leaf with `json_extract`,
`json_type` and, for arrays, `json_each`; `contains()` is the reference both must agree with.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, cast, exists, false, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB

JSONValue = Any


def contains(stored: JSONValue, wanted: JSONValue) -> bool:
    """PostgreSQL JSONB `stored @> wanted`, in Python (the specification of this module)."""
    if isinstance(wanted, dict):
        return isinstance(stored, dict) and all(
            key in stored and contains(stored[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(stored, list) and all(any(contains(item, w) for item in stored) for w in wanted)
    # JSONB lets a top-level array contain a bare scalar; filters here are always objects, so
    # that exception never applies and a scalar matches only an equal scalar.
    return not isinstance(stored, dict | list) and _same_scalar(stored, wanted)


def _same_scalar(a: JSONValue, b: JSONValue) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# How deep a filter may nest. SQLite's unrolled form costs time quadratic in the depth (a filter
# 300 levels deep took seconds to build): real filters are a level or two.
MAX_FILTER_DEPTH = 16


def json_contains(column: Any, wanted: dict[str, Any], dialect: str) -> ColumnElement[bool]:
    """SQL for `column @> wanted` on `dialect` (`postgresql` or `sqlite`)."""
    if not wanted:
        return true()
    if _depth(wanted) > MAX_FILTER_DEPTH:
        raise ValueError(f"filters may not nest deeper than {MAX_FILTER_DEPTH} levels")
    if dialect == "postgresql":
        return column.op("@>")(cast(literal(json.dumps(wanted)), JSONB))
    return _sqlite_contains(column, literal("$"), wanted)


def path_key(key: str) -> str:
    """One JSON-path step for SQLite; keys are quoted so dots and spaces in them are literal.

    SQLite matches a quoted label against the key as written in the stored JSON text, escapes and
    all (`a\\b` is stored as `"a\\\\b"`), so the label is the key escaped as our encoder (msgspec)
    writes it. It cannot hold a double quote at all (SQLite ends the label there).
    """
    if '"' in key:
        raise ValueError(f"filter keys may not contain a double quote: {key!r}")
    return f'."{msgspec.json.encode(key).decode()[1:-1]}"'


def _depth(value: JSONValue) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _sqlite_contains(column: Any, path: Any, wanted: JSONValue) -> ColumnElement[bool]:
    """`path` is a SQL string expression: a literal JSON path, or json_each's `fullkey` of an element."""
    if isinstance(wanted, dict):
        conditions = [func.json_type(column, path) == "object"]
        conditions += [_sqlite_contains(column, path + literal(path_key(k)), v) for k, v in wanted.items()]
        return and_(*conditions)
    if isinstance(wanted, list):
        conditions = [func.json_type(column, path) == "array"]
        conditions += [_sqlite_array_holds(column, path, item) for item in wanted]
        return and_(*conditions)
    return _sqlite_scalar_at(func.json_type(column, path), func.json_extract(column, path), wanted)


def _sqlite_array_holds(column: Any, path: Any, item: JSONValue) -> ColumnElement[bool]:
    """Some element of the array at `path` contains `item`."""
    each = func.json_each(column, path).table_valued("value", "type", "fullkey")
    if isinstance(item, dict | list):
        condition = _sqlite_contains(column, each.c.fullkey, item)
    else:
        condition = _sqlite_scalar_at(each.c.type, each.c.value, item)
    return exists(select(literal(1)).select_from(each).where(condition))


def _sqlite_scalar_at(json_type: Any, value: Any, wanted: JSONValue) -> ColumnElement[bool]:
    if wanted is None:
        return json_type == "null"
    if isinstance(wanted, bool):
        return json_type == ("true" if wanted else "false")
    if isinstance(wanted, int | float):
        return and_(json_type.in_(("integer", "real")), value == wanted)
    if isinstance(wanted, str):
        return and_(json_type == "text", value == wanted)
    return false()


def auth_filter(column: Any, filters: dict[str, Any] | None, dialect: str) -> ColumnElement[bool]:
    """SQL for an `@auth.on` handler's filter over a metadata column (aegra/auth/filters.py says what it means).

    Each condition is a containment test: `{"k": v}` and `{"k": {"$eq": v}}` hold when `k` is `v`
    (JSONB containment of a scalar under a key is equality); `{"k": {"$contains": v}}` when `k`
    is an array holding `v`, or each element of a list `v`.
    """
    conditions: list[ColumnElement[bool]] = []
    for key, condition in (filters or {}).items():
        if key == "$or":
            conditions.append(or_(*(auth_filter(column, group, dialect) for group in condition)))
        elif key == "$and":
            conditions.append(and_(*(auth_filter(column, group, dialect) for group in condition)))
        elif isinstance(condition, dict) and "$contains" in condition:
            wanted = condition["$contains"]
            conditions.append(json_contains(column, {key: wanted if isinstance(wanted, list) else [wanted]}, dialect))
        else:
            value = condition["$eq"] if isinstance(condition, dict) else condition
            conditions.append(json_contains(column, {key: value}, dialect))
    return and_(true(), *conditions)
