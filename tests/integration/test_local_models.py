"""aegra.local_models with fastembed for real: a model cached in a temp folder (the tiny model in the
real one's files), a hub on 127.0.0.1 (tests/support/fake_hub.py) or no hub at all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aegra.local_models import ModelUnavailableError, cache_dir, describe, download, is_cached
from aegra.store.embeddings import build_embeddings
from tests.support.fake_hub import fake_hub, repo_files, seed_cache
from tests.support.postgres import free_port
from tests.support.tiny_model import build_onnx_model

MODEL = "BAAI/bge-small-en-v1.5"
REPO = "Qdrant/bge-small-en-v1.5-onnx-Q"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = build_onnx_model(tmp_path_factory.mktemp("model"), dims=384)
    return repo_files(folder, {"model.onnx": "model_optimized.onnx"})


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield


def test_the_cache_folder_is_fastembeds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fastembed.common.utils import define_cache_dir

    monkeypatch.delenv("FASTEMBED_CACHE_PATH", raising=False)
    assert cache_dir() == define_cache_dir()
    monkeypatch.setenv("FASTEMBED_CACHE_PATH", str(tmp_path))
    assert cache_dir() == define_cache_dir() == tmp_path


def test_a_seeded_cache_is_found_without_the_network(tmp_path: Path, files: dict[str, bytes], no_hub: None) -> None:
    assert not is_cached(MODEL, tmp_path)
    seed_cache(tmp_path, REPO, files)
    assert is_cached(MODEL, tmp_path)
    assert not is_cached("nobody/no-such-model", tmp_path)
    assert describe(MODEL).cache_folder == f"models--{REPO.replace('/', '--')}"
    # Cached: the store's embedder loads it with no hub, and embeds.
    embedder = build_embeddings(f"fastembed:{MODEL}", 384, fastembed_options={"cache_dir": str(tmp_path)})
    assert len(embedder.embed_query("the cat")) == 384


def in_a_new_process(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter: huggingface_hub reads HF_ENDPOINT once, when imported."""
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "HF_HUB_OFFLINE": "", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_store_embedder_asks_a_failing_hub_once_and_says_what_to_do(tmp_path: Path) -> None:
    code = f"""
from aegra.store.embeddings import EmbeddingUnavailableError, build_embeddings, in_background
embedder = build_embeddings("fastembed:{MODEL}", 384, fastembed_options={{"cache_dir": {str(tmp_path)!r}}})
try:
    embedder.embed_query("anything")  # a request: fails at once, leaving the download to the background
except EmbeddingUnavailableError as exc:
    print("request:", exc)
try:
    with in_background():  # the store's background embedder: downloads
        embedder.embed_query("anything")
except EmbeddingUnavailableError as exc:
    print(exc)
"""
    with fake_hub("someone/else", {"x": b"y"}) as hub:
        result = in_a_new_process(code, HF_ENDPOINT=hub.url)
        asked = [r for r in hub.requests if r == f"GET /api/models/{REPO}"]
    assert len(asked) == 1, hub.requests  # fastembed alone: three attempts, 39 s of sleeps between them
    assert "FASTEMBED_CACHE_PATH" in result.stdout and "openai:" in result.stdout, result
    assert "request: the embedding model" in result.stdout and "is not downloaded yet" in result.stdout, result


def test_with_no_hub_the_download_fails_before_any_request(tmp_path: Path, no_hub: None) -> None:
    with pytest.raises(ModelUnavailableError, match=r"cannot connect to http://127\.0\.0\.1"):
        download(MODEL, tmp_path)
    assert not any(tmp_path.iterdir()), "nothing was written"


def test_a_download_from_a_hub_fills_the_cache(tmp_path: Path, files: dict[str, bytes]) -> None:
    code = f"from aegra.local_models import download; print(download({MODEL!r}, {str(tmp_path)!r}))"
    with fake_hub(REPO, files) as hub:
        result = in_a_new_process(code, HF_ENDPOINT=hub.url)
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert (folder / "model_optimized.onnx").read_bytes() == files["model_optimized.onnx"]
    assert is_cached(MODEL, tmp_path)
