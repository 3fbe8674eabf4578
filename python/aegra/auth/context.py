"""A request's authorization: its user, and the `@auth.on` handlers that decide what it may do.

Controllers hand the `RequestAuth` to services, which call `authorize(resource, action, value)`
before acting and AND the returned filter into their SQL, so a row another user may not see is
never read, counted, changed or deleted: it is answered as not found. Handlers may change
`value` (e.g. stamp `metadata.owner`); services use the changed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aegra.auth.errors import AuthError, Forbidden, InvalidFilter
from aegra.auth.filters import Filter, validate_filter
from aegra.auth.users import ANONYMOUS, AuthUser

if TYPE_CHECKING:
    from langgraph_sdk import Auth
else:
    # langgraph_sdk costs a third of a second to import: only servers with auth need it (it is
    # imported where used). msgspec still resolves `RequestAuth`'s annotations at run time, when
    # Litestar hands the `auth` dependency to a handler: there the name stands for anything.
    Auth = Any


@dataclass(frozen=True, slots=True)
class RequestAuth:
    user: AuthUser
    auth: Auth | None  # None: open access, everything allowed

    async def authorize(self, resource: str, action: str, value: dict[str, Any]) -> Filter | None:
        """None when allowed without restriction, a filter when allowed on matching rows; raises when refused."""
        handler = _handler(self.auth, resource, action) if self.auth else None
        if handler is None:
            return None
        from langgraph_sdk import Auth

        ctx = Auth.types.AuthContext(
            user=self.user,
            permissions=list(self.user.permissions),
            resource=resource,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
        )
        try:
            result = await handler(ctx=ctx, value=value)
        except Auth.exceptions.HTTPException as exc:
            raise AuthError(str(exc.detail), exc.status_code, exc.headers) from None
        except AssertionError as exc:
            raise Forbidden(str(exc) or "Forbidden") from None
        if result is None or result is True:
            return None
        if result is False:
            raise Forbidden("Forbidden")
        if not isinstance(result, dict):
            raise InvalidFilter(
                f"Auth handler returned {type(result).__name__}; expected a filter dict, None or a boolean"
            )
        return validate_filter(result) or None

    def configurable(self) -> dict[str, Any]:
        """What a run's graph sees of the user, in `config["configurable"]` (as in langgraph-api:
        without authentication, no user and an empty id)."""
        if self.user is ANONYMOUS:
            return {"langgraph_auth_user": None, "langgraph_auth_user_id": "", "langgraph_auth_permissions": []}
        return {
            "langgraph_auth_user": self.user.to_dict(),
            "langgraph_auth_user_id": self.user.identity,
            "langgraph_auth_permissions": list(self.user.permissions),
        }


# Internal work (startup, executor, deleting an assistant's threads) acts for no user and sees everything.
SYSTEM = RequestAuth(ANONYMOUS, None)


def _handler(auth: Auth, resource: str, action: str) -> Any:
    """The single most specific handler; the last registered wins (langgraph-api's dispatch)."""
    for key in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
        if handlers := auth._handlers.get(key):
            return handlers[-1]
    return auth._global_handlers[-1] if auth._global_handlers else None
