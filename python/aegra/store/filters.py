"""Search filters with the semantics of LangGraph's `InMemoryStore`, the reference store.

A filter maps top-level value keys to a condition:
- a scalar: equality (`{"kind": "note"}`);
- a list: same length, element-wise match;
- a dict without `$` keys: the value must be a dict whose named keys match (nested keys);
- a dict of operators: `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte` (the ordering ones compare as numbers).

One deliberate difference: where `InMemoryStore` raises on an ordering operator whose value is
missing or not a number (`float(None)`), the item simply does not match.

The store evaluates filters inside SQLite through a deterministic user function, so namespace
scoping, filtering, scoring and paging stay one query; `FILTER_FUNCTION` names it.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

FILTER_FUNCTION = "aegra_store_filter"

_ORDERING: dict[str, Callable[[float, float], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
OPERATORS = frozenset({"$eq", "$ne", *_ORDERING})
_SQL_ORDERING = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_PLAIN_KEY = re.compile(r'[^"\\\x00-\x1f]+')  # safe inside a quoted JSON path label


def validate(filter_: Mapping[str, Any] | None) -> None:
    """Raise ValueError for an unknown `$` operator anywhere in the filter, before any SQL runs."""
    for condition in (filter_ or {}).values():
        _validate_condition(condition)


def _validate_condition(condition: Any) -> None:
    if isinstance(condition, dict):
        for key, sub in condition.items():
            if key.startswith("$"):
                if key not in OPERATORS:
                    raise ValueError(f"Unsupported operator: {key}")
            else:
                _validate_condition(sub)
    elif isinstance(condition, (list, tuple)):
        for sub in condition:
            _validate_condition(sub)


def matches(value: Mapping[str, Any], filter_: Mapping[str, Any] | None) -> bool:
    """Whether a stored value satisfies the filter."""
    return all(_compare(value.get(key), condition) for key, condition in (filter_ or {}).items())


def _compare(item_value: Any, condition: Any) -> bool:
    if isinstance(condition, dict):
        if any(key.startswith("$") for key in condition):
            return all(_apply(item_value, op, operand) for op, operand in condition.items())
        if not isinstance(item_value, dict):
            return False
        return all(_compare(item_value.get(key), sub) for key, sub in condition.items())
    if isinstance(condition, (list, tuple)):
        return (
            isinstance(item_value, (list, tuple))
            and len(item_value) == len(condition)
            and all(_compare(iv, cv) for iv, cv in zip(item_value, condition, strict=True))
        )
    return bool(item_value == condition)


def _apply(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand)
    if op == "$ne":
        return bool(value != operand)
    compare = _ORDERING.get(op)
    if compare is None:
        raise ValueError(f"Unsupported operator: {op}")
    try:
        return compare(float(value), float(operand))
    except (TypeError, ValueError):
        return False


def json_path(key: str) -> str | None:
    """SQLite's JSON path of a top-level key, or None for a key a quoted label cannot hold."""
    return f'$."{key}"' if _PLAIN_KEY.fullmatch(key) else None


def sql_prefilter(filter_: Mapping[str, Any] | None, column: str) -> tuple[str, list[Any]]:
    """Cheap SQL conditions implied by the filter, checked before the exact (Python) function.

    Each is a necessary condition, so the prefilter never drops a matching item:
    - string equality: a JSON value equals a Python string exactly when `json_extract` yields that text;
    - ordering against a number: numbers and booleans compare in SQL as `float()` does in Python;
      strings pass through (a numeric string may still match), everything else cannot match.
    """
    sql, params = "", list[Any]()
    for key, condition in (filter_ or {}).items():
        path = json_path(key)
        if path is None:
            continue
        if isinstance(condition, dict) and set(condition) == {"$eq"}:
            condition = condition["$eq"]
        if isinstance(condition, str):
            sql += f" AND json_extract({column}, ?) = ?"
            params += [path, condition]
        elif isinstance(condition, dict):
            for op, operand in condition.items():
                symbol = _SQL_ORDERING.get(op)
                if symbol and isinstance(operand, (int, float)) and math.isfinite(operand):
                    number = f"CAST(json_extract({column}, ?) AS REAL)"  # the double float() would give
                    sql += f" AND (json_type({column}, ?) = 'text' OR {number} {symbol} ?)"
                    params += [path, path, float(operand)]
    return sql, params


# Printable ASCII but `"`, `/` and `\\`: text every JSON writer puts between quotes as it is.
_VERBATIM = re.compile(r"[ !#-.0-\[\]-~]*")


def sql_text_prefilter(filter_: Mapping[str, Any] | None, column: str) -> tuple[str, list[Any]]:
    """A cheaper necessary condition than `sql_prefilter`'s for a string equality, tested before it:
    the value's JSON text contains the string in quotes (`instr`, a byte search, where
    `json_extract` parses the whole value). Only for strings that no JSON writer escapes (the store
    writes values with msgspec), so the quoted string is in the text whenever a key equals it.
    Measured on a listing walking 610 rows to fill its page: 0.19-0.25 ms against 0.35-0.43 ms
    with `json_extract` alone."""
    sql, params = "", list[Any]()
    for condition in (filter_ or {}).values():
        if isinstance(condition, dict) and set(condition) == {"$eq"}:
            condition = condition["$eq"]
        if isinstance(condition, str) and _VERBATIM.fullmatch(condition):
            sql += f" AND instr({column}, ?)"
            params.append(f'"{condition}"')
    return sql, params


def encode(filter_: Mapping[str, Any] | None) -> str | None:
    """The filter as the JSON text passed to the SQL function; None when there is nothing to filter."""
    if not filter_:
        return None
    return json.dumps(filter_, sort_keys=True, default=str)


@functools.lru_cache(maxsize=256)
def _decoded(filter_json: str) -> dict[str, Any]:
    return json.loads(filter_json)


def sql_filter(value_json: str, filter_json: str | None) -> int:
    """The SQL user function: 1 when the row's JSON value matches the JSON filter."""
    if filter_json is None:
        return 1
    return 1 if matches(msgspec.json.decode(value_json), _decoded(filter_json)) else 0
