"""sqlite-vec on every connection, through the process's own libsqlite3 - never a second copy.

Each check runs in a fresh interpreter, so that "before registration" really is before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aegra.store import sqlite_vec_loader


def run_fresh(code: str) -> dict[str, Any]:
    """Run `code` in a new interpreter; it prints one JSON object as its last line."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc/self/maps (Linux)")
def test_registers_on_the_library_sqlite3_already_uses() -> None:
    facts = run_fresh(
        """
        import json, sqlite3, asyncio
        from aegra.store import sqlite_vec_loader as loader
        before = loader.mapped_sqlite_libraries()
        status = loader.ensure_sqlite_vec()
        again = loader.ensure_sqlite_vec()
        after = loader.mapped_sqlite_libraries()
        conn = sqlite3.connect(":memory:")
        version = conn.execute("SELECT vec_version()").fetchone()[0]
        conn.execute("CREATE VIRTUAL TABLE v USING vec0(embedding float[2])")
        conn.execute("INSERT INTO v(rowid, embedding) VALUES (1, '[1, 0]'), (2, '[0, 1]')")
        nearest = conn.execute(
            "SELECT rowid FROM v WHERE embedding MATCH '[0.9, 0.1]' AND k = 1"
        ).fetchone()[0]

        async def via_aiosqlite():
            import aiosqlite
            async with aiosqlite.connect(":memory:") as db:
                async with db.execute("SELECT vec_length(vec_f32('[1, 2, 3]'))") as cursor:
                    return (await cursor.fetchone())[0]

        print(json.dumps({
            "mode": status.mode, "library": status.sqlite_library, "same_object": status is again,
            "before": sorted(before), "after": sorted(after), "version": version,
            "status_version": status.vec_version, "nearest": nearest, "aiosqlite": asyncio.run(via_aiosqlite()),
        }))
        """
    )
    assert facts["mode"] == "auto_extension"
    assert facts["same_object"] is True
    # The library we registered with was mapped before we looked, and nothing new got mapped.
    assert len(facts["before"]) == 1 and facts["library"] == facts["before"][0]
    assert facts["after"] == facts["before"]
    assert facts["version"] == facts["status_version"] and facts["version"].startswith("v")
    assert facts["nearest"] == 1
    assert facts["aiosqlite"] == 3


def test_lookup_never_loads_a_library() -> None:
    """RTLD_NOLOAD: asking for a library that is not mapped fails instead of loading it."""
    facts = run_fresh(
        """
        import ctypes, json, os
        import sqlite_vec
        try:
            ctypes.CDLL(sqlite_vec.loadable_path() + ".so", mode=os.RTLD_NOLOAD)
            loaded = True
        except OSError:
            loaded = False
        print(json.dumps({"loaded": loaded}))
        """
    )
    assert facts["loaded"] is False


def test_vec_extension_calls_sqlite_only_through_the_api_table() -> None:
    """sqlite-vec's library imports no sqlite3_* symbol, so it cannot bind to another libsqlite3:
    everything goes through the routines table SQLite hands to `sqlite3_vec_init`."""
    import sqlite_vec

    path = sqlite_vec.loadable_path() + ".so"
    if not os.path.exists(path):
        pytest.skip("not an ELF platform")
    nm = subprocess.run(["nm", "-D", "--undefined-only", path], capture_output=True, text=True)
    if nm.returncode != 0:
        pytest.skip("nm is not available")
    assert not [line for line in nm.stdout.splitlines() if "sqlite3_" in line]


def test_status_in_this_process() -> None:
    status = sqlite_vec_loader.ensure_sqlite_vec()
    assert status.available
    assert sqlite_vec_loader.ensure_sqlite_vec() is status


def test_without_the_package_semantic_search_still_works_on_the_vector_core(tmp_path: Path) -> None:
    facts = run_fresh(
        f"""
        import asyncio, json, sys
        sys.modules["sqlite_vec"] = None  # as if the wheel were missing
        from aegra.store import sqlite_vec_loader as loader
        from aegra.store.sqlite_store import AsyncSqliteStore

        def embed(texts):
            return [[float("apple" in t), float("river" in t), 1.0] for t in texts]

        async def main():
            index = {{"dims": 3, "embed": embed, "fields": ["text"]}}
            async with AsyncSqliteStore.from_path({str(tmp_path / "x.db")!r}, index=index) as store:
                await store.aput(("a",), "apple", {{"text": "apple pie"}})
                await store.aput(("a",), "river", {{"text": "river bank"}})
                found = await store.asearch(("a",), query="river", filter={{"text": {{"$ne": "x"}}}})
                return store.vector_backend, [i.key for i in found]

        status = loader.ensure_sqlite_vec()
        scorer, keys = asyncio.run(main())
        print(json.dumps({{"mode": status.mode, "detail": status.detail, "scorer": scorer, "keys": keys}}))
        """
    )
    assert facts["mode"] == "unavailable"
    assert "sqlite-vec" in facts["detail"]
    assert facts["scorer"] in ("rust", "python"), "the vector core's index needs no sqlite-vec"
    assert facts["keys"] == ["river", "apple"]


def test_unreachable_auto_extension_falls_back_and_says_why() -> None:
    facts = run_fresh(
        """
        import json, sqlite3
        from aegra.store import sqlite_vec_loader as loader

        def static_build():
            raise OSError("sqlite3_auto_extension is not exported (SQLite linked statically?)")

        loader._register_auto_extension = static_build
        status = loader.ensure_sqlite_vec()
        has_vec = True
        try:
            sqlite3.connect(":memory:").execute("SELECT vec_version()")
        except sqlite3.OperationalError:
            has_vec = False
        print(json.dumps({"mode": status.mode, "detail": status.detail, "has_vec": has_vec,
                          "can_load": hasattr(sqlite3.Connection, "enable_load_extension")}))
        """
    )
    assert "linked statically" in facts["detail"]
    assert facts["has_vec"] is False
    assert facts["mode"] == ("load_extension" if facts["can_load"] else "unavailable")
