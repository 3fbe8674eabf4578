"""The server's log lines: readable on a console by default, one JSON object a line with
`LOG_FORMAT=json`, and in both the ids of what the line is about.

The ids (`request_id`, `user`, `run_id`, `thread_id`, `assistant_id`, `graph_id`, and with tracing
on `trace_id`, `span_id`) come from a context variable that the HTTP layer (server/observed.py) and
the executor (a run's task) set; a log record factory copies them onto every record as it is made,
so that every logger, ours or a library's, carries them. JSON comes from python-json-logger's
formatter (a record's extra attributes become keys); the console line appends the ids in brackets.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import Any

from pythonjsonlogger.msgspec import MsgspecFormatter

IDS = ("request_id", "user", "run_id", "thread_id", "assistant_id", "graph_id")
_ids: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("aegra_log_ids", default=None)
# Set by telemetry/tracing.py when tracing is on: the current span's (trace_id, span_id), or None.
trace_ids: Callable[[], tuple[str, str] | None] | None = None

CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def start(**ids: str) -> contextvars.Token[dict[str, str] | None]:
    """Ids for everything logged from here in this task (and the tasks it starts), replacing what
    was set; undo with `_ids.reset(token)` (`end`)."""
    return _ids.set(ids)


def end(token: contextvars.Token[dict[str, str] | None]) -> None:
    _ids.reset(token)


def add(**ids: str) -> None:
    """More ids for the request or run under way (e.g. the run a request created), seen by its
    access line too: the dict set by `start` is extended in place."""
    current = _ids.get()
    if current is not None:
        current.update(ids)


@contextlib.contextmanager
def scope(**ids: str) -> Iterator[None]:
    """The current ids plus these, for the block (a run's task, under the request that made it)."""
    token = _ids.set({**(_ids.get() or {}), **ids})
    try:
        yield
    finally:
        _ids.reset(token)


def current() -> dict[str, str]:
    return dict(_ids.get() or {})


_base_factory = logging.getLogRecordFactory()


def _record_with_ids(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    ids = _ids.get()
    if ids:
        record.__dict__.update(ids)
    if trace_ids is not None and (found := trace_ids()) is not None:
        record.trace_id, record.span_id = found
    return record


def install_record_factory() -> None:
    if logging.getLogRecordFactory() is not _record_with_ids:
        logging.setLogRecordFactory(_record_with_ids)


class ConsoleFormatter(logging.Formatter):
    """`2026-01-01 12:00:00,000 INFO    aegra.access: GET /ok 200 ... [request_id=... run_id=...]`"""

    def __init__(self, fmt: str = CONSOLE_FORMAT, **kwargs: Any) -> None:
        super().__init__(fmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name in (*IDS, "trace_id") if (value := record.__dict__.get(name))]
        return f"{line} [{' '.join(ids)}]" if ids else line


class JsonFormatter(MsgspecFormatter):
    """One JSON object a line: time, level, logger, message, the ids, any `extra`, and a traceback
    (`exc_info`) as one string field. python-json-logger's msgspec encoder (msgspec serves the API
    already): the access line costs 15% less than with the standard `json` module's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(JSON_FIELDS, *args, **kwargs)


def flush() -> None:
    """Write out what waits in Litestar's logging queue now: a worker that fails to start is ended
    by Granian with `sys.exit` in a child process, where no atexit handler stops the queue's thread,
    and the one record that says why would be lost about half the time."""
    for handler in logging.getLogger().handlers:
        listener = getattr(handler, "listener", None)
        if listener is not None and getattr(listener, "_thread", None) is not None:
            listener.stop()  # processes every queued record, then joins its thread
            listener.start()


def formatter_config(log_format: str) -> dict[str, Any]:
    """The `formatters` entry of a logging dictConfig for LOG_FORMAT (`console` or `json`)."""
    cls = JsonFormatter if log_format == "json" else ConsoleFormatter
    return {"()": f"{cls.__module__}.{cls.__qualname__}"}
