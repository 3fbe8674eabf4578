"""Errors the domain raises; the HTTP layer turns each into `{"detail": ...}` with its status.

Services raise these instead of HTTP exceptions so that they stay usable outside a request
(crons, the CLI) and so that nothing below `server/` imports the web framework.
"""

from __future__ import annotations


class AegraError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(AegraError):
    status_code = 400


class NotFound(AegraError):
    status_code = 404


class Conflict(AegraError):
    status_code = 409


class Invalid(AegraError):
    """The request is well-formed JSON but breaks the API's rules for a field (422)."""

    status_code = 422


class Unavailable(AegraError):
    """A dependency (the database) cannot be reached now; the client may retry (503)."""

    status_code = 503
    headers = {"Retry-After": "1"}


class NotImplementedHere(AegraError):
    """The operation exists in the API, but not for this server's configuration (501)."""

    status_code = 501
