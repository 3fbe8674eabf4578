"""What the request and response schemas of several resources share."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from aegra.errors import BadRequest, Invalid

JSONObject = dict[str, Any]
# The integers the databases bind (SQLite INTEGER, PostgreSQL bigint): a JSON number beyond them
# cannot be stored, compared or filtered on; langgraph-api's JSON parser (orjson) refuses them too.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# How deep a request's JSON may nest. Deeper values overflow Python's recursion in the code that
# stores and searches them (~470 levels took the server down), and no real metadata or graph input
# comes near it.
MAX_JSON_DEPTH = 64
# Search windows: the bounds langgraph-api's OpenAPI declares (MAX_SEARCH_LIMIT may lower the top).
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
SortOrder = Literal["asc", "desc"]
# Durations a request may give: ten years of seconds, a hundred years of minutes (beyond them
# datetime arithmetic overflows, and nobody means them).
Seconds = Annotated[float, msgspec.Meta(ge=0, le=10 * 365 * 24 * 3600)]
PositiveMinutes = Annotated[float, msgspec.Meta(gt=0, le=100 * 365 * 24 * 60)]


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of request bodies: a field we don't know is refused (422), never silently dropped; and
    what no database can keep is refused up front (`check_json`), before anything is stored."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if type(value) in _CHECKED:
                check_json(value, name)


_CHECKED = frozenset({dict, list, str, int})


def check_json(value: Any, where: str) -> None:
    """ValueError (a 422 when msgspec decodes a `Request`) for JSON no database can keep: nested
    deeper than MAX_JSON_DEPTH, integers beyond 64 bits, or a NUL character (PostgreSQL's JSON and
    text types refuse it). Iterative, and by exact type: it runs on every request body."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                raise ValueError(f"`{where}` contains a NUL character (\\u0000)")
        elif kind is dict or kind is list:
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"`{where}` is nested deeper than {MAX_JSON_DEPTH} levels")
            if kind is dict:
                for key, child in item.items():
                    if "\x00" in key:
                        raise ValueError(f"`{where}` has a key with a NUL character (\\u0000)")
                    if type(child) in _CHECKED:
                        push((child, depth + 1))
            else:
                for child in item:
                    if type(child) in _CHECKED:
                        push((child, depth + 1))
        elif kind is int and not INT64_MIN <= item <= INT64_MAX:
            raise ValueError(f"`{where}` holds an integer beyond 64 bits")


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise Invalid(f"Invalid {what}: must be a UUID") from None


def check_limit(limit: int, max_limit: int) -> None:
    if limit > max_limit:
        raise Invalid(f"limit must be at most {max_limit}")


def check_config_and_context(config: JSONObject | None, context: JSONObject | None) -> None:
    """LangGraph treats `context` as the successor of `config.configurable`: never both."""
    if config and config.get("configurable") and context:
        raise BadRequest(
            "Cannot specify both configurable and context. Prefer setting context alone. "
            "Context was introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable."
        )


def sync_config_and_context(config: JSONObject | None, context: JSONObject | None) -> tuple[JSONObject, JSONObject]:
    """Make `config.configurable` and `context` carry the same values, whichever was given."""
    check_config_and_context(config, context)
    config = dict(config or {})
    if config.get("configurable"):
        return config, dict(config["configurable"])
    if context:
        config["configurable"] = dict(context)
    return config, dict(context or {})


S = TypeVar("S", bound=msgspec.Struct)
_READERS: dict[tuple[type, tuple[str, ...]], Callable[[Any], Any]] = {}


def from_row(schema: type[S], row: Any) -> S:
    """The response body `schema` from a row read by column name (db/tables/): each field takes
    the column of its name; fields without a column keep their defaults.

    The reader is worked out once per schema and row shape. When the columns cover the schema's
    leading fields, as they do for every resource here, it is one `attrgetter` and a positional
    call: 0.9 us a row, against 3.2 us with keyword arguments built per row (a search of 1,000
    rows paid the difference 1,000 times).
    """
    key = (schema, row._fields)
    reader = _READERS.get(key)
    if reader is None:
        reader = _READERS[key] = _row_reader(schema, row._fields)
    return reader(row)


def _row_reader(schema: type[S], columns: tuple[str, ...]) -> Callable[[Any], S]:
    names = [name for name in schema.__struct_fields__ if name in columns]
    get = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda row: schema(**{names[0]: get(row)})
    if list(schema.__struct_fields__[: len(names)]) == names:
        return lambda row: schema(*get(row))
    return lambda row: schema(**dict(zip(names, get(row), strict=True)))


def selected(body: msgspec.Struct, select: Sequence[str] | None) -> JSONObject:
    """A response body as a dict, narrowed to the `select`ed fields (all of them when none)."""
    fields = {name: getattr(body, name) for name in body.__struct_fields__}
    return fields if not select else {name: fields[name] for name in select}
