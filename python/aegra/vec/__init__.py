"""The one vector API the store calls.

Behind it sits the Rust extension `aegra._vec` (crates/aegra-vec) when it is importable,
and a pure-Python (numpy) implementation otherwise, or when `AEGRA_VEC=python` asks
for it. Both must return the same results; callers never import `aegra._vec` directly.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

from aegra import __version__

logger = logging.getLogger(__name__)


def _load_native() -> tuple[ModuleType | None, str]:
    """Import the extension unless told not to; the reason is kept for the log and /info."""
    if os.environ.get("AEGRA_VEC", "").strip().lower() == "python":
        return None, "AEGRA_VEC=python"
    try:
        from aegra import _vec
    except ImportError as exc:
        return None, f"aegra._vec is not importable ({exc})"
    return _vec, ""


_native, _fallback_reason = _load_native()
_announced = False


def backend() -> str:
    """`rust` or `python`: which implementation serves the vector API in this process."""
    return "rust" if _native is not None else "python"


def announce() -> None:
    """Log, once per process, which implementation runs; called at server start."""
    global _announced
    if _announced:
        return
    _announced = True
    if _native is None:
        logger.warning("vector core: running on the pure-Python path (%s)", _fallback_reason)
    else:
        logger.info("vector core: %s", _native.build_info()["description"])


def build_info() -> dict[str, Any]:
    """What /info reports about the vector core."""
    if _native is None:
        return {"backend": "python", "version": __version__, "reason": _fallback_reason}
    return {"backend": "rust", **_native.build_info()}
