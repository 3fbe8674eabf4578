"""The authenticated user: what `@auth.authenticate` returned, made into one shape.

Handlers may return a string (the identity), a dict with `identity`, or any object with an
`identity` attribute (optionally `permissions`, `display_name`, `is_authenticated`). `AuthUser`
offers both attribute and mapping access, as langgraph-api's user does, so handlers written for
the official server (`ctx.user.identity`, `ctx.user["identity"]`) work unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any


class AuthUser(Mapping[str, Any]):
    def __init__(self, fields: Mapping[str, Any], original: Any = None) -> None:
        identity = fields.get("identity")
        if not isinstance(identity, str) or not identity:
            raise ValueError("the user's identity must be a non-empty string")
        self._fields = {
            **fields,
            "identity": identity,
            "display_name": fields.get("display_name") or identity,
            "is_authenticated": bool(fields.get("is_authenticated", True)),
            "permissions": list(fields.get("permissions") or []),
        }
        self._original = original

    @property
    def identity(self) -> str:
        return self._fields["identity"]

    @property
    def display_name(self) -> str:
        return self._fields["display_name"]

    @property
    def is_authenticated(self) -> bool:
        return self._fields["is_authenticated"]

    @property
    def permissions(self) -> Sequence[str]:
        return self._fields["permissions"]

    def __getattr__(self, name: str) -> Any:
        # Other attributes of the handler's own user object (e.g. `org_id`) stay reachable.
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._fields:
            return self._fields[name]
        if self._original is not None:
            return getattr(self._original, name)
        raise AttributeError(name)

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: what graphs receive as `config["configurable"]["langgraph_auth_user"]`."""
        return {key: value for key, value in self._fields.items() if _is_json(value)}

    def __repr__(self) -> str:
        return f"AuthUser(identity={self.identity!r})"


ANONYMOUS = AuthUser({"identity": "anonymous", "is_authenticated": False})


def normalize_user(result: Any) -> AuthUser:
    """`@auth.authenticate`'s result as an `AuthUser`; ValueError when it has no identity."""
    if isinstance(result, AuthUser):
        return result
    if isinstance(result, str):
        return AuthUser({"identity": result})
    if isinstance(result, Mapping):
        return AuthUser(dict(result))
    if hasattr(result, "identity"):
        fields = _object_fields(result)
        return AuthUser(fields, original=result)
    raise ValueError(
        f"@auth.authenticate must return a user id (str), a dict with 'identity', or an object with an "
        f"'identity' attribute; got {type(result).__name__}"
    )


def _object_fields(user: Any) -> dict[str, Any]:
    dumped: Any = {}
    if callable(getattr(user, "model_dump", None)):  # pydantic
        dumped = user.model_dump(mode="json")
    elif callable(getattr(user, "dict", None)):
        dumped = user.dict()
    fields = dict(dumped) if isinstance(dumped, Mapping) else {}
    for name in ("identity", "display_name", "is_authenticated", "permissions"):
        if hasattr(user, name):
            fields[name] = getattr(user, name)
    return fields


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False
