"""The layers of docs/architecture.md, checked on the source: nothing imports upward, and SQL stays
in the data-access layer (no module of the domain imports SQLAlchemy)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "aegra"

# What each part of the package may import from the others (besides itself and the leaf modules).
LEAVES = {"errors", "config", "config_schema", "serialization", "periodic", "ids", "telemetry"}
ALLOWED = {
    "vec": set(),
    "graphs": set(),
    "auth": {"graphs"},
    "db": set(),
    "local_models": set(),
    "store": {"db", "vec", "local_models"},
    "domain": {"db", "store", "graphs", "auth", "vec"},
    "server": {"domain", "db", "store", "graphs", "auth", "vec", "ui"},
    "cli": {"db", "store", "graphs", "vec", "templates", "local_models"},
    "templates": set(),
    "ui": set(),  # the console's pages: shells and scripts; its data comes through the HTTP API
}


def _imports(path: Path) -> set[str]:
    """Every module this file imports, by full name (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
    return names


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_nothing_imports_upward() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        part = _part(path)
        if part not in ALLOWED:
            continue
        for name in _imports(path):
            if not name.startswith("aegra."):
                continue
            target = name.split(".")[1]
            if target != part and target not in LEAVES and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_domain_builds_no_sql() -> None:
    """Services reach their tables through db/tables/ only."""
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / "domain").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] == "sqlalchemy" or name in ("aegra.db.models", "aegra.db.json_filters")
    ]
    assert not wrong, "\n".join(sorted(wrong))
