"""Importing the object a `graphs` entry points at: `./file.py:attr` or `package.module:attr`.

A file that `sys.path` (which the `dependencies` folders join) can reach is imported under its
dotted name, e.g. `my_agent.graph`: relative imports between sibling modules work, and a module
imported both by path and by name runs once. Other files get a synthetic module name derived
from their absolute path: stable across restarts, and two files both called `graph.py` do not
clash.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import keyword
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from aegra.graphs.errors import GraphLoadError

_MAX_CAUSE_CHARS = 300


@dataclass(frozen=True)
class GraphTarget:
    """One parsed `graphs` entry."""

    graph_id: str
    spec: str  # as written in the config file, for messages
    module: str  # the file path as written, or the dotted module name
    attr: str
    file: Path | None  # resolved file for path entries, None for module entries

    def error(self, problem: str) -> GraphLoadError:
        return GraphLoadError(f"Graph '{self.graph_id}' ({self.spec}): {problem}")


def parse_target(graph_id: str, spec: str, base_dir: Path) -> GraphTarget:
    """Split `spec` at its last colon; resolve a file path against `base_dir`."""
    module, _, attr = spec.rpartition(":")
    if not module or not attr.isidentifier():
        raise GraphLoadError(f"Graph '{graph_id}' ({spec}): expected './file.py:attr' or 'package.module:attr'")
    is_file = module.endswith(".py") or any(ch in module for ch in "/\\")
    file = (base_dir / module).resolve() if is_file else None
    return GraphTarget(graph_id, spec, module, attr, file)


def add_dependencies_to_sys_path(dependencies: Sequence[str], base_dir: Path) -> list[Path]:
    """Put the `dependencies` folders first on `sys.path`, in config order; return them resolved."""
    folders: list[Path] = []
    for dependency in dependencies:
        folder = (base_dir / dependency).resolve()
        if not folder.is_dir():
            raise GraphLoadError(f"Dependency folder '{dependency}' not found (resolved to {folder})")
        folders.append(folder)
    for position, folder in enumerate(folders):
        if str(folder) not in sys.path:
            sys.path.insert(position, str(folder))
    # Folders created after the interpreter started may be cached as empty by the path finders.
    importlib.invalidate_caches()
    return folders


def import_target(target: GraphTarget, dependency_dirs: Sequence[Path]) -> Any:
    """The object `target` names; every failure becomes a one-line `GraphLoadError`."""
    module = _import_module(target, dependency_dirs)
    try:
        return getattr(module, target.attr)
    except AttributeError:
        pass
    found = _graph_names(module)
    hint = f"; graphs it defines: {', '.join(found)}" if found else ""
    raise target.error(f"{target.module} has no attribute '{target.attr}'{hint}") from None


def _import_module(target: GraphTarget, dependency_dirs: Sequence[Path]) -> ModuleType:
    if target.file is not None and not target.file.is_file():
        raise target.error(f"file not found: {target.file}")
    try:
        if target.file is None:
            return importlib.import_module(target.module)
        return _import_file(target.file)
    except GraphLoadError:
        raise
    except Exception as exc:  # user code may raise anything at import time
        roots = [*dependency_dirs, *([target.file.parent] if target.file else [])]
        raise target.error(f"cannot import {target.module}: {describe_exception(exc, roots)}") from exc


def _import_file(file: Path) -> ModuleType:
    for dotted in _dotted_names(file):
        module = _import_if_same_file(dotted, file)
        if module is not None:
            return module
    return _exec_file(file, _synthetic_module_name(file))


def _dotted_names(file: Path) -> list[str]:
    """Names `file` is importable under from `sys.path` (dependency folders included), shortest first."""
    names: list[str] = []
    for entry in dict.fromkeys(Path(p or ".").resolve() for p in sys.path):
        if not file.is_relative_to(entry):
            continue
        parts = list(file.relative_to(entry).with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
            names.append(".".join(parts))
    return sorted(names, key=lambda name: name.count("."))


def _import_if_same_file(dotted: str, file: Path) -> ModuleType | None:
    """Import `dotted` if that name leads to `file`; None when it is taken by another module."""
    module = sys.modules.get(dotted)
    if module is None:
        try:
            spec = importlib.util.find_spec(dotted)
        except ModuleNotFoundError as exc:
            # A parent package is not importable under this name: try another name. A missing
            # module imported *by* a parent package's code is the user's error and propagates.
            if exc.name and (dotted == exc.name or dotted.startswith(f"{exc.name}.")):
                return None
            raise
        # Checked before importing, so a same-named module elsewhere is never run.
        if spec is None or spec.origin is None or Path(spec.origin).resolve() != file:
            return None
        module = importlib.import_module(dotted)
    module_file = getattr(module, "__file__", None)
    return module if module_file and Path(module_file).resolve() == file else None


def _synthetic_module_name(file: Path) -> str:
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", file.stem)
    return f"aegra_graph_{stem}_{digest}"


def _exec_file(file: Path, name: str) -> ModuleType:
    if (loaded := sys.modules.get(name)) is not None:
        return loaded  # another graph id points at the same file
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python source file: {file}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running: dataclasses, pydantic and pickle look the module up by name.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _graph_names(module: ModuleType) -> list[str]:
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and isinstance(value, Pregel | StateGraph)
    ]


def describe_exception(exc: BaseException, roots: Sequence[Path] = ()) -> str:
    """`Type: message (at file:line)` on one line; the location is the deepest frame under `roots`."""
    text = " ".join(str(exc).split())
    if len(text) > _MAX_CAUSE_CHARS:
        text = text[: _MAX_CAUSE_CHARS - 3] + "..."
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, SyntaxError):
        return described  # its message already carries file and line
    location = _user_frame(exc, roots)
    return f"{described} (at {location})" if location else described


def _user_frame(exc: BaseException, roots: Sequence[Path]) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename)
        if path.is_absolute() and any(path.is_relative_to(root) for root in roots):
            return f"{path}:{frame.lineno}"
    return None
