"""`aegra models pull`, and what `init`, `minimal` and `validate` say and do about the embedding model.

A project whose `store.index.embed` is `fastembed:MODEL` needs MODEL's files locally. They are
fetched ahead of time rather than by the first store write: `aegra init` offers to (asking only on a
terminal: `--download-model` / `--no-download-model` decide in scripts), `aegra models pull` does
it on demand, and `aegra dev` starts it in the background when the model is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aegra.cli.options import config_option, env_file_option

download_model_option = click.option(
    "--download-model/--no-download-model",
    default=None,
    help="Fetch the store's embedding model now (default: ask, on a terminal; else don't)",
)


@click.group()
def models() -> None:
    """The local embedding model of `store.index` (fastembed)."""


@models.command()
@click.argument("model", required=False)
@config_option
@env_file_option
def pull(model: str | None, config: Path | None, env_file: Path | None) -> None:
    """Download MODEL (default: the one `store.index.embed` names) into fastembed's cache."""
    name = model or _configured_model(config, env_file)
    from aegra.local_models import ModelUnavailableError, describe, download, is_cached

    try:
        if is_cached(name):
            click.echo(f"{name}: already cached in {_cache_dir()}")
            return
        info = describe(name)
        click.echo(f"Downloading {name} (~{info.size_mb:.0f} MB) into {_cache_dir()}")
        folder = download(name)
    except ModelUnavailableError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name}: ready ({folder})")


def _configured_model(config: Path | None, env_file: Path | None) -> str:
    from aegra.cli.checks import load_checked_config
    from aegra.local_models import fastembed_model

    settings = load_checked_config(config, env_file)
    index = settings.config.store.index if settings.config.store else None
    if index is None:
        raise click.ClickException(
            f"{settings.config_path} has no store.index: name a model, e.g. `aegra models pull BAAI/bge-small-en-v1.5`"
        )
    name = fastembed_model(index.embed)
    if name is None:
        raise click.ClickException(f"store.index.embed is {index.embed!r}, which runs no local model: nothing to pull")
    return name


def _cache_dir() -> Path:
    from aegra.local_models import cache_dir

    return cache_dir()


def cache_state(embed: str) -> str | None:
    """For `aegra validate`: whether the model of a `fastembed:` embedder is cached; None for others."""
    from aegra.local_models import describe, fastembed_model, is_cached

    name = fastembed_model(embed)
    if name is None:
        return None
    if is_cached(name):
        return f"cached in {_cache_dir()}"
    try:
        size = f" (~{describe(name).size_mb:.0f} MB)"
    except Exception:
        return f"NOT a model fastembed knows: {name!r}"
    return (
        f"NOT cached in {_cache_dir()}{size}: `aegra models pull` downloads it; "
        "`aegra dev` starts the download in the background"
    )


def offer_download(embed: str | None, choice: bool | None) -> None:
    """After `aegra init`/`minimal`: fetch the project's model if asked (or, on a terminal, if the user
    says so). Never waits for input that cannot come, and never fails the command: the model can
    be pulled later."""
    from aegra.local_models import ModelUnavailableError, describe, download, fastembed_model, is_cached

    name = fastembed_model(embed)
    if name is None or choice is False:
        return
    if choice is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        click.echo(
            f"The store's embedding model {name} is downloaded by `aegra dev` in the background "
            "(or now: `aegra models pull`; `--download-model` does it here)"
        )
        return
    if is_cached(name):
        click.echo(f"The store's embedding model {name} is already cached in {_cache_dir()}")
        return
    size = describe(name).size_mb
    if choice is None and not click.confirm(
        f"Download the store's embedding model {name} now (~{size:.0f} MB)?", default=True
    ):
        click.echo("Skipped: `aegra models pull` downloads it, and `aegra dev` starts it in the background")
        return
    click.echo(f"Downloading {name} (~{size:.0f} MB) into {_cache_dir()}")
    try:
        download(name)
    except ModelUnavailableError as exc:
        click.echo(f"Not downloaded: {exc}", err=True)
        return
    click.echo(f"{name}: ready")
