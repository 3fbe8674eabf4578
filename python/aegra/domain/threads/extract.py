"""Thread search's `extract`: pick values out of a thread by path, e.g. `values.messages[-1].content`.

A path starts at one of the thread's JSON fields and goes down by `.key` and `[index]` steps
(negative indexes count from the end); a path that leads nowhere extracts `null`.
"""

from __future__ import annotations

import re
from typing import Any

from aegra.errors import Invalid

ROOTS = frozenset({"values", "metadata", "config", "interrupts"})
RESERVED = frozenset(
    {"thread_id", "created_at", "updated_at", "state_updated_at", "metadata", "config", "status", "values"}
    | {"interrupts", "ttl", "extracted"}
)
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]")


def parse_path(path: str) -> tuple[str, list[str | int]]:
    root = re.match(r"[^.\[]+", path)
    if root is None or root.group() not in ROOTS:
        raise Invalid(f"Extract path {path!r} must start with one of: {', '.join(sorted(ROOTS))}")
    steps: list[str | int] = []
    position = root.end()
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise Invalid(f"Invalid extract path {path!r} at position {position}")
        steps.append(step.group(1) if step.group(1) is not None else int(step.group(2)))
        position = step.end()
    return root.group(), steps


def check_extract(paths: dict[str, str]) -> None:
    for alias, path in paths.items():
        if not _ALIAS.fullmatch(alias):
            raise Invalid(f"Extract key {alias!r} must be an identifier (letters, digits, underscores)")
        if alias in RESERVED:
            raise Invalid(f"Extract key {alias!r} is a thread field name")
        parse_path(path)


def extract(thread: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    return {alias: _follow(thread, path) for alias, path in paths.items()}


def _follow(thread: dict[str, Any], path: str) -> Any:
    root, steps = parse_path(path)
    current: Any = thread.get(root)
    for step in steps:
        if isinstance(step, int) and isinstance(current, list) and -len(current) <= step < len(current):
            current = current[step]
        elif isinstance(step, str) and isinstance(current, dict):
            current = current.get(step)
        else:
            return None
    return current
