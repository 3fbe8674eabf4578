"""`aegra db upgrade|current|history`: Alembic migrations of the PostgreSQL schema.

SQLite has no migrations (the server creates its tables at startup), so there these commands
say so and exit successfully.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aegra.cli.checks import check_postgres_reachable, load_database_settings, migrate_postgres, postgres_engine
from aegra.cli.options import env_file_option
from aegra.cli.transfer.commands import export_command, import_command
from aegra.config import DatabaseSettings

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


@click.group()
@env_file_option
@click.pass_context
def db(ctx: click.Context, env_file: Path | None) -> None:
    """Database migrations (PostgreSQL), export and import."""
    ctx.obj = env_file


db.add_command(export_command)
db.add_command(import_command)


@db.command()
@click.pass_obj
def upgrade(env_file: Path | None) -> None:
    """Apply every pending migration."""
    database = _postgres(env_file)
    if database is None:
        return
    before = _current(database)
    after = migrate_postgres(database)
    if before == after:
        click.echo(f"{database.describe()}: already at {after} (head); nothing to do")
    else:
        click.echo(f"{database.describe()}: upgraded from {before or '<empty>'} to {after} (head)")


@db.command()
@click.pass_obj
def current(env_file: Path | None) -> None:
    """Show the database's revision."""
    database = _postgres(env_file)
    if database is None:
        return
    revision, head = _current(database), _head()
    if revision is None:
        click.echo(f"{database.describe()}: no migrations applied (run `aegra db upgrade`)")
    elif revision == head:
        click.echo(f"{database.describe()}: {revision} (head)")
    else:
        click.echo(f"{database.describe()}: {revision}, behind head {head} (run `aegra db upgrade`)")


@db.command()
@click.pass_obj
def history(env_file: Path | None) -> None:
    """List the migrations, newest first."""
    if _postgres(env_file, connect=False) is None:
        return
    for script in _scripts().walk_revisions():
        down = script.down_revision or "<base>"
        head = " (head)" if script.is_head else ""
        click.echo(f"{down} -> {script.revision}{head}: {script.doc}")


def _postgres(env_file: Path | None, *, connect: bool = True) -> DatabaseSettings | None:
    """The PostgreSQL settings, checked reachable; None (after saying why) on SQLite."""
    database = load_database_settings(env_file)
    if database.backend == "sqlite":
        click.echo(
            f"SQLite needs no migrations: Aegra creates the tables in {database.sqlite_path} when the server starts. "
            "`aegra db` manages PostgreSQL (DATABASE_URL=postgresql://... or POSTGRES_*)."
        )
        return None
    if connect:
        check_postgres_reachable(database)
    return database


def _current(database: DatabaseSettings) -> str | None:
    from aegra.db.migrate import current_revision

    async def run() -> str | None:
        engine = postgres_engine(database)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    from aegra.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config())


def _head() -> str | None:
    return _scripts().get_current_head()
