"""The files of a new project (`aegra init`), computed first and written only if nothing is in the way.

A project is self-contained: its graph package gets a copy of the template files and of the
shared `templates/common/` modules, so it keeps working whatever Aegra version runs it.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from importlib.util import find_spec
from pathlib import Path
from string import Template

from aegra.cli.env_example import render_env_example
from aegra.local_models import fastembed_model

# What `aegra init --sqlite` puts in aegra.json: local embeddings, no API key (the SQLite guide's promise).
SQLITE_STORE_INDEX = {"embed": "fastembed:BAAI/bge-small-en-v1.5", "dims": 384}
# Its download, as fastembed lists it (size_in_GB 0.067), for the README: no fastembed import at init.
SQLITE_MODEL_MB = 67
# What a fresh project's .env.example sets without --sqlite: a local PostgreSQL, as in the README's docker line.
POSTGRES_DEFAULTS = {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_HOST": "localhost"}


@dataclass(frozen=True)
class ProjectTemplate:
    folder: str  # under aegra/templates/
    graph_id: str
    description: str
    example: str  # a first message worth sending
    files: tuple[tuple[str, str], ...]  # (file in the package, what it is), for the README


TEMPLATES = {
    "chatbot": ProjectTemplate(
        folder="chatbot",
        graph_id="chatbot",
        description="A chatbot",
        example="Hello!",
        files=(("graph.py", "The graph: one node that asks the chat model, with what the user said before"),),
    ),
    "react-agent": ProjectTemplate(
        folder="react_agent",
        graph_id="agent",
        description="A ReAct agent with tools and long-term memory",
        example="Please remember that I like green tea",
        files=(
            ("graph.py", "The graph: the model answers or calls tools, in a loop"),
            ("tools.py", "The tools: `remember` (saves to the store) and `get_current_time`"),
        ),
    ),
}


@dataclass(frozen=True)
class Project:
    name: str
    package: str
    template: ProjectTemplate
    sqlite: bool
    files: dict[str, str]  # relative path -> text

    @property
    def store_embed(self) -> str | None:
        """The embedder the project's store uses (`store.index.embed`), if it has one."""
        return SQLITE_STORE_INDEX["embed"] if self.sqlite else None  # type: ignore[return-value]


def plan_project(*, name: str, template: str, sqlite: bool) -> Project:
    chosen = TEMPLATES[template]
    package = package_name(name)
    package_dir = f"src/{package}"
    files = {
        "aegra.json": _config_json(chosen, package, sqlite),
        ".env.example": _env_example(package, sqlite),
        "README.md": _readme(name, package, chosen, sqlite),
        ".gitignore": _template_text(resources.files("aegra.templates") / "project" / "gitignore"),
        f"{package_dir}/__init__.py": f'"""{name}: {chosen.description.lower()}, served by Aegra."""\n',
    }
    for source in (*_python_files("common"), *_python_files(chosen.folder)):
        files[f"{package_dir}/{source.name}"] = _template_text(source)
    return Project(name=name, package=package, template=chosen, sqlite=sqlite, files=files)


def package_name(name: str) -> str:
    """A Python package name for `name`, that shadows neither the standard library nor an installed package."""
    package = re.sub(r"\W+", "_", name.strip().lower()).strip("_") or "app"
    if package[0].isdigit() or keyword.iskeyword(package):
        package = f"app_{package}"
    # The graph's folder goes first on sys.path: a package called `json` or `langgraph` would hide the real one.
    if package in sys.stdlib_module_names or find_spec(package) is not None:
        package = f"{package}_app"
    return package


def existing_files(root: Path, project: Project) -> list[str]:
    return [relative for relative in project.files if (root / relative).exists()]


def write_project(root: Path, project: Project) -> None:
    for relative, text in project.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _config_json(template: ProjectTemplate, package: str, sqlite: bool) -> str:
    config: dict[str, object] = {
        # The package folder goes on sys.path, so the graph's relative imports work.
        "dependencies": ["./src"],
        "graphs": {template.graph_id: {"path": f"./src/{package}/graph.py:graph", "description": template.description}},
    }
    if sqlite:
        config["store"] = {"index": SQLITE_STORE_INDEX}
    return json.dumps(config, indent=2) + "\n"


def _env_example(package: str, sqlite: bool) -> str:
    values = {"DATABASE_URL": f"sqlite:///./{package}.db"} if sqlite else {**POSTGRES_DEFAULTS, "POSTGRES_DB": package}
    return render_env_example(values, with_model=True)


def _readme(name: str, package: str, template: ProjectTemplate, sqlite: bool) -> str:
    if sqlite:
        model = fastembed_model(str(SQLITE_STORE_INDEX["embed"]))
        database = (
            f"All data (threads, checkpoints, memories and their vectors) lives in one file, `./{package}.db`.\n\n"
            f"The store's semantic search embeds text with a local model, `{model}` (fastembed, no API key). "
            f"The first run downloads it (~{SQLITE_MODEL_MB} MB): `aegra dev` starts the download in the "
            "background when the model is missing, and `aegra models pull` fetches it ahead of time. "
            "With no network, copy the model's folder from another machine's fastembed cache into this "
            "one's (`FASTEMBED_CACHE_PATH`) and set `HF_HUB_OFFLINE=1`, or set `store.index.embed` to "
            "`openai:text-embedding-3-small` or to your own `./file.py:function`. Until the model is there, "
            "memories are saved and listed, without semantic ranking."
        )
        store_note = f", and semantic search for the store (local embeddings with `{model}`, no API key)"
    else:
        database = (
            "`.env` points at a local PostgreSQL (the `POSTGRES_*` lines); start one, e.g.\n"
            f"`docker run -d -p 5432:5432 -e POSTGRES_PASSWORD=postgres -e POSTGRES_DB={package} "
            "pgvector/pgvector:pg16`. `aegra dev` checks that it is reachable and migrates it. "
            f"Or run on SQLite, with no server: set `DATABASE_URL=sqlite:///./{package}.db` in `.env`."
        )
        store_note = ""
    rows = [
        *(f"| `src/{package}/{file}` | {what} |" for file, what in template.files),
        f"| `src/{package}/memory.py` | Long-term memory per user in the server's store (semantic search with "
        "`store.index`) |",
        f"| `src/{package}/models.py` | Chooses the chat model: OpenAI with a key, else the local fallback |",
    ]
    text = _template_text(resources.files("aegra.templates") / "project" / "README.md")
    return Template(text).safe_substitute(
        name=name,
        description=template.description,
        database=database,
        graph_id=template.graph_id,
        example=template.example,
        store_note=store_note,
        model_row="| `aegra models pull` | Downloads the store's embedding model ahead of time |\n" if sqlite else "",
        file_rows="\n".join(rows),
    )


def _python_files(folder: str) -> list[Traversable]:
    found = [f for f in (resources.files("aegra.templates") / folder).iterdir() if f.name.endswith(".py")]
    return sorted(found, key=lambda f: f.name)


def _template_text(source: Traversable) -> str:
    return source.read_text(encoding="utf-8")
