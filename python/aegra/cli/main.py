"""`aegra`: create a project (`init`), check it (`validate`), run it (`dev`, `minimal`, `serve`),
fetch its embedding model (`models`), and migrate or move its database (`db`).

Imports stay light here: `aegra dev` execs the server within a few hundred milliseconds, and the
commands that need more (`db`, `models`) are imported when they run (`LazyGroup`).
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import click

from aegra import __version__
from aegra.cli.checks import (
    check_port_free,
    check_postgres_reachable,
    load_checked_settings,
    load_server_settings,
    migrate_postgres,
)
from aegra.cli.granian import exec_granian, granian_argv
from aegra.cli.init import create_project, init
from aegra.cli.models import cache_state, download_model_option, offer_download
from aegra.cli.options import (
    config_option,
    env_file_option,
    host_option,
    metrics_port_option,
    no_reload_option,
    port_option,
)
from aegra.cli.reload import watch_rules
from aegra.config import CONFIG_FILE_NAMES, DatabaseSettings, Settings, is_given
from aegra.config_schema import HttpConfig
from aegra.local_models import fastembed_model


class LazyGroup(click.Group):
    """A group whose heavier subcommands are imported when they run (or when `--help` lists them)."""

    lazy_commands = {"db": "aegra.cli.db:db", "models": "aegra.cli.models:models"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="aegra")
def main() -> None:
    """Aegra: a self-hosted LangGraph agent server."""


main.add_command(init)


@main.command()
@host_option
@port_option
@config_option
@env_file_option
@no_reload_option
def dev(host: str | None, port: int | None, config: Path | None, env_file: Path | None, no_reload: bool) -> None:
    """Run the development server (Granian with auto-reload)."""
    run_dev(host=host, port=port, config=config, env_file=env_file, reload=not no_reload)


@main.command()
@click.argument("path", type=click.Path(path_type=Path, file_okay=False), default=".")
@host_option
@port_option
@no_reload_option
@download_model_option
def minimal(path: Path, host: str | None, port: int | None, no_reload: bool, download_model: bool | None) -> None:
    """Create a SQLite chatbot (unless PATH has a project) and run it.

    The same as `aegra init --sqlite PATH`, `cp .env.example .env` and `aegra dev`, in one command.
    """
    root = path.resolve()
    root.mkdir(parents=True, exist_ok=True)
    found = next((name for name in CONFIG_FILE_NAMES if (root / name).is_file()), None)
    if found:
        click.echo(f"Found {found} in {root}: starting it")
    else:
        project = create_project(
            root,
            sqlite=True,
            template="chatbot",
            name=None,
            force=False,
            refusal_hint="run `aegra minimal NEW_FOLDER`, or `aegra init --sqlite --force` here",
        )
        click.echo(f"Created the SQLite chatbot project '{project.name}' in {root}")
        offer_download(project.store_embed, download_model)
    if not (root / ".env").exists() and (root / ".env.example").is_file():
        shutil.copyfile(root / ".env.example", root / ".env")
        click.echo("Created .env from .env.example (add OPENAI_API_KEY there for a real model)")
    # The server resolves the config, .env and a relative SQLite path from its working directory.
    os.chdir(root)
    run_dev(host=host, port=port, config=None, env_file=None, reload=not no_reload)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Bind address")
@port_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes")
@click.option("--no-execute", is_flag=True, help="Serve HTTP only; runs are executed by other processes (PostgreSQL)")
@metrics_port_option
@config_option
@env_file_option
def serve(host: str, port: int | None, workers: int, no_execute: bool, metrics_port: int | None,
          config: Path | None, env_file: Path | None) -> None:  # fmt: skip
    """Run the production server (Granian, no reload)."""
    run_production(host, port, workers, config, env_file, role="api" if no_execute else "all",
                   metrics_port=metrics_port)  # fmt: skip


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Bind address of the health route")
@port_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes")
@metrics_port_option
@config_option
@env_file_option
def worker(host: str, port: int | None, workers: int, metrics_port: int | None, config: Path | None,
           env_file: Path | None) -> None:  # fmt: skip
    """Execute runs only (PostgreSQL): no API; answers /ok and /metrics on its port."""
    run_production(host, port, workers, config, env_file, role="worker", metrics_port=metrics_port)


def run_production(host: str, port: int | None, workers: int, config: Path | None, env_file: Path | None, *,
                   role: str, metrics_port: int | None = None) -> None:  # fmt: skip
    """`aegra serve` and `aegra worker`: Granian without reload, in the given role (AEGRA_ROLE)."""
    settings, env = load_server_settings(config, env_file)
    if settings.database.backend == "sqlite" and (workers > 1 or role != "all"):
        what = f"--workers {workers}" if workers > 1 else ("aegra worker" if role == "worker" else "--no-execute")
        raise click.ClickException(
            f"{what} needs PostgreSQL: one process owns a SQLite file ({settings.database.sqlite_path}) and both "
            "serves and executes its runs. Run one process (it executes N_JOBS_PER_WORKER runs at once), or set "
            "DATABASE_URL=postgresql://..."
        )
    # The server migrates at startup itself (under a lock shared by the workers); only check it is there.
    prepare_database(settings.database, migrate=False)
    port = port or settings.port
    check_port_free(host, port)
    if metrics_port:
        check_port_free(host, metrics_port)
    _announce(settings, host, port, console=role != "worker")
    argv = granian_argv(host=host, port=port, workers=workers, log_level=settings.log_level, metrics_port=metrics_port)
    # No access line by default in production, as Granian's own default: at ~9% of a small run's
    # CPU (docs/operations.md) it is for operators who ask for it; `aegra dev` shows it.
    quiet = {} if is_given("ACCESS_LOG", env) else {"ACCESS_LOG": "false"}
    exec_granian(argv, {**env, **quiet, "AEGRA_ROLE": role})


@main.command()
@config_option
@env_file_option
def validate(config: Path | None, env_file: Path | None) -> None:
    """Check the config and import the graphs (starts nothing)."""
    settings, registry, _ = load_checked_settings(config, env_file)
    index = settings.config.store.index if settings.config.store else None
    click.echo(f"{settings.config_path}: OK")
    click.echo(f"  graphs:   {', '.join(registry.graph_ids) or '(none: add some under `graphs`)'}")
    click.echo(f"  database: {settings.database.backend} ({settings.database.describe()})")
    if index is not None:
        click.echo(f"  store:    semantic search with {index.embed}, {index.dims} dimensions")
        state = cache_state(index.embed)
        if state is not None:
            click.echo(f"  model:    {state}")


def run_dev(*, host: str | None, port: int | None, config: Path | None, env_file: Path | None, reload: bool) -> None:
    settings, env = load_server_settings(config, env_file)
    prepare_database(settings.database, migrate=True)
    host = host or settings.host
    port = port or settings.port
    check_port_free(host, port)
    _announce(settings, host, port)
    watch = watch_rules(settings, env) if reload else None
    index = settings.config.store.index if settings.config.store else None
    # A missing embedding model is fetched in the background (if missing), not by the first write.
    fetch = fastembed_model(index.embed) if index else None
    argv = granian_argv(host=host, port=port, watch=watch, fetch_model=fetch, log_level=settings.log_level)
    exec_granian(argv, env)


def prepare_database(database: DatabaseSettings, *, migrate: bool) -> None:
    """PostgreSQL: fail now if it is unreachable, and (for `dev`) migrate it. SQLite: nothing to check."""
    if database.backend == "sqlite":
        return
    check_postgres_reachable(database)
    if migrate and database.run_migrations:
        click.echo(f"PostgreSQL schema: {migrate_postgres(database)} (head)")


def _announce(settings: Settings, host: str, port: int, *, console: bool = True) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    http = settings.config.http or HttpConfig()
    base = f"http://{shown}:{port}{(http.mount_prefix or '').rstrip('/')}"
    click.echo(f"Aegra {__version__}")
    click.echo(f"  config:   {settings.config_path}")
    click.echo(f"  graphs:   {', '.join(settings.config.graph_specs()) or '(none)'}")
    click.echo(f"  database: {settings.database.describe()}")
    click.echo(f"  API:      {base}")
    click.echo(f"  Docs:     {base}/docs")
    if console and not http.disable_ui:  # `aegra worker` serves no console
        click.echo(f"  Console:  {base}/ui")
    click.echo(f"  Studio:   https://smith.langchain.com/studio/?baseUrl={base}")


if __name__ == "__main__":
    main()
