"""`aegra db export FILE` and `aegra db import FILE`: click commands over `export.py` / `importer.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from aegra.cli.checks import check_postgres_reachable, cli_environment, load_database_settings, user_errors
from aegra.cli.options import config_option, env_file_option
from aegra.cli.transfer.backend import open_backend
from aegra.cli.transfer.codec import TransferError
from aegra.cli.transfer.export import export_database
from aegra.cli.transfer.importer import ImportReport, import_file
from aegra.cli.transfer.records import KINDS
from aegra.config import ConfigError, DatabaseSettings, find_config_file, load_settings
from aegra.config_schema import StoreConfig
from aegra.store.embeddings import EmbeddingConfigError, EmbeddingUnavailableError
from aegra.store.factory import PGVECTOR_MISSING

T = TypeVar("T")

file_argument = click.argument("file", type=click.Path(path_type=Path, dir_okay=False))


@click.command("export")
@file_argument
@config_option
@env_file_option
@click.pass_obj
def export_command(group_env_file: Path | None, file: Path, config: Path | None, env_file: Path | None) -> None:
    """Write the whole database (assistants, threads, checkpoints, runs, crons, store) to FILE.

    JSON Lines; gzip-compressed when FILE ends in .gz.
    """
    # The source's `store.index` plays no part: vectors stay behind (the importing side embeds again).
    database, _, base_dir = _settings(config, env_file or group_env_file)
    if database.backend == "sqlite" and not (database.sqlite_path and database.sqlite_path.is_file()):
        raise click.ClickException(f"nothing to export: {database.describe()} does not exist")
    if not file.parent.is_dir():
        raise click.ClickException(f"cannot write {file}: the folder {file.parent} does not exist")
    _check_reachable(database)

    async def run() -> dict[str, int]:
        async with open_backend(database, None, base_dir) as backend:
            return await export_database(backend, file)

    counts = _run(run())
    click.echo(f"Exported {database.describe()} to {file}:")
    _echo_counts(counts)


@click.command("import")
@file_argument
@config_option
@env_file_option
@click.option("--skip-existing", is_flag=True, help="Keep records the database already has; import the rest")
@click.pass_obj
def import_command(
    group_env_file: Path | None, file: Path, config: Path | None, env_file: Path | None, skip_existing: bool
) -> None:
    """Load FILE (from `aegra db export`) into the database, and verify every record arrived.

    Store items are embedded again when the config has `store.index`.
    """
    if not file.is_file():
        raise click.ClickException(f"{file} does not exist")
    database, store_config, base_dir = _settings(config, env_file or group_env_file)
    _check_reachable(database)

    async def run() -> ImportReport:
        async with open_backend(database, store_config, base_dir) as backend:
            return await import_file(backend, file, skip_existing=skip_existing)

    report = _run(run())
    source = f"{report.header.get('source_backend', '?')}, Aegra {report.header.get('aegra_version', '?')}"
    click.echo(f"Imported {file} (from {source}) into {database.describe()}:")
    _echo_counts({kind: report.imported(kind) for kind in KINDS}, skipped=report.skipped)
    click.echo("Verified: every record of the file is in the database.")


def _settings(config: Path | None, env_file: Path | None) -> tuple[DatabaseSettings, StoreConfig | None, Path]:
    """The database, and the store config (the import's `store.index` embeds items) when there is a config file."""
    env = cli_environment(config, env_file)
    with user_errors():
        try:
            find_config_file(env, Path.cwd())
        except ConfigError:
            if config is not None:
                raise
            # No config file: like the other `aegra db` commands, the environment and .env name the database.
            return load_database_settings(env_file), None, Path.cwd()
        settings = load_settings(env)
    return settings.database, settings.config.store, settings.base_dir


def _check_reachable(database: DatabaseSettings) -> None:
    if database.backend == "postgres":
        check_postgres_reachable(database)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except TransferError as exc:
        raise click.ClickException(str(exc)) from None
    except (EmbeddingConfigError, EmbeddingUnavailableError) as exc:
        # Store items come last, so everything else is in by now: say how to finish the job.
        raise click.ClickException(
            f"cannot embed the store items for the config's `store.index`: {exc}. Fix or remove `store.index`, "
            "then run the import again with --skip-existing to add what is missing"
        ) from None
    except RuntimeError as exc:
        if str(exc) == PGVECTOR_MISSING:  # the store's own startup check, meant for the user as it is
            raise click.ClickException(PGVECTOR_MISSING) from None
        raise


def _echo_counts(counts: dict[str, int], skipped: dict[str, int] | None = None) -> None:
    for kind, count in counts.items():
        extra = f" (skipped {skipped[kind]} already present)" if skipped and skipped.get(kind) else ""
        click.echo(f"  {kind:<20} {count}{extra}")
