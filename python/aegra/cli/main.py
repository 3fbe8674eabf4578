"""`aegra`: run the server (`dev`, `serve`); more commands come with the CLI work."""

from __future__ import annotations

import os
from pathlib import Path

import click

from aegra import __version__
from aegra.cli.granian import exec_granian, granian_argv
from aegra.config import ConfigError, Settings, load_settings
from aegra.graphs import GraphRegistry


@click.group()
@click.version_option(__version__, prog_name="aegra")
def main() -> None:
    """Aegra: a self-hosted LangGraph agent server."""


def _prepare(config: Path | None, env_file: Path | None) -> tuple[Settings, dict[str, str]]:
    """Validate the configuration now, so mistakes show as one clear line, not a server crash."""
    env = dict(os.environ)
    if config is not None:
        env["AEGRA_CONFIG"] = str(config.resolve())
    if env_file is not None:
        env["AEGRA_ENV_FILE"] = str(env_file.resolve())
    try:
        settings = load_settings(env)
        # Import the graphs here too, so a broken graph file is one clear line, not a worker crash.
        GraphRegistry.load(settings.config, settings.base_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # The server process reads the same files again; pass the resolved choices down.
    env["AEGRA_CONFIG"] = str(settings.config_path)
    return settings, env


def _announce(settings: Settings, host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    click.echo(f"Aegra {__version__}")
    click.echo(f"  config:   {settings.config_path}")
    click.echo(f"  database: {settings.database.describe()}")
    click.echo(f"  API:      {base}")
    click.echo(f"  Docs:     {base}/docs")
    click.echo(f"  Studio:   https://smith.langchain.com/studio/?baseUrl={base}")


config_option = click.option(
    "--config", "-c", type=click.Path(path_type=Path, dir_okay=False), help="Config file (default: ./aegra.json)"
)
env_file_option = click.option(
    "--env-file", "-e", type=click.Path(path_type=Path, dir_okay=False), help="The .env file (default: ./.env)"
)


@main.command()
@click.option("--host", default=None, help="Bind address  [default: HOST or 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port  [default: PORT or 2026]")
@config_option
@env_file_option
@click.option("--no-reload", is_flag=True, help="Do not restart when files change")
def dev(host: str | None, port: int | None, config: Path | None, env_file: Path | None, no_reload: bool) -> None:
    """Run the development server (Granian with auto-reload)."""
    settings, env = _prepare(config, env_file)
    host = host or settings.host
    port = port or settings.port
    _announce(settings, host, port)
    argv = granian_argv(
        host=host, port=port, reload=not no_reload, watch=settings.base_dir, log_level=settings.log_level
    )
    exec_granian(argv, env)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Bind address")
@click.option("--port", type=int, default=None, help="Port  [default: PORT or 2026]")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes")
@config_option
@env_file_option
def serve(host: str, port: int | None, workers: int, config: Path | None, env_file: Path | None) -> None:
    """Run the production server (Granian, no reload)."""
    settings, env = _prepare(config, env_file)
    if workers > 1 and settings.database.backend == "sqlite":
        raise click.ClickException(
            f"--workers {workers} needs PostgreSQL: SQLite allows one writer, so one server process must own "
            f"{settings.database.sqlite_path}. Run with --workers 1, or set DATABASE_URL=postgresql://..."
        )
    port = port or settings.port
    _announce(settings, host, port)
    exec_granian(granian_argv(host=host, port=port, workers=workers, log_level=settings.log_level), env)


if __name__ == "__main__":
    main()
