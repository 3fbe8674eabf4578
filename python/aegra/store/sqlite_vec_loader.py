"""Make sqlite-vec (`vec0`, `vec_*` functions) available on this process's SQLite connections.

Why not `sqlite_vec.load(conn)`: it needs `Connection.enable_load_extension`, which many Python
builds leave out (this machine's pyenv CPython, macOS system Python). Why not `ctypes.CDLL("libsqlite3")`
of some copy found on disk: a second copy of the SQLite library in one process, touching the same
file, breaks POSIX advisory locking and can corrupt the database
(https://www.sqlite.org/howtocorrupt.html section 2.2.1).

The mechanism used here (`auto_extension` mode):

1. Import `_sqlite3` (the C half of the `sqlite3` module) and ask the dynamic loader for a handle to
   that already-mapped shared object with `RTLD_NOLOAD` - it fails rather than load anything new.
2. Look `sqlite3_auto_extension` up through that handle. The loader resolves it in the object itself
   or in its dependencies, i.e. in the very libsqlite3 that `_sqlite3` calls into. `dladdr` tells which
   file the symbol lives in; on Linux we also check that this file was already mapped before we
   looked (via /proc/self/maps), so no new copy of SQLite has entered the process.
3. `dlopen` sqlite-vec's loadable library from the `sqlite_vec` wheel (`sqlite_vec.loadable_path()`).
   That library has no undefined `sqlite3_*` symbols: every SQLite call goes through the
   `sqlite3_api_routines` table SQLite passes to its entry point (SQLITE_EXTENSION_INIT2). Via
   `sqlite3_auto_extension`, SQLite calls `sqlite3_vec_init(db, &err, &sqlite3Apis)` for every new
   connection, handing over the routines of the process's own library - so vec0 runs on that copy.
   A library built with SQLITE_OMIT_LOAD_EXTENSION passes a NULL table instead; we check
   `PRAGMA compile_options` for that and refuse, since sqlite-vec would then crash.
4. Register `sqlite3_vec_init` once per process, then prove it on a fresh `sqlite3` connection
   (`SELECT vec_version()`).

Fallbacks, decided once per process and logged once:
- `load_extension`: `sqlite3_auto_extension` is not reachable (CPython linked SQLite statically and
  does not export it) but `enable_load_extension` exists: call `prepare_connection()` on each
  connection, which runs `sqlite_vec.load`.
- `unavailable`: neither works. Semantic search then scores vectors in numpy (see `knn.py`); the
  store itself, keyword and filter search keep working.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sqlite3
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

VecMode = Literal["auto_extension", "load_extension", "unavailable"]


@dataclass(frozen=True, slots=True)
class VecStatus:
    """How sqlite-vec reaches connections in this process, and why."""

    mode: VecMode
    detail: str
    sqlite_library: str | None = None  # file the process's SQLite symbols come from
    vec_version: str | None = None

    @property
    def available(self) -> bool:
        return self.mode != "unavailable"


_lock = threading.Lock()
_status: VecStatus | None = None
_vec_library: ctypes.CDLL | None = None  # kept for the life of the process: SQLite calls into it


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _libdl() -> ctypes.CDLL:
    # dladdr lives in libc on glibc >= 2.34 and macOS, in libdl before that.
    name = ctypes.util.find_library("dl") or ctypes.util.find_library("c")
    return ctypes.CDLL(name)


def _file_of_address(address: int) -> str | None:
    """The shared object holding `address` (dladdr); None where that cannot be asked (Windows)."""
    info = _DlInfo()
    try:
        lib = _libdl()
        lib.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        lib.dladdr.restype = ctypes.c_int
    except (OSError, AttributeError, TypeError):
        return None
    if not lib.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.path.realpath(info.dli_fname.decode())


def mapped_sqlite_libraries() -> set[str]:
    """Files named like a SQLite library that are mapped into this process (Linux only; else empty)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return set()
    found = set()
    for line in maps.read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and "libsqlite3" in Path(parts[5]).name:
            found.add(os.path.realpath(parts[5]))
    return found


def _sqlite3_module_handle() -> ctypes.CDLL:
    import _sqlite3  # the C extension; importing it maps the library it is linked against

    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LOCAL", 0)
    return ctypes.CDLL(_sqlite3.__file__, mode=mode)


def _load_extension_omitted() -> bool:
    with sqlite3.connect(":memory:") as conn:
        options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    return "OMIT_LOAD_EXTENSION" in options


def _probe_vec_version() -> str:
    conn = sqlite3.connect(":memory:")
    try:
        return str(conn.execute("SELECT vec_version()").fetchone()[0])
    finally:
        conn.close()


def _register_auto_extension() -> VecStatus:
    import sqlite_vec

    before = mapped_sqlite_libraries()
    handle = _sqlite3_module_handle()
    try:
        auto_extension = handle.sqlite3_auto_extension
    except AttributeError as exc:
        raise OSError("sqlite3_auto_extension is not exported (SQLite linked statically?)") from exc
    address = ctypes.cast(auto_extension, ctypes.c_void_p).value or 0
    library = _file_of_address(address)
    if before and library not in before:
        raise OSError(f"sqlite3_auto_extension resolved to {library}, not to a library mapped before")
    if _load_extension_omitted():
        raise OSError("the process's SQLite was built with SQLITE_OMIT_LOAD_EXTENSION")

    global _vec_library
    _vec_library = ctypes.CDLL(str(Path(sqlite_vec.loadable_path()).with_suffix(_suffix())))
    entry_point = ctypes.cast(_vec_library.sqlite3_vec_init, ctypes.c_void_p)
    auto_extension.argtypes = [ctypes.c_void_p]
    auto_extension.restype = ctypes.c_int
    rc = auto_extension(entry_point)
    if rc != 0:
        raise OSError(f"sqlite3_auto_extension returned {rc}")
    after = mapped_sqlite_libraries()
    if after != before:
        raise OSError(f"a new SQLite library was mapped: {sorted(after - before)}")
    version = _probe_vec_version()
    return VecStatus(
        mode="auto_extension",
        detail=f"sqlite3_vec_init registered with sqlite3_auto_extension of {library or 'the process'}",
        sqlite_library=library,
        vec_version=version,
    )


def _suffix() -> str:
    if sys.platform == "darwin":
        return ".dylib"
    if sys.platform == "win32":
        return ".dll"
    return ".so"


def _decide() -> VecStatus:
    try:
        import sqlite_vec  # noqa: F401
    except ImportError as exc:
        return VecStatus(mode="unavailable", detail=f"the sqlite-vec package is not importable ({exc})")
    try:
        return _register_auto_extension()
    except Exception as exc:  # any failure of the fast path means: use a fallback, and say why
        reason = f"{type(exc).__name__}: {exc}"
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return VecStatus(
            mode="load_extension",
            detail=f"auto_extension unavailable ({reason}); loading per connection with sqlite_vec.load",
        )
    return VecStatus(
        mode="unavailable",
        detail=f"auto_extension unavailable ({reason}) and this Python's sqlite3 has no "
        "enable_load_extension; vectors are scored in numpy instead",
    )


def ensure_sqlite_vec() -> VecStatus:
    """Decide (once per process) how sqlite-vec reaches connections; register it if possible."""
    global _status
    with _lock:
        if _status is None:
            _status = _decide()
            log = logger.info if _status.mode == "auto_extension" else logger.warning
            log("sqlite-vec: %s (%s)", _status.mode, _status.detail)
        return _status


async def prepare_connection(conn: Any) -> bool:
    """Give one aiosqlite connection sqlite-vec; True when `vec_*` functions are usable on it."""
    status = ensure_sqlite_vec()
    if status.mode == "auto_extension":
        return True
    if status.mode == "load_extension":
        import sqlite_vec

        await conn.enable_load_extension(True)
        try:
            await conn.load_extension(sqlite_vec.loadable_path())
        except sqlite3.Error as exc:
            logger.warning("sqlite-vec: load_extension failed on a connection (%s)", exc)
            return False
        finally:
            await conn.enable_load_extension(False)
        return True
    return False
