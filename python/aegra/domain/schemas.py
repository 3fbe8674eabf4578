"""Types shared by the request schemas of several resources."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

from aegra.errors import BadRequest, Invalid

JSONObject = dict[str, Any]
# Search windows: the bounds langgraph-api's OpenAPI declares (MAX_SEARCH_LIMIT may lower the top).
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Offset = Annotated[int, msgspec.Meta(ge=0)]
SortOrder = Literal["asc", "desc"]


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of request bodies: a field we don't know is refused (422), never silently dropped."""


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
