"""What the CLI checks before it starts anything: config, graphs, database, port.

Each check turns a failure into a `click.ClickException` with one line that says what is wrong
and where, so a newcomer sees `Error: ...` instead of a traceback from a server worker.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aegra.config import ConfigError, DatabaseSettings, Settings, database_from_env, find_config_file, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from aegra.graphs import GraphRegistry

# Long enough for a slow network, short enough that a wrong host fails while the user waits.
POSTGRES_CONNECT_TIMEOUT_SECS = 5


def cli_environment(config: Path | None, env_file: Path | None) -> dict[str, str]:
    """The process environment plus the `--config` / `--env-file` choices, as absolute paths."""
    env = dict(os.environ)
    if config is not None:
        env["AEGRA_CONFIG"] = str(config.resolve())
    if env_file is not None:
        env["AEGRA_ENV_FILE"] = str(env_file.resolve())
    return env


@contextmanager
def user_errors() -> Iterator[None]:
    """A `ConfigError` (always meant for the user) becomes click's one-line `Error: ...`."""
    try:
        yield
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def load_checked_settings(config: Path | None, env_file: Path | None) -> tuple[Settings, GraphRegistry, dict[str, str]]:
    """Settings, the imported graphs, and the environment for the server process.

    Graphs are imported here too, so a broken graph file is one clear line, not a worker crash.
    """
    from aegra.graphs import GraphRegistry

    env = cli_environment(config, env_file)
    with user_errors():
        settings = load_settings(env)
        registry = GraphRegistry.load(settings.config, settings.base_dir)
    # The server process reads the same files again; pass the resolved choices down.
    env["AEGRA_CONFIG"] = str(settings.config_path)
    return settings, registry, env


def load_server_settings(config: Path | None, env_file: Path | None) -> tuple[Settings, dict[str, str]]:
    """Settings and the environment for the server process, without importing the graphs: the
    server's worker imports them and reports a broken one in one line itself (LangGraph's import
    alone takes a second, which `aegra dev` would pay before starting)."""
    env = cli_environment(config, env_file)
    with user_errors():
        settings = load_settings(env)
    env["AEGRA_CONFIG"] = str(settings.config_path)
    return settings, env


def load_checked_config(config: Path | None, env_file: Path | None) -> Settings:
    """The settings alone (no graph is imported), or click's one-line error."""
    with user_errors():
        return load_settings(cli_environment(config, env_file))


def load_database_settings(env_file: Path | None) -> DatabaseSettings:
    """The database settings alone: `aegra db` works in a folder without a config file too."""
    env = cli_environment(None, env_file)
    with user_errors():
        if _has_config_file(env):
            return load_settings(env).database
        # No config file: the environment and .env alone name the database.
        return database_from_env(_with_dotenv(env), Path.cwd())


def _has_config_file(env: dict[str, str]) -> bool:
    try:
        find_config_file(env, Path.cwd())
    except ConfigError:
        return False
    return True


def _with_dotenv(env: dict[str, str]) -> dict[str, str]:
    """`env` plus the .env file's values; the environment wins, as in `load_settings`."""
    from dotenv import dotenv_values

    path = Path(env.get("AEGRA_ENV_FILE", ".env")).resolve()
    if not path.is_file():
        if "AEGRA_ENV_FILE" in env:
            raise ConfigError(f"AEGRA_ENV_FILE points to {path}, which does not exist")
        return env
    return {**{key: value for key, value in dotenv_values(path).items() if value is not None}, **env}


def check_postgres_reachable(database: DatabaseSettings) -> None:
    """Connect once; on failure say which server (password hidden) and what to do."""
    import psycopg

    assert database.postgres_url is not None
    try:
        with psycopg.connect(database.postgres_url, connect_timeout=POSTGRES_CONNECT_TIMEOUT_SECS):
            pass
    except psycopg.Error as exc:
        reason = _one_line(redact_passwords(str(exc)))
        raise click.ClickException(
            f"cannot reach PostgreSQL at {database.describe()} ({reason}). Start the server or fix DATABASE_URL / "
            "POSTGRES_* in .env; or use SQLite, with no server: DATABASE_URL=sqlite:///./aegra.db"
        ) from None


def migrate_postgres(database: DatabaseSettings) -> str | None:
    """Apply every pending Alembic migration; return the revision the database is at afterwards."""
    from aegra.db.migrate import current_revision, upgrade_to_head

    async def run() -> str | None:
        engine = postgres_engine(database)
        try:
            await upgrade_to_head(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def postgres_engine(database: DatabaseSettings) -> AsyncEngine:
    """A small engine for one CLI command (the server makes its own pooled one)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(database.sqlalchemy_url, pool_size=1, max_overflow=0)


def check_port_free(host: str, port: int) -> None:
    """Fail before starting Granian, whose own message for a taken port is easy to miss."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Like the server: a port left in TIME_WAIT by a previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}. Is another server running there? "
                "Choose another port with --port"
            ) from None


# A password where a connection string carries one: `scheme://user:PASSWORD@host` and `password=...`.
# Only there: replacing the password's characters everywhere turned "port" into "***ort" for `p`.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@]*@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_passwords(text: str) -> str:
    """`text` with the password of each connection URL or `password=` pair in it shown as `***`."""
    return _KEYWORD_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


def _one_line(text: str, *, limit: int = 300) -> str:
    line = " ".join(text.split()) or "connection failed"
    return line if len(line) <= limit else line[: limit - 3] + "..."
