"""What a lost or unreachable PostgreSQL looks like, from each driver the server uses: asyncpg (its
own statements) and psycopg (LangGraph's checkpointer and store). Work that fails this way is
retried, not failed: the database will be back (docs/scaling.md)."""

from __future__ import annotations

import sys

import asyncpg

from aegra.errors import Unavailable

# asyncpg: refused or dropped connections, and a server that is starting or shutting down.
ASYNCPG_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
# SQLSTATE classes and codes of a lost connection: 08 (connection exception), 57P01-57P03
# (administrator or crash shutdown, cannot connect now).
_LOST_STATES = ("57P01", "57P02", "57P03")


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (not that a statement was wrong)."""
    if isinstance(exc, (Unavailable, *ASYNCPG_CONNECTION_ERRORS)):
        return True
    # psycopg is imported by LangGraph's PostgreSQL checkpointer and store, only on PostgreSQL (its
    # import is ~0.15 s of a SQLite server's startup): an error of it exists only once it is.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _LOST_STATES
    return False
