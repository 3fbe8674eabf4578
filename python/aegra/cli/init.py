"""`aegra init`: write a runnable project from a template."""

from __future__ import annotations

from pathlib import Path

import click

from aegra.cli.models import download_model_option, offer_download
from aegra.cli.scaffold import TEMPLATES, Project, existing_files, plan_project, write_project


@click.command()
@click.argument("path", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--sqlite", is_flag=True, help="Use one SQLite file (no database server); else PostgreSQL")
@click.option(
    "--template",
    "-t",
    type=click.Choice(sorted(TEMPLATES)),
    default="chatbot",
    show_default=True,
    help="The graph to start from",
)
@click.option("--name", "-n", help="Project name  [default: the folder's name]")
@click.option("--force", is_flag=True, help="Overwrite files that exist already")
@download_model_option
def init(path: Path, sqlite: bool, template: str, name: str | None, force: bool, download_model: bool | None) -> None:
    """Create a runnable project in PATH (default: here).

    Writes aegra.json, .env.example, a graph package under src/ and a README.
    """
    project = create_project(path, sqlite=sqlite, template=template, name=name, force=force)
    click.echo(f"Created the project '{project.name}' from the {template} template in {path.resolve()}:")
    for relative in project.files:
        click.echo(f"  {relative}")
    offer_download(project.store_embed, download_model)
    click.echo("Next:")
    if path.resolve() != Path.cwd():
        click.echo(f"  cd {path}")
    click.echo("  cp .env.example .env    # add OPENAI_API_KEY for a real model (optional)")
    click.echo("  aegra dev")


def create_project(
    path: Path,
    *,
    sqlite: bool,
    template: str,
    name: str | None,
    force: bool,
    refusal_hint: str = "use --force to overwrite them",
) -> Project:
    """Plan the files, refuse if any exists (unless `force`), then write them all."""
    root = path.resolve()
    project = plan_project(name=name or root.name, template=template, sqlite=sqlite)
    in_the_way = existing_files(root, project)
    if in_the_way and not force:
        raise click.ClickException(f"{root} already has {', '.join(in_the_way)}; nothing was written ({refusal_hint})")
    write_project(root, project)
    return project
