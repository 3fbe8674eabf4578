"""The filters `@auth.on` handlers return (`langgraph_sdk.Auth.types.FilterType`), checked once.

A filter maps metadata keys to a condition, all of which must hold:
- `"v"` or `{"$eq": "v"}`: the key is present and equal to `v`;
- `{"$contains": "v"}`: the key holds a list that has `v`; `{"$contains": ["v", "w"]}`: has each;
- `"$or"` / `"$and"`: a list of at least two filters (langgraph-api's extension), nested at most twice.
The database applies them (db/json_filters.py `auth_filter`), never Python after the fact.
"""

from __future__ import annotations

from typing import Any

from aegra.auth.errors import InvalidFilter

Filter = dict[str, Any]
OPERATORS = frozenset({"$eq", "$contains"})
MAX_NESTING = 2


def validate_filter(filters: Any, depth: int = 0) -> Filter:
    if not isinstance(filters, dict):
        raise InvalidFilter(f"Auth handler returned an invalid filter: expected a dict, got {type(filters).__name__}")
    if depth > MAX_NESTING:
        raise InvalidFilter("Auth handler returned a filter nested deeper than $or/$and allow (2 levels)")
    for key, condition in filters.items():
        if key in ("$or", "$and"):
            if not isinstance(condition, list) or len(condition) < 2:
                raise InvalidFilter(f"Auth handler returned an invalid {key}: expected a list of at least 2 filters")
            for group in condition:
                validate_filter(group, depth + 1)
        elif key.startswith("$"):
            raise InvalidFilter(f"Auth handler returned an unsupported filter operator: {key}")
        elif isinstance(condition, dict) and (len(condition) != 1 or next(iter(condition)) not in OPERATORS):
            raise InvalidFilter(
                f"Auth handler returned an invalid condition for '{key}': expected a value, "
                '{"$eq": value} or {"$contains": value}'
            )
    return filters
