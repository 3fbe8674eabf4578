"""The `aegra` console script, run for real in temp folders: init, validate, db.

(The commands that start a server are in test_cli_run.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from aegra.cli.env_example import render_env_example
from aegra.config import ENV_VARS
from aegra.db.migrate import head_revision

REPO = Path(__file__).parents[2]
# Settings a developer's shell may hold; the CLI under test must see only what each test sets.
LEAKY_VARS = {"OPENAI_API_KEY", "OPENAI_MODEL", *(var.name for var in ENV_VARS)}


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKY_VARS}
    return {**env, **extra}


def aegra_argv(*args: str) -> list[str]:
    """The installed console script when it is on PATH (what users run), else the same entry point."""
    script = shutil.which("aegra")
    return [script, *args] if script else [sys.executable, "-m", "aegra.cli.main", *args]


def aegra(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        aegra_argv(*args), cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=120
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure contract: exit code 1, and stderr is a single `Error: ...` line."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_init_sqlite_writes_a_runnable_project(tmp_path: Path) -> None:
    result = aegra("init", "--sqlite", "--name", "My Bot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "aegra.json").read_text())
    assert config["graphs"]["chatbot"]["path"] == "./src/my_bot/graph.py:graph"
    assert config["dependencies"] == ["./src"]
    assert config["store"] == {"index": {"embed": "fastembed:BAAI/bge-small-en-v1.5", "dims": 384}}
    package = tmp_path / "src" / "my_bot"
    assert {p.name for p in package.iterdir()} == {"__init__.py", "graph.py", "memory.py", "models.py"}
    assert "aegra dev" in (tmp_path / "README.md").read_text() and "My Bot" in (tmp_path / "README.md").read_text()
    example = (tmp_path / ".env.example").read_text()
    assert dotenv_values(tmp_path / ".env.example") == {"DATABASE_URL": "sqlite:///./my_bot.db"}
    assert "\n# OPENAI_API_KEY=\n" in example
    commented = [var.name for var in ENV_VARS if var.name != "DATABASE_URL" and f"\n# {var.name}=" not in example]
    assert not commented, f"settings missing from .env.example: {commented}"
    assert "cp .env.example .env" in result.stdout and "aegra dev" in result.stdout


def test_init_without_sqlite_sets_up_postgres_and_no_vector_index(tmp_path: Path) -> None:
    result = aegra("init", "app", "--template", "react-agent", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "app"
    values = dotenv_values(root / ".env.example")
    assert values == {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
        "POSTGRES_HOST": "localhost",
        "POSTGRES_DB": "app",
    }
    config = json.loads((root / "aegra.json").read_text())
    assert "store" not in config and config["graphs"]["agent"]["path"] == "./src/app/graph.py:graph"
    assert {p.name for p in (root / "src" / "app").iterdir()} >= {"graph.py", "tools.py", "memory.py", "models.py"}
    assert "cd app" in result.stdout


def test_init_refuses_to_overwrite_and_lists_the_files_then_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "aegra.json").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("untouched\n")
    line = one_error_line(aegra("init", "--sqlite", cwd=tmp_path))
    assert "aegra.json" in line and "README.md" in line and "--force" in line
    assert "notes.txt" not in line and ".env.example" not in line
    assert (tmp_path / "README.md").read_text() == "mine\n" and not (tmp_path / ".env.example").exists()

    assert aegra("init", "--sqlite", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "README.md").read_text() != "mine\n"
    assert "graphs" in json.loads((tmp_path / "aegra.json").read_text())
    assert (tmp_path / "notes.txt").read_text() == "untouched\n"


def test_init_names_the_package_so_it_shadows_no_module(tmp_path: Path) -> None:
    assert aegra("init", "--sqlite", "--name", "json", cwd=tmp_path).returncode == 0
    assert (tmp_path / "src" / "json_app" / "graph.py").is_file()
    assert dotenv_values(tmp_path / ".env.example")["DATABASE_URL"] == "sqlite:///./json_app.db"


def test_the_repository_env_example_is_generated_from_the_settings() -> None:
    assert (REPO / ".env.example").read_text() == render_env_example(), (
        "regenerate it: python -m aegra.cli.env_example > .env.example"
    )


@pytest.mark.parametrize("template", ["chatbot", "react-agent"])
def test_validate_summarizes_a_good_project(tmp_path: Path, template: str) -> None:
    aegra("init", "--sqlite", "--template", template, cwd=tmp_path)
    result = aegra("validate", cwd=tmp_path, env=clean_env(DATABASE_URL="sqlite:///./x.db"))
    assert result.returncode == 0, result.stderr
    graph_id = "chatbot" if template == "chatbot" else "agent"
    assert f"graphs:   {graph_id}" in result.stdout
    assert f"database: sqlite (sqlite:///{tmp_path / 'x.db'})" in result.stdout
    assert "fastembed:BAAI/bge-small-en-v1.5" in result.stdout
    assert not (tmp_path / "x.db").exists(), "validate must not create the database"


def test_validate_reports_a_broken_graph_in_one_line(tmp_path: Path) -> None:
    aegra("init", "--sqlite", cwd=tmp_path)
    graph = next(tmp_path.glob("src/*/graph.py"))
    graph.write_text(graph.read_text() + "\nraise RuntimeError('boom in the graph')\n")
    line = one_error_line(aegra("validate", cwd=tmp_path))
    assert "chatbot" in line and "boom in the graph" in line


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('{"graphs": {"agent": "./missing.py:graph"}}', "graphs.agent"),
        ('{"graphs": ', "malformed JSON"),
        ('{"store": {"index": {"embed": "nope:x", "dims": 3}}}', "unsupported provider"),
    ],
)
def test_validate_reports_a_bad_config_in_one_line(tmp_path: Path, config: str, expected: str) -> None:
    (tmp_path / "custom.json").write_text(config)
    line = one_error_line(aegra("validate", "--config", "custom.json", cwd=tmp_path))
    assert expected in line and "custom.json" in line


def test_validate_without_a_config_says_how_to_make_one(tmp_path: Path) -> None:
    assert "aegra init" in one_error_line(aegra("validate", cwd=tmp_path))


@pytest.mark.parametrize("command", ["upgrade", "current", "history"])
def test_db_on_sqlite_says_no_migrations_are_needed(tmp_path: Path, command: str) -> None:
    (tmp_path / "local.env").write_text("DATABASE_URL=sqlite:///./a.db\n")
    result = aegra("db", "--env-file", "local.env", command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SQLite needs no migrations" in result.stdout and str(tmp_path / "a.db") in result.stdout
    assert not (tmp_path / "a.db").exists()


@pytest.mark.postgres
def test_db_upgrade_current_history_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    # Through .env, as a user would configure it; no config file is needed for `aegra db`.
    (tmp_path / ".env").write_text(f"DATABASE_URL={postgres_url}\n")
    before = aegra("db", "current", cwd=tmp_path)
    assert before.returncode == 0 and "no migrations applied" in before.stdout, before.stderr

    upgraded = aegra("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    head = head_revision()
    assert f"upgraded from <empty> to {head} (head)" in upgraded.stdout
    assert "nothing to do" in aegra("db", "upgrade", cwd=tmp_path).stdout
    assert aegra("db", "current", cwd=tmp_path).stdout.strip().endswith(f": {head} (head)")

    history = aegra("db", "history", cwd=tmp_path)
    assert history.returncode == 0 and "<base> -> 0001" in history.stdout and f"-> {head} (head)" in history.stdout

    import psycopg

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)


def test_db_against_unreachable_postgres_fails_with_the_password_hidden(tmp_path: Path) -> None:
    from tests.support.postgres import free_port

    url = f"postgresql://aegra:hunter2secret@127.0.0.1:{free_port()}/app"
    line = one_error_line(aegra("db", "upgrade", cwd=tmp_path, env=clean_env(DATABASE_URL=url)))
    assert "cannot reach PostgreSQL" in line and "aegra:***@127.0.0.1" in line
    assert "hunter2secret" not in line


def test_a_one_letter_password_is_hidden_in_the_url_only(tmp_path: Path) -> None:
    from tests.support.postgres import free_port

    port = free_port()
    url = f"postgresql://aegra:p@127.0.0.1:{port}/app"
    line = one_error_line(aegra("db", "upgrade", cwd=tmp_path, env=clean_env(DATABASE_URL=url)))
    assert f"postgresql://aegra:***@127.0.0.1:{port}/app" in line
    # psycopg's own words stay as they are: "port 5432 failed", "PostgreSQL", "Start the server".
    assert f"port {port} failed" in line and "PostgreSQL" in line and "Start the server" in line, line
    assert "***ort" not in line and "***ostgreSQL" not in line
