"""Errors of authentication and authorization, answered as `{"detail": ...}` with their status."""

from __future__ import annotations

from collections.abc import Mapping

from aegra.errors import AegraError


class AuthError(AegraError):
    """Raised by `@auth.authenticate` or an `@auth.on` handler; keeps the handler's status and headers."""

    def __init__(self, detail: str, status_code: int = 401, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.headers = dict(headers) if headers else None


class Forbidden(AegraError):
    status_code = 403


class InvalidFilter(AegraError):
    """An `@auth.on` handler returned something that is not a filter: the server's config is wrong (500)."""

    status_code = 500
