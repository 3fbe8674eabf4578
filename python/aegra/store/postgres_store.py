"""LangGraph's `AsyncPostgresStore` with search filters that mean what they mean on SQLite.

LangGraph's PostgreSQL store reads every dict in a filter as operators, so a nested-key filter
(`{"prefs": {"theme": "dark"}}`) is an "Unsupported operator" error there, and it compares
`$gt`/`$gte`/`$lt`/`$lte` as text (`"10" < "9"`). Aegra's stores follow `InMemoryStore`
(see `filters.py`): nested keys match inside dict values, and ordering operators compare numbers.
Only the SQL of one filter condition changes; everything else is LangGraph's. One difference
remains: an empty nested condition (`{"prefs": {}}`) matches every item here.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.store.postgres.aio import AsyncPostgresStore

from aegra.store.filters import OPERATORS

_ORDERING = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
# The value at a path as Python's float() reads it: numbers, booleans (1/0) and numeric strings;
# NULL for anything else, so the cast never sees a non-number and never fails the query.
_AS_NUMBER = r"""(SELECT CASE jsonb_typeof(v)
    WHEN 'number' THEN (v #>> '{}')::float8
    WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN 1.0 ELSE 0.0 END
    WHEN 'string' THEN CASE WHEN (v #>> '{}') ~ '^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$'
        THEN (v #>> '{}')::float8 END
    END FROM (SELECT value #> %s AS v) AS at_path)"""


class AegraPostgresStore(AsyncPostgresStore):
    def _get_filter_condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        # LangGraph calls this for each entry of a dict-valued filter `{key: {op: value}}`.
        return _condition([key], op, value)


def _condition(path: list[str], op: str, operand: Any) -> tuple[str, list[Any]]:
    """SQL for one entry of a dict condition at `path`: an operator, or else a nested key."""
    if not op.startswith("$"):
        return _match([*path, op], operand)
    if op == "$eq":
        return "value #> %s = %s::jsonb", [path, json.dumps(operand)]
    if op == "$ne":
        return "(value #> %s) IS DISTINCT FROM %s::jsonb", [path, json.dumps(operand)]
    if op not in OPERATORS:
        raise ValueError(f"Unsupported operator: {op}")
    try:
        number = float(operand)
    except (TypeError, ValueError):
        return "FALSE", []  # as InMemoryStore's float() comparison: nothing can match
    return f"{_AS_NUMBER} {_ORDERING[op]} %s", [path, number]


def _match(path: list[str], condition: Any) -> tuple[str, list[Any]]:
    """SQL for `condition` on the value at `path` (a scalar or list: JSON equality)."""
    if not isinstance(condition, dict):
        return "value #> %s = %s::jsonb", [path, json.dumps(condition)]
    if any(key.startswith("$") for key in condition):
        parts = [_condition(path, op, operand) for op, operand in condition.items()]
    else:
        parts = [_match([*path, key], sub) for key, sub in condition.items()]
        # Like InMemoryStore, a nested condition needs an object there, even an empty condition.
        parts.append(("jsonb_typeof(value #> %s) = 'object'", [path]))
    return " AND ".join(f"({sql})" for sql, _ in parts), [param for _, params in parts for param in params]
