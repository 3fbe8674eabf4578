"""Each unexpected error logged once, with the traceback of what actually failed.

Two things used to multiply or bury an error:
- Task groups (anyio's, which Litestar's `Stream` runs a response body in, and asyncio's) wrap
  what failed in an `ExceptionGroup`, and Litestar wraps an error raised after the response
  started in `LitestarException("Exception caught after response started") from <the group>`;
  printing that prints every layer with its own traceback. `root_error` peels off the wrappers
  that hold one error (a group of several keeps its several, which is what happened).
- An error that escapes the ASGI app is logged by Granian too ("Application callable raised an
  exception", its traceback flattened into the message, without the request's ids). The HTTP layer
  (server/observed.py) logs it first, inside the request's context, and re-raises `ErrorLogged` so
  that Granian still cuts the connection (a stream cut short must not look complete to the client);
  `drop_granian_duplicates` drops Granian's line for it.
- A failed startup (a graph that does not import, a database that cannot be reached) was printed
  twice by Granian, as Litestar's `lifespan.startup.failed` text and again as the exception, each
  a cascade of task groups: the HTTP layer logs it once and sends the failure without its text.
"""

from __future__ import annotations

import logging

# Granian's Python side logs on "_granian"; its Rust side on "_granian.utils" (a logger's filters
# see only the records logged on it, not on its children).
GRANIAN_LOGGERS = ("_granian", "_granian.utils")
GRANIAN_APP_ERROR = "Application callable raised an exception"
AFTER_START = "Exception caught after response started"


class ErrorLogged(Exception):
    """Raised in place of an error already logged, to abort a response that had started."""


def root_error(exc: BaseException) -> BaseException:
    while True:
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        elif exc.__cause__ is not None and AFTER_START in str(exc):  # Litestar's wrapper
            exc = exc.__cause__
        else:
            return exc


def log_error(logger: logging.Logger, message: str, *args: object, exc: BaseException) -> None:
    logger.error(message, *args, exc_info=root_error(exc))


class _DropLogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ErrorLogged):
            return False  # "ASGI lifespan startup failed"
        message = record.getMessage()
        return not (message.startswith(GRANIAN_APP_ERROR) and ErrorLogged.__name__ in message)


def drop_granian_duplicates() -> None:
    """Once per process (idempotent): Granian's lines for an error the HTTP layer logged go."""
    for name in GRANIAN_LOGGERS:
        granian = logging.getLogger(name)
        if not any(isinstance(existing, _DropLogged) for existing in granian.filters):
            granian.addFilter(_DropLogged())
