"""Running `@auth.authenticate` for a request, with the parameters the handler names.

A handler may take any of `request, path, method, path_params, query_params, headers,
authorization, scope` (langgraph-api's names and shapes: `headers` maps bytes to bytes,
`authorization` is the header's text or None). It returns the user; raising
`Auth.exceptions.HTTPException` answers that status; any other failure answers 401, logged.

Studio (`auth.disable_studio_auth`): LangSmith Studio marks its requests `x-auth-scheme:
langsmith`, and the official cloud server then verifies them with LangSmith. A self-hosted
Aegra cannot verify a LangSmith token, and trusting the header would let anyone in, so those
requests are never trusted as such: by default they go through your handler like any other
(give Studio the headers your handler expects). With `disable_studio_auth: true` they are
refused (403) before your handler runs, which keeps Studio off the server altogether.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aegra.auth.context import RequestAuth
from aegra.auth.errors import AuthError, Forbidden
from aegra.auth.users import ANONYMOUS, normalize_user

if TYPE_CHECKING:
    from langgraph_sdk import Auth

logger = logging.getLogger(__name__)

PARAMETERS = ("request", "path", "method", "path_params", "query_params", "headers", "authorization", "scope")
STUDIO_SCHEME = b"langsmith"

# Builds the framework's request object from an ASGI scope; only called when a handler asks for `request`.
RequestFactory = Callable[[Mapping[str, Any]], Any]


class Authenticator:
    def __init__(self, auth: Auth | None, *, disable_studio_auth: bool = False) -> None:
        self.auth = auth
        self.disable_studio_auth = disable_studio_auth
        self._handler = auth._authenticate_handler if auth else None
        self._wanted = _parameter_names(self._handler) if self._handler else set()

    @property
    def enabled(self) -> bool:
        return self.auth is not None

    async def authenticate(self, scope: Mapping[str, Any], make_request: RequestFactory) -> RequestAuth:
        """The request's `RequestAuth`; raises `AuthError` (401 or the handler's status) or `Forbidden`."""
        if self._handler is None:
            return RequestAuth(ANONYMOUS, None)
        headers = dict(scope.get("headers") or [])
        if self.disable_studio_auth and headers.get(b"x-auth-scheme") == STUDIO_SCHEME:
            raise Forbidden("LangSmith Studio authentication is disabled on this server (auth.disable_studio_auth)")
        arguments = {name: _argument(name, scope, headers, make_request) for name in self._wanted}
        from langgraph_sdk import Auth  # imported here: servers without auth never need it

        try:
            result: Any = self._handler(**arguments)
            if inspect.isawaitable(result):
                result = await result
            user = normalize_user(result)
        except Auth.exceptions.HTTPException as exc:
            raise AuthError(str(exc.detail), exc.status_code, exc.headers) from None
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            logger.warning("authentication failed: %s: %s", type(exc).__name__, exc)
            raise AuthError("Authentication failed") from None
        return RequestAuth(user, self.auth)


def _parameter_names(handler: Callable[..., Any]) -> set[str]:
    names = set()
    for name, parameter in inspect.signature(handler).parameters.items():
        if name in PARAMETERS:
            names.add(name)
        elif parameter.default is parameter.empty and parameter.kind not in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        ):
            raise ValueError(
                f"@auth.authenticate handler {handler.__name__} takes '{name}', which Aegra cannot supply; "
                f"it may take any of: {', '.join(PARAMETERS)}"
            )
    return names


def _argument(name: str, scope: Mapping[str, Any], headers: dict[bytes, bytes], make_request: RequestFactory) -> Any:
    if name == "request":
        return make_request(scope)
    if name == "path":
        return scope.get("path", "")
    if name == "method":
        return scope.get("method", "GET")  # a websocket handshake is a GET
    if name == "path_params":
        return dict(scope.get("path_params") or {})
    if name == "query_params":
        return dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1"), keep_blank_values=True))
    if name == "headers":
        return headers
    if name == "authorization":
        value = headers.get(b"authorization")
        return value.decode("latin-1") if value is not None else None
    return scope
