"""Which implementation serves `aegra.vec`: the Rust extension `aegra._vec`, or the numpy twin.

Both expose the same low-level functions and `VectorIndex` class (typed in `aegra/_vec.pyi`); the
public modules of `aegra.vec` convert inputs once and call `current()`. `using()` switches the
implementation for a block of code, so tests and benchmarks can run both in one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Literal

BackendName = Literal["rust", "python"]


def _load_native() -> tuple[ModuleType | None, str]:
    """Import the extension unless told not to; the reason is kept for the log and /info."""
    if os.environ.get("AEGRA_VEC", "").strip().lower() == "python":
        return None, "AEGRA_VEC=python"
    try:
        from aegra import _vec
    except ImportError as exc:
        return None, f"aegra._vec is not importable ({exc})"
    return _vec, ""


native, fallback_reason = _load_native()

from aegra.vec import _python  # noqa: E402  (after the native import: `_python` is the fallback)

_current: ModuleType = native if native is not None else _python


def current() -> ModuleType:
    return _current


def name_of(implementation: ModuleType) -> BackendName:
    return "python" if implementation is _python else "rust"


def implementation(name: BackendName) -> ModuleType:
    """The module behind `name`; asking for `rust` without the extension is an error."""
    if name == "python":
        return _python
    if native is None:
        raise RuntimeError(f"the Rust vector core is not available: {fallback_reason}")
    return native


@contextmanager
def using(name: BackendName) -> Iterator[None]:
    """Serve `aegra.vec` from `name` inside the block (tests and benchmarks; not thread-safe)."""
    global _current
    previous, _current = _current, implementation(name)
    try:
        yield
    finally:
        _current = previous


def available() -> list[BackendName]:
    """The implementations this process can run (`python` always)."""
    return ["rust", "python"] if native is not None else ["python"]
