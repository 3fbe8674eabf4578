"""The Rust boundary: the stub types what the extension exports, panics and threads are safe,
and `AEGRA_VEC=python` selects the numpy twin."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from aegra import vec
from aegra.vec._backend import native
from tests.support.vector_memory import MemoryIndex

RNG = np.random.default_rng(11)
needs_rust = pytest.mark.skipif(native is None, reason="the Rust extension is not built")


@needs_rust
def test_the_stub_types_exactly_what_the_extension_exports() -> None:
    """mypy's stubtest: every name, signature and class trait of `_vec.pyi` against the built module."""
    out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "aegra._vec"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_aegra_vec_python_selects_the_numpy_twin() -> None:
    code = "from aegra import vec; print(vec.backend(), vec.build_info()['backend'], vec.VectorIndex(2).backend)"
    env = {**os.environ, "AEGRA_VEC": "python"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["python", "python", "python"]


@needs_rust
def test_a_panic_becomes_a_python_error_and_the_process_lives_on() -> None:
    with pytest.raises(RuntimeError, match=r"aegra._vec internal error \(panic\): boom"):
        native._panic_for_tests("boom")
    index = MemoryIndex(2, backend="rust")
    index.upsert(1, ("a",), [1, 0])
    assert index.search([1, 0], 1) == [(1, 1.0)]


@needs_rust
def test_threads_can_search_and_write_one_index_at_once() -> None:
    index = vec.VectorIndex(64, backend="rust")
    index.upsert_many(np.arange(2000), [("t", str(i % 4)) for i in range(2000)], RNG.normal(size=(2000, 64)))
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(200):
                assert len(index.candidates(np.ones(64), 5, ("t",))[0]) >= 5
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        try:
            for i in range(200):
                index.upsert(5000 + i, ("t", "0"), np.ones(64))
                index.delete(5000 + i - 1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)] + [threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(index) == 2001
